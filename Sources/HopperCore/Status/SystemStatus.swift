// SystemStatus — `system/status.json`, the daemon's heartbeat (SPEC §6).
//
// The CLI reads it to tell "no daemon is running" from "the daemon is busy": a heartbeat older
// than three intervals means the daemon is gone (it works from any host that mounts the spool).

public struct SystemStatus: Codable, Sendable, Equatable {
    public struct Inbox: Codable, Sendable, Equatable {
        public var path: String
        public var queue: String?
        /// `inotify` or `poll`
        public var mode: String
        public init(path: String, queue: String?, mode: String) { self.path = path; self.queue = queue; self.mode = mode }
    }

    public struct Intake: Codable, Sendable, Equatable {
        public var paused: Bool
        public var reason: String?
        public var accepted: Int
        public var rejected: Int
        public init(paused: Bool = false, reason: String? = nil, accepted: Int = 0, rejected: Int = 0) {
            self.paused = paused; self.reason = reason; self.accepted = accepted; self.rejected = rejected
        }
    }

    /// Free space where jobs write (statvfs, as an unprivileged user sees it).
    public struct Disk: Codable, Sendable, Equatable {
        /// `outbox` or `workspaces`
        public var role: String
        public var path: String
        public var freeBytes: Int64
        public var totalBytes: Int64
        public init(role: String, path: String, freeBytes: Int64, totalBytes: Int64) {
            self.role = role; self.path = path; self.freeBytes = freeBytes; self.totalBytes = totalBytes
        }
        enum CodingKeys: String, CodingKey {
            case role, path, freeBytes = "free_bytes", totalBytes = "total_bytes"
        }
    }

    public var version: String
    public var pid: Int32
    public var host: String
    public var startedAt: String
    public var heartbeatAt: String
    public var intervalSeconds: Double
    public var state: String
    public var spool: String
    public var stateDirectory: String
    public var inboxes: [Inbox]
    public var intake: Intake
    /// Jobs by state, from the store.
    public var jobs: [String: Int]
    /// Free space of the outbox and workspaces; intake pauses below `minFreeBytes`.
    public var disk: [Disk]?
    public var minFreeBytes: Int64?
    /// The daemon's store (`state/hopper.sqlite`): ok, or why not and since when. While it
    /// fails intake is paused (`intake.paused`) and every dropped file stays where it is.
    public var store: Store?

    /// The settings the daemon runs with, so the CLI uses the same ones (`hopper validate`,
    /// `submit`, `workflows` read them when no --config is given). Nil: none (or an older daemon).
    public var config: String?
    /// The workflow directory; nil: the daemon has none and takes only inline `steps:`.
    public var workflows: String?
    /// The Snakemake the daemon runs; nil: none was found, and Snakemake steps fail.
    public var snakemake: String?
    /// Things in the inbox that the daemon cannot take and cannot move away (a folder that is
    /// not a queue, folders nested too deep): what and what to do. Empty when none.
    public var problems: [Problem]?
    /// The owners who started a job since the daemon started, the least recent start first:
    /// whose turn comes first among pending jobs of one priority (StartOrder). Nil: an older daemon.
    public var ownerTurns: [String]?

    public struct Problem: Codable, Sendable, Equatable {
        public var path: String
        public var message: String
        public init(path: String, message: String) { self.path = path; self.message = message }
    }

    public struct Store: Codable, Sendable, Equatable {
        public var ok: Bool
        public var path: String
        public var error: String?
        public var since: String?
        public init(ok: Bool, path: String, error: String? = nil, since: String? = nil) {
            self.ok = ok; self.path = path; self.error = error; self.since = since
        }
    }

    public init(version: String = HopperVersion.current, pid: Int32, host: String, startedAt: String, heartbeatAt: String,
                intervalSeconds: Double, state: String, spool: String, stateDirectory: String,
                inboxes: [Inbox], intake: Intake, jobs: [String: Int]) {
        self.version = version; self.pid = pid; self.host = host; self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt; self.intervalSeconds = intervalSeconds; self.state = state
        self.spool = spool; self.stateDirectory = stateDirectory; self.inboxes = inboxes
        self.intake = intake; self.jobs = jobs
    }

    enum CodingKeys: String, CodingKey {
        case version, pid, host, startedAt = "started_at", heartbeatAt = "heartbeat_at"
        case intervalSeconds = "interval_seconds", state, spool, stateDirectory = "state_directory"
        case inboxes, intake, jobs, disk, minFreeBytes = "min_free_bytes", store
        case config, workflows, snakemake, problems, ownerTurns = "owner_turns"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(pid, forKey: .pid)
        try c.encode(host, forKey: .host)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(heartbeatAt, forKey: .heartbeatAt)
        try c.encode(intervalSeconds, forKey: .intervalSeconds)
        try c.encode(state, forKey: .state)
        try c.encode(spool, forKey: .spool)
        try c.encode(stateDirectory, forKey: .stateDirectory)
        // Always present, null when none: a script can tell "no workflows" from "old daemon".
        try c.encode(config, forKey: .config)
        try c.encode(workflows, forKey: .workflows)
        try c.encode(snakemake, forKey: .snakemake)
        try c.encode(inboxes, forKey: .inboxes)
        try c.encode(intake, forKey: .intake)
        try c.encode(jobs, forKey: .jobs)
        try c.encodeIfPresent(disk, forKey: .disk)
        try c.encodeIfPresent(minFreeBytes, forKey: .minFreeBytes)
        try c.encodeIfPresent(store, forKey: .store)
        try c.encode(problems ?? [], forKey: .problems)
        try c.encodeIfPresent(ownerTurns, forKey: .ownerTurns)
    }

    /// How long without a heartbeat means no daemon runs: three intervals.
    public var staleAfter: Double { 3 * intervalSeconds }

    /// Seconds since the last heartbeat at `now` (nil if the time cannot be read).
    public func age(now: Double = Timestamp.now()) -> Double? {
        Timestamp.parse(heartbeatAt).map { now - $0 }
    }

    /// Whether this heartbeat says a daemon is alive at `now`: state `running` and written
    /// within the last three intervals (`staleAfter`).
    public func isAlive(now: Double = Timestamp.now()) -> Bool {
        guard state == "running", let age = age(now: now) else { return false }
        return age < staleAfter
    }
}
