// SpoolOptions — how every command finds the spool: --spool, then $HOPPER_SPOOL, then the
// config's `spool:`, then ./spool when it holds an inbox.
//
// One configuration: with no --config and no $HOPPER_CONFIG, a command uses the settings the
// daemon on the spool records in its heartbeat (`system/status.json`: `config`, `workflows`),
// so that `validate`, `submit` and the daemon judge a manifest alike.
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

struct SpoolOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The spool directory (default: $HOPPER_SPOOL, then the config's `spool:`).", valueName: "dir"), completion: .directory)
    var spool: String?

    @Option(name: .long, help: ArgumentHelp("The config file (default: $HOPPER_CONFIG, then the one the spool's daemon runs with, then /etc/hopper/config.yaml if it exists).", valueName: "file"),
            completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    struct Resolved {
        var layout: SpoolLayout
        var config: HopperConfig
        var configPath: String?
        var workflows: String?
        /// The settings came from the daemon's heartbeat (no --config, no $HOPPER_CONFIG).
        var fromDaemon = false
        /// Why the daemon's settings could be used only in part (for `submit` and `validate`).
        var warning: String? = nil
    }

    /// A set, non-empty environment variable.
    static func env(_ name: String) -> String? {
        ProcessEnvironment.value(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The config named by --config or $HOPPER_CONFIG, if any.
    var explicitConfig: String? { config ?? Self.env("HOPPER_CONFIG") }

    func loadConfig() throws -> (HopperConfig, String?) {
        var path = explicitConfig
        if path == nil && spool == nil && Self.env("HOPPER_SPOOL") == nil && FileOps.exists("/etc/hopper/config.yaml") {
            path = "/etc/hopper/config.yaml"
        }
        guard let path else { return (HopperConfig.default, nil) }
        guard FileOps.exists(path) else { throw CLIError("config file \(path) does not exist") }
        do {
            return (try HopperConfig.load(path: path), path)
        } catch {
            throw CLIError("invalid config:\n" + error.formatted)
        }
    }

    /// Finds the spool. With `mustExist`, a missing spool is a one-line error. With
    /// `daemonSettings` (all but `hopper daemon` itself), the daemon's recorded config and
    /// workflow directory are used when no config is named.
    func resolve(mustExist: Bool = true, daemonSettings: Bool = true) throws -> Resolved {
        var (cfg, cfgPath) = try loadConfig()
        var root = spool ?? Self.env("HOPPER_SPOOL") ?? cfg.spool
        if root == nil && FileOps.isDirectory("spool/inbox") { root = "spool" }
        guard let root else {
            throw CLIError("no spool given: use --spool DIR, set HOPPER_SPOOL, or name `spool:` in the config")
        }
        var layout = SpoolLayout(root: root, state: cfg.state, workspaces: cfg.workspaces)
        if mustExist && !layout.exists {
            throw CLIError("\(layout.root) is not a hopper spool (no inbox/ folder); start `hopper daemon --spool \(root)` once to create it")
        }
        if daemonSettings && explicitConfig == nil, let beat = readHeartbeat(layout) {
            var warning: String? = nil
            if let path = beat.config, path != cfgPath {
                do {
                    cfg = try HopperConfig.load(path: path)
                    cfgPath = path
                    layout = SpoolLayout(root: layout.root, state: cfg.state, workspaces: cfg.workspaces)
                } catch {
                    // On another host the daemon's config may be out of reach: its workflow
                    // directory (below) still applies; the rest is the defaults, and submit and
                    // validate say so.
                    warning = "cannot read the daemon's config \(path) (\(error.formatted.split(separator: "\n").first ?? "")); checking with the defaults: name a config with --config"
                }
            }
            if let dir = beat.workflows, !FileOps.isDirectory(dir) {
                // Another host's path, not mounted here: the local guess, said so.
                let local = Self.workflows(cfg, layout)
                let note = "the daemon's workflow directory \(dir) is not a folder on this host; checking with \(local ?? "no workflow directory"): give one with --workflows or --config"
                return Resolved(layout: layout, config: cfg, configPath: cfgPath, workflows: local,
                                fromDaemon: false, warning: warning.map { $0 + "; " + note } ?? note)
            }
            return Resolved(layout: layout, config: cfg, configPath: cfgPath, workflows: beat.workflows,
                            fromDaemon: true, warning: warning)
        }
        return Resolved(layout: layout, config: cfg, configPath: cfgPath, workflows: Self.workflows(cfg, layout))
    }

    /// The config's `workflows:`, else Workflows/ beside the spool when it exists.
    static func workflows(_ cfg: HopperConfig, _ layout: SpoolLayout) -> String? {
        if let dir = cfg.workflows { return dir }
        let beside = FileOps.split(layout.root).0 + "/Workflows"
        return FileOps.isDirectory(beside) ? beside : nil
    }
}

/// Reads the heartbeat: nil when no daemon has ever run on the spool.
func readHeartbeat(_ layout: SpoolLayout) -> SystemStatus? {
    guard let bytes = try? FileOps.readFile(layout.heartbeat) else { return nil }
    return try? JSON.decode(SystemStatus.self, from: bytes)
}

/// Why no daemon serves the spool, in one clause; nil when one runs (a heartbeat in state
/// `running` written within the last three intervals, `SystemStatus.staleAfter`).
func daemonDown(_ layout: SpoolLayout, now: Double = Timestamp.now()) -> String? {
    guard let beat = readHeartbeat(layout) else {
        return "no hopper daemon has run on \(layout.root) yet (no system/status.json)"
    }
    if beat.isAlive(now: now) { return nil }
    if beat.state == "running", let age = beat.age(now: now) {
        return "no hopper daemon is running on \(layout.root): no heartbeat for \(formatAge(age)) (more than 3 intervals of \(formatSeconds(beat.intervalSeconds)) s; last from pid \(beat.pid) on \(beat.host))"
    }
    return "no hopper daemon is running on \(layout.root) (last heartbeat \(beat.heartbeatAt), state \(beat.state))"
}

/// A one-line warning when no daemon is running on the spool, or nil.
func daemonWarning(_ layout: SpoolLayout) -> String? {
    daemonDown(layout).map { "\($0): the job waits in the inbox until it starts" }
}

/// Warns on stderr, once, when a command that waits for the daemon (`wait`, `logs --follow`,
/// `status` of an unfinished job) would otherwise wait or report in silence; `check()` as
/// often as the caller polls. Says again when the daemon is back.
struct DaemonWatch {
    let layout: SpoolLayout
    var warned = false
    var lastCheck = 0.0

    init(_ layout: SpoolLayout) { self.layout = layout }

    /// Reads the heartbeat at most once a second. Returns the line to print on stderr, if any.
    mutating func check(now: Double = Timestamp.now()) -> String? {
        guard now - lastCheck >= 1 else { return nil }
        lastCheck = now
        if let down = daemonDown(layout, now: now) {
            guard !warned else { return nil }
            warned = true
            return "hopper: warning: \(down); nothing changes until it runs again: check with `hopper system` (and `systemctl status hopper` where it is a service)\n"
        } else if warned {
            warned = false
            return "hopper: the daemon on \(layout.root) is running again\n"
        }
        return nil
    }

    /// `check()`, printing what it says.
    mutating func warn(now: Double = Timestamp.now()) {
        if let line = check(now: now) { Console.err(line) }
    }
}
