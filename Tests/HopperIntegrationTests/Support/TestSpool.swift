// TestSpool — a temporary spool with the real `hopper` binary running as a daemon on it.
import Foundation
import HopperTestSupport
import HopperCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

enum Paths {
    /// The repository root (this file is Tests/HopperIntegrationTests/Support/TestSpool.swift).
    static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Snakemake from the venv scripts/setup-snakemake makes ($HOPPER_SNAKEMAKE wins).
    static let snakemake: String = ProcessInfo.processInfo.environment["HOPPER_SNAKEMAKE"].flatMap { $0.isEmpty ? nil : $0 }
        ?? repo + "/.venv/snakemake/bin/snakemake"

    /// The built `hopper` binary: $HOPPER_BIN, else beside the test bundle in the build folder.
    static let hopper: String = {
        if let env = ProcessInfo.processInfo.environment["HOPPER_BIN"] { return env }
        var dir = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        for _ in 0..<4 {
            dir.deleteLastPathComponent()
            let candidate = dir.appendingPathComponent("hopper").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return Paths.repo + "/.build/debug/hopper"
    }()
}

struct CommandResult {
    var code: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, capturing its output (through files: no pipe can fill up).
@discardableResult
func runProgram(_ path: String, _ args: [String], env: [String: String] = [:], cwd: String? = nil, stdin: String? = nil) throws -> CommandResult {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-cmd-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "HOPPER_SPOOL")
    environment.removeValue(forKey: "HOPPER_CONFIG")
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    if let stdin {
        let inFile = dir.appendingPathComponent("in")
        try stdin.write(to: inFile, atomically: true, encoding: .utf8)
        p.standardInput = try FileHandle(forReadingFrom: inFile)
    } else {
        p.standardInput = FileHandle.nullDevice
    }
    try p.run()
    p.waitUntilExit()
    return CommandResult(code: p.terminationStatus,
                         stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

final class TestSpool {
    let base: String
    let root: String
    let workflows: String
    let configPath: String
    /// The spool as the daemon sees it (its `state/` is kept on local disk on a shared drive).
    var layout: SpoolLayout { SpoolLayout(root: root, state: mount == nil ? nil : base + "/state") }
    /// On a shared drive or a power-cut disk: the FUSE mount the spool is on.
    let mount: (any SpoolMount)?
    /// The spool as a writer on another host sees it: the folder under the mount on a shared
    /// drive, else the spool itself. Drops go here.
    var writerLayout: SpoolLayout { SpoolLayout(root: mount?.writerRoot ?? root) }
    private(set) var daemon: Process?
    private var daemonLogs: [String] = []
    var extraEnv: [String: String] = [:]
    /// A command the daemon is started through, e.g. `setpriv --reuid=…` to run it unprivileged.
    var launcher: [String] = []

    /// A fresh spool under /tmp with the repository's Workflows/ and a config tuned for tests.
    /// `on: .sharedDrive`: the spool is a bindfs (FUSE) mount of a folder beside it, written
    /// from below as another NFS client would (SharedDrive.swift); `state:` stays on local disk.
    init(config extra: String = "", copyWorkflows: Bool = true, on place: SpoolPlace = .localDisk) throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-it-\(UUID().uuidString.prefix(8))").path
        root = base + "/spool"
        workflows = base + "/Workflows"
        configPath = base + "/config.yaml"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        switch place {
        case .localDisk: mount = nil
        case .sharedDrive: mount = try BindMount(lower: base + "/lower", mountPoint: root)
        case .powerCutDisk: mount = try LazyMount(lower: base + "/lower", mountPoint: root, work: base)
        }
        if copyWorkflows {
            try FileManager.default.copyItem(atPath: Paths.repo + "/Workflows", toPath: workflows)
        } else {
            try FileManager.default.createDirectory(atPath: workflows, withIntermediateDirectories: true)
        }
        let config = """
            spool: \(root)
            workflows: \(workflows)
            poll_interval: 200ms
            settle: 200ms
            rescan_interval: 5s
            log_level: info
            \(mount == nil ? "" : "state: \(base)/state\nmin_free_space: 0")
            \(extra)
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        if let d = daemon, d.isRunning { kill(d.processIdentifier, SIGCONT); kill(d.processIdentifier, SIGKILL); d.waitUntilExit() }
        killSteps()
        mount?.unmount()
        try? FileManager.default.removeItem(atPath: base)
    }

    /// Kills every process of every step still running in this spool (their supervisors outlive
    /// the daemon by design): the supervisor's session, which holds the step's own process group.
    func killSteps() {
        for id in (try? FileOps.listDirectory(layout.workspaces)) ?? [] {
            let records = layout.workspace(id) + "/.hopper"
            for name in (try? FileOps.listDirectory(records)) ?? [] where name.hasSuffix(".json") {
                guard let text = try? String(contentsOfFile: records + "/" + name, encoding: .utf8),
                      let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                      let pgid = object["pgid"] as? Int, pgid > 1 else { continue }
                kill(-Int32(pgid), SIGKILL)
                for name in (try? FileOps.listDirectory("/proc")) ?? [] {
                    guard let pid = Int32(name), sessionOf(pid) == Int32(pgid) else { continue }
                    kill(pid, SIGKILL)
                }
            }
        }
    }

    // MARK: daemon

    @discardableResult
    func startDaemon(waitReady: Bool = true) throws -> Process {
        let p = Process()
        let command = launcher + [Paths.hopper, "daemon", "--config", configPath]
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "HOPPER_SPOOL")
        if environment["HOPPER_SNAKEMAKE"] == nil, FileManager.default.isExecutableFile(atPath: Paths.snakemake) {
            environment["HOPPER_SNAKEMAKE"] = Paths.snakemake
        }
        for (k, v) in extraEnv { environment[k] = v }
        p.environment = environment
        let log = base + "/daemon-\(daemonLogs.count).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        daemonLogs.append(log)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = p.standardError
        p.standardInput = FileHandle.nullDevice
        try p.run()
        daemon = p
        if waitReady {
            let ok = eventually(timeout: 30) {
                guard p.isRunning else { return false }
                guard let beat = heartbeat() else { return false }
                return beat.pid == p.processIdentifier && beat.state == "running"
            }
            if !ok { throw TestFailure("daemon did not become ready; log:\n\(logText())") }
        }
        return p
    }

    func heartbeat() -> SystemStatus? {
        guard let bytes = try? FileOps.readFile(layout.heartbeat) else { return nil }
        return try? JSON.decode(SystemStatus.self, from: bytes)
    }

    /// SIGTERM, then wait for a clean exit. Returns the exit status.
    @discardableResult
    func stopDaemon() -> Int32 {
        guard let d = daemon else { return 0 }
        if d.isRunning { kill(d.processIdentifier, SIGTERM) }
        d.waitUntilExit()
        daemon = nil
        return d.terminationStatus
    }

    func killDaemon() {
        guard let d = daemon else { return }
        kill(d.processIdentifier, SIGKILL)
        d.waitUntilExit()
        daemon = nil
    }

    func logText() -> String {
        daemonLogs.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n-----\n")
    }

    // MARK: files

    /// Drops a manifest the safe way: `.name.tmp`, then rename into the inbox (or a queue).
    /// On a shared drive it is written below the mount, as another host's client would.
    func drop(_ name: String, _ content: String, queue: String? = nil) throws {
        let folder = writerLayout.inbox(queue: queue)
        let tmp = folder + "/." + name + ".tmp"
        try content.write(toFile: tmp, atomically: false, encoding: .utf8)
        guard rename(tmp, folder + "/" + name) == 0 else { throw TestFailure("rename failed: \(errno)") }
    }

    func hopper(_ args: String..., env: [String: String] = [:], stdin: String? = nil) throws -> CommandResult {
        try runProgram(Paths.hopper, args, env: env, stdin: stdin)
    }

    func isAccepted(_ id: String) -> Bool { FileOps.exists(layout.manifest(id)) }
    func isRejected(_ file: String) -> Bool {
        FileOps.exists(layout.rejected + "/" + file) && FileOps.exists(layout.rejected + "/" + file + ".error.json")
    }

    func status(_ id: String) throws -> JobStatus {
        try JSON.decode(JobStatus.self, from: try FileOps.readFile(layout.status(id)))
    }

    func rejection(_ file: String) throws -> Rejection {
        try JSON.decode(Rejection.self, from: try FileOps.readFile(layout.rejected + "/" + file + ".error.json"))
    }

    func inboxNames(queue: String? = nil) -> [String] {
        ((try? FileOps.listDirectory(layout.inbox(queue: queue))) ?? []).filter { !$0.hasPrefix(".") }
    }

    func outboxIDs() -> [String] {
        ((try? FileOps.listDirectory(layout.outbox)) ?? []).filter { !$0.hasPrefix(".") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Writes `system/status.json` as a daemon in state `state` would, beating every `interval` s,
/// its last beat `age` seconds ago.
func writeHeartbeat(_ layout: SpoolLayout, interval: Double = 2, age: Double = 0, state: String = "running",
                    config: String? = nil, workflows: String? = nil) throws {
    let now = Timestamp.now()
    var beat = SystemStatus(pid: 1, host: "testhost", startedAt: Timestamp.rfc3339(now - age - 60),
                            heartbeatAt: Timestamp.rfc3339(now - age), intervalSeconds: interval, state: state,
                            spool: layout.root, stateDirectory: layout.state, inboxes: [], intake: .init(), jobs: [:])
    beat.config = config
    beat.workflows = workflows
    try FileOps.writeAtomically(layout.heartbeat, try JSON.pretty(beat))
}

/// A small valid manifest for the `demo` workflow.
func demoManifest(sample: String = "S001", priority: Int = 0) -> String {
    """
    workflow: demo
    params:
      sample: \(sample)
    priority: \(priority)
    description: Test job for \(sample)
    """
}
