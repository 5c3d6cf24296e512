// SpoolOptions — how every command finds the spool: --spool, then $HOPPER_SPOOL, then the
// config's `spool:`, then ./spool when it holds an inbox.
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

struct SpoolOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The spool directory (default: $HOPPER_SPOOL, then the config's `spool:`).", valueName: "dir"), completion: .directory)
    var spool: String?

    @Option(name: .long, help: ArgumentHelp("The config file (default: $HOPPER_CONFIG, then /etc/hopper/config.yaml if it exists).", valueName: "file"),
            completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    struct Resolved {
        var layout: SpoolLayout
        var config: HopperConfig
        var configPath: String?
        var workflows: String?
    }

    /// A set, non-empty environment variable.
    static func env(_ name: String) -> String? {
        ProcessEnvironment.value(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    func loadConfig() throws -> (HopperConfig, String?) {
        var path = config ?? Self.env("HOPPER_CONFIG")
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

    /// Finds the spool. With `mustExist`, a missing spool is a one-line error.
    func resolve(mustExist: Bool = true) throws -> Resolved {
        let (cfg, cfgPath) = try loadConfig()
        var root = spool ?? Self.env("HOPPER_SPOOL") ?? cfg.spool
        if root == nil && FileOps.isDirectory("spool/inbox") { root = "spool" }
        guard let root else {
            throw CLIError("no spool given: use --spool DIR, set HOPPER_SPOOL, or name `spool:` in the config")
        }
        let layout = SpoolLayout(root: root, state: cfg.state, workspaces: cfg.workspaces)
        if mustExist && !layout.exists {
            throw CLIError("\(layout.root) is not a hopper spool (no inbox/ folder); start `hopper daemon --spool \(root)` once to create it")
        }
        var workflows = cfg.workflows
        if workflows == nil {
            let beside = FileOps.split(layout.root).0 + "/Workflows"
            if FileOps.isDirectory(beside) { workflows = beside }
        }
        return Resolved(layout: layout, config: cfg, configPath: cfgPath, workflows: workflows)
    }
}

/// Reads the heartbeat: nil when no daemon has ever run on the spool.
func readHeartbeat(_ layout: SpoolLayout) -> SystemStatus? {
    guard let bytes = try? FileOps.readFile(layout.heartbeat) else { return nil }
    return try? JSON.decode(SystemStatus.self, from: bytes)
}

/// A one-line warning when no daemon is running on the spool, or nil.
func daemonWarning(_ layout: SpoolLayout) -> String? {
    guard let beat = readHeartbeat(layout) else {
        return "no hopper daemon has run on \(layout.root) yet (no system/status.json): the job waits in the inbox until `hopper daemon` starts"
    }
    if beat.isAlive() { return nil }
    return "no hopper daemon is running on \(layout.root) (last heartbeat \(beat.heartbeatAt), state \(beat.state)): the job waits in the inbox until it starts"
}
