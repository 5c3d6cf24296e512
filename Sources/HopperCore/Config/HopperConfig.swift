// HopperConfig — the daemon's configuration file (SPEC §6), e.g. /etc/hopper/config.yaml.
//
// CONFIGURATION. Every key is optional; all of them, with type, default and meaning, are in
// one table: `HopperConfig.keyTable` (ConfigKeys.swift), which docs/daemon.md shows.
//
// Relative paths are resolved against the directory holding the config file. Unknown keys
// are errors, reported with line and column like manifest errors.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public struct HopperConfig: Sendable, Equatable {
    /// `spool:` root of the layout in SPEC §1. Nil: `--spool`, `$HOPPER_SPOOL` or the built-in default decide.
    public var spool: String?
    /// `state:` the daemon's database directory; nil means `<spool>/state`. Must be local disk.
    public var state: String?
    /// `workflows:` the workflow directory; nil means `Workflows/` beside the spool root.
    public var workflows: String?
    /// `workspaces:` where run workspaces go; nil means `<spool>/runs`.
    public var workspaces: String?
    /// `run_as:` `service` runs every job as the daemon's user; `owner` (as root) as the manifest file's owner.
    public var runAs: RunAsPolicy = .service
    /// `admin_group:` members may act on any job; nil means only root.
    public var adminGroup: String?
    /// `max_running:` jobs running at once in all queues. Default: the number of online cores.
    public var maxRunning: Int = HopperConfig.onlineCores
    /// `per_owner_running:` jobs one owner may run at once; 0 means no cap.
    public var perOwnerRunning: Int = 0
    /// `poll_interval:` how often inboxes that inotify cannot see are scanned.
    public var pollInterval = DurationValue(seconds: 2, text: "2s")
    /// `settle:` a scanned file counts as complete once its size and mtime hold this long.
    public var settle = DurationValue(seconds: 1, text: "1s")
    /// `rescan_interval:` the slow safety rescan of inboxes that inotify watches.
    public var rescanInterval = DurationValue(seconds: 60, text: "60s")
    /// `watch:` `auto` uses inotify except on network and FUSE filesystems; `inotify`/`poll` force one.
    public var watch: WatchMode = .auto
    /// `max_manifest_size:` larger manifests are rejected without being parsed.
    public var maxManifestSize = ByteSize.mib(1)
    /// `executor:` for jobs and queues that do not choose.
    public var executor: ExecutorKind = .local
    /// `mail_command:` a sendmail-compatible command that reads a message with headers on stdin.
    public var mailCommand = "/usr/sbin/sendmail -t"
    /// `min_free_space:` intake pauses while the outbox or workspaces have less free space.
    public var minFreeSpace = ByteSize.gib(1)
    /// `notify_timeout:` a mail or notify command still running after this is killed.
    public var notifyTimeout = DurationValue(seconds: 30, text: "30s")
    /// `retention:` what is removed how long after a job ends.
    public var retention = Retention()
    /// `allow_users:` when not empty, only these users' manifests are accepted.
    public var allowUsers: [String] = []
    /// `deny_users:` these users' manifests are rejected.
    public var denyUsers: [String] = []
    /// `min_uid:` with `run_as: owner`, manifests owned by accounts below this uid (root, system
    /// accounts) are rejected unless `allow_users` names them.
    public var minUID: Int = 1000
    /// `job_mode:` with `run_as: owner`, the mode of each job's outbox folder and workspace
    /// (they belong to the job's owner): `0700`, or e.g. `0750` with `job_group`.
    public var jobMode: mode_t = 0o700
    /// `job_group:` with `run_as: owner`, the group of each job's folders (default: the owner's
    /// primary group), for sharing results with a project group.
    public var jobGroup: String?
    /// `pages:` whether the daemon keeps the static pages (docs/pages.md) up to date.
    public var pages: PagesMode = .on
    /// `max_steps:` a job (inline or through its workflow) with more steps is rejected.
    public var maxSteps: Int = 100
    /// `max_group_size:` a group (`foreach:`) with more rows is rejected.
    public var maxGroupSize: Int = 10_000
    /// `submit_id:` the job id `hopper submit` gives when `--id` is not given.
    public var submitID: SubmitIDPolicy = .stem
    /// `max_result_size:` the outputs one step may publish, in bytes; nil: no cap.
    public var maxResultSize: ByteSize?
    /// `max_log_size:` a step's log is cut at this size (the rest is counted and dropped).
    public var maxLogSize = ByteSize.mib(100)
    /// `kill_grace:` on cancel or timeout, SIGTERM to the step's process group, then SIGKILL after this.
    public var killGrace = DurationValue(seconds: 10, text: "10s")
    /// `lease_timeout:` the spool lease (`system/daemon.lease`) of a daemon on another host that
    /// has not been renewed this long is taken over by a daemon starting on the spool.
    public var leaseTimeout = DurationValue(seconds: 60, text: "60s")
    /// `snakemake:` the Snakemake executable for `snakemake:` steps. Default: `$HOPPER_SNAKEMAKE`,
    /// then `snakemake` on PATH, then the venv `scripts/setup-snakemake` makes beside Workflows/.
    public var snakemake: String?
    /// `log_level:` the lowest level logged.
    public var logLevel: LogLevel = .info
    /// `queues:` `inbox/<name>/` sub-folders and their defaults, in file order.
    public var queues: [QueueConfig] = []
    /// `slurm:` the SLURM executor's settings (SlurmConfig.swift).
    public var slurm = SlurmConfig()

    public init() {}

    /// Every default.
    public static let `default` = HopperConfig()

    public func queue(named name: String) -> QueueConfig? {
        queues.first { $0.name == name }
    }

    // MARK: - Derived paths

    public func stateDirectory(spool: String) -> String { state ?? HopperConfig.join(spool, "state") }
    public func workspacesDirectory(spool: String) -> String { workspaces ?? HopperConfig.join(spool, "runs") }
    public func workflowsDirectory(spool: String) -> String {
        if let workflows { return workflows }
        return HopperConfig.join(HopperConfig.parent(of: spool), "Workflows")
    }

    static var onlineCores: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    static func join(_ a: String, _ b: String) -> String {
        a.hasSuffix("/") ? a + b : a + "/" + b
    }

    static func parent(of path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }
}

public enum RunAsPolicy: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case service, owner
}

/// `retention: {workspaces: 7d, outbox: never, interval: 1h}`
public struct Retention: Sendable, Equatable {
    /// A finished job's workspace is removed this long after it ended; nil keeps it.
    public var workspaces: DurationValue? = DurationValue(seconds: 7 * 86400, text: "7d")
    /// A finished job's outbox entry (status, logs, results) is removed this long after it ended; nil keeps it.
    public var outbox: DurationValue? = nil
    /// How often the daemon looks for expired jobs.
    public var interval = DurationValue(seconds: 3600, text: "1h")
    public init() {}
}

/// `submit_id:` `stem` (the file's name without .yaml; a taken one is refused) or `auto` (the
/// stem, made unique with -2, -3, …).
public enum SubmitIDPolicy: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case stem, auto
}

public enum WatchMode: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case auto, inotify, poll
}

/// `pages:` `on` keeps the static pages up to date, `off` writes none.
public enum PagesMode: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case on, off
}

public enum LogLevel: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case debug, info, notice, warning, error
}

/// `queues: {sequencer1: {workflow: demux, executor: slurm, max_running: 1}}` — the defaults
/// for manifests dropped into `inbox/<name>/`.
public struct QueueConfig: Sendable, Equatable, Hashable, Codable {
    /// The queue's name and inbox sub-folder (Names.isValid).
    public var name: String
    /// Workflow for manifests that name none.
    public var workflow: String?
    public var executor: ExecutorKind?
    /// Jobs of this queue running at once; nil: only the global limit.
    public var maxRunning: Int?
    /// Priority for manifests that set none.
    public var priority: Int?
    public var partition: String?
    public var account: String?
    public var qos: String?

    enum CodingKeys: String, CodingKey {
        case name, workflow, executor, priority, partition, account, qos
        case maxRunning = "max_running"
    }

    public init(name: String, workflow: String? = nil, executor: ExecutorKind? = nil, maxRunning: Int? = nil,
                priority: Int? = nil, partition: String? = nil, account: String? = nil, qos: String? = nil) {
        self.name = name
        self.workflow = workflow
        self.executor = executor
        self.maxRunning = maxRunning
        self.priority = priority
        self.partition = partition
        self.account = account
        self.qos = qos
    }
}

// MARK: - Reading

extension HopperConfig {
    /// Largest config file read.
    public static let maxFileSize = 1 << 20

    static let keys = keyTable.filter(\.isTopLevel).map(\.name)

    /// Reads and checks a config file; relative paths are resolved against its directory.
    public static func load(path: String) throws(ManifestError) -> HopperConfig {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path, maxBytes: maxFileSize)
        } catch {
            throw ManifestError(file: path, reason: "cannot read config", diagnostics: [Diagnostic(message: error.message)])
        }
        var directory = parent(of: path)
        if !directory.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                directory = directory == "." ? cwd : join(cwd, directory)
            }
        }
        return try parse(bytes: bytes, fileName: path, baseDirectory: directory)
    }

    /// Checks config text. An empty file (or comments only) means every default.
    /// `baseDirectory` resolves relative paths; nil leaves them as written.
    public static func parse(bytes: [UInt8], fileName: String, baseDirectory: String? = nil) throws(ManifestError) -> HopperConfig {
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(bytes)
        } catch {
            if error.isEmptyInput { return HopperConfig() }
            throw ManifestError(file: fileName, reason: "invalid config", diagnostics: error.diagnostics)
        }
        if root.isNull { return HopperConfig() }
        var c = Checker()
        let config = decode(root, baseDirectory: baseDirectory, &c)
        guard c.diagnostics.isEmpty else {
            throw ManifestError(file: fileName, reason: "invalid config", diagnostics: c.sortedDiagnostics)
        }
        return config
    }

    static func decode(_ root: YAMLNode, baseDirectory: String?, _ c: inout Checker) -> HopperConfig {
        var config = HopperConfig()
        guard let pairs = c.mapping(root, "") else { return config }
        func path(_ node: YAMLNode, _ p: String, _ c: inout Checker) -> String? {
            guard let text = c.line(node, p) else { return nil }
            guard let baseDirectory, !text.hasPrefix("/") else { return text }
            return join(baseDirectory, text.hasPrefix("./") ? String(text.dropFirst(2)) : text)
        }
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            switch k {
            case "spool": config.spool = path(value, k, &c)
            case "state": config.state = path(value, k, &c)
            case "workflows": config.workflows = path(value, k, &c)
            case "workspaces": config.workspaces = path(value, k, &c)
            case "run_as": config.runAs = c.choice(value, k, RunAsPolicy.self) ?? config.runAs
            case "admin_group": config.adminGroup = c.line(value, k)
            case "max_running": config.maxRunning = c.int(value, k, min: 1, max: 100_000) ?? config.maxRunning
            case "per_owner_running": config.perOwnerRunning = c.int(value, k, min: 0, max: 100_000) ?? 0
            case "poll_interval": config.pollInterval = c.duration(value, k) ?? config.pollInterval
            case "settle": config.settle = c.duration(value, k, allowZero: true) ?? config.settle
            case "rescan_interval": config.rescanInterval = c.duration(value, k) ?? config.rescanInterval
            case "watch": config.watch = c.choice(value, k, WatchMode.self) ?? config.watch
            case "max_manifest_size": config.maxManifestSize = c.size(value, k) ?? config.maxManifestSize
            case "executor": config.executor = c.choice(value, k, ExecutorKind.self) ?? config.executor
            case "mail_command": config.mailCommand = c.line(value, k) ?? config.mailCommand
            case "min_free_space": config.minFreeSpace = c.size(value, k, allowZero: true) ?? config.minFreeSpace
            case "max_log_size": config.maxLogSize = c.size(value, k) ?? config.maxLogSize
            case "kill_grace": config.killGrace = c.duration(value, k, allowZero: true) ?? config.killGrace
            case "lease_timeout": config.leaseTimeout = c.duration(value, k) ?? config.leaseTimeout
            case "snakemake": config.snakemake = path(value, k, &c)
            case "submit_id": config.submitID = c.choice(value, k, SubmitIDPolicy.self) ?? config.submitID
            case "log_level": config.logLevel = c.choice(value, k, LogLevel.self) ?? config.logLevel
            case "queues": config.queues = decodeQueues(value, k, &c)
            case "slurm": config.slurm = SlurmConfig.decode(value, k, &c, resolve: path)
            case "notify_timeout": config.notifyTimeout = c.duration(value, k) ?? config.notifyTimeout
            case "allow_users": config.allowUsers = c.list(value, k, allowSingle: true) { c, n, p in c.line(n, p) } ?? []
            case "deny_users": config.denyUsers = c.list(value, k, allowSingle: true) { c, n, p in c.line(n, p) } ?? []
            case "min_uid": config.minUID = c.int(value, k, min: 0, max: 1 << 31) ?? config.minUID
            case "job_mode":
                if let text = c.line(value, k) {
                    if let m = mode_t(text, radix: 8), m <= 0o777, m & 0o700 == 0o700 { config.jobMode = m } else {
                        c.error(value, k, "expected a folder mode such as 0700 or 0750 that gives the owner rwx; got \(quoted(text))")
                    }
                }
            case "job_group": config.jobGroup = c.line(value, k)
            case "pages": config.pages = c.choice(value, k, PagesMode.self) ?? config.pages
            case "max_steps": config.maxSteps = c.int(value, k, min: 1, max: 10_000) ?? config.maxSteps
            case "max_group_size": config.maxGroupSize = c.int(value, k, min: 1, max: 1_000_000) ?? config.maxGroupSize
            case "max_result_size": config.maxResultSize = c.size(value, k)
            case "retention": config.retention = decodeRetention(value, k, &c) ?? config.retention
            default: c.unknownKey(key, "", valid: keys)
            }
        }
        return config
    }

    static func decodeRetention(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> Retention? {
        guard let pairs = c.mapping(node, path) else { return nil }
        var r = Retention()
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            // `never` (or null) keeps forever.
            let never = value.isNull || value.scalar == "never"
            switch k {
            case "workspaces": r.workspaces = never ? nil : c.duration(value, p)
            case "outbox": r.outbox = never ? nil : c.duration(value, p)
            case "interval": r.interval = c.duration(value, p) ?? r.interval
            default: c.unknownKey(key, path, valid: ["workspaces", "outbox", "interval"])
            }
        }
        return r
    }

    static func decodeQueues(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> [QueueConfig] {
        guard let pairs = c.mapping(node, path) else { return [] }
        var queues: [QueueConfig] = []
        for (key, value) in pairs {
            let name = key.scalar ?? ""
            let p = Checker.join(path, name)
            guard Names.isValid(name) else {
                c.error(key, path, "queue name \(quoted(name)) is not valid: it must match \(Names.idRule)")
                continue
            }
            var queue = QueueConfig(name: name)
            if value.isNull { queues.append(queue); continue }     // `fast:` with no settings
            guard let fields = c.mapping(value, p) else { continue }
            for (fkey, fvalue) in fields {
                let k = fkey.scalar ?? ""
                let fp = Checker.join(p, k)
                switch k {
                case "workflow":
                    guard let w = c.line(fvalue, fp) else { continue }
                    if Names.isValid(w) { queue.workflow = w } else { c.error(fvalue, fp, "workflow name \(quoted(w)) is not valid") }
                case "executor": queue.executor = c.choice(fvalue, fp, ExecutorKind.self)
                case "max_running": queue.maxRunning = c.int(fvalue, fp, min: 1, max: 100_000)
                case "priority": queue.priority = c.int(fvalue, fp, min: -1000, max: 1000)
                case "partition": queue.partition = c.line(fvalue, fp)
                case "account": queue.account = c.line(fvalue, fp)
                case "qos": queue.qos = c.line(fvalue, fp)
                default:
                    c.unknownKey(fkey, p, valid: ["workflow", "executor", "max_running", "priority", "partition", "account", "qos"])
                }
            }
            queues.append(queue)
        }
        return queues
    }
}
