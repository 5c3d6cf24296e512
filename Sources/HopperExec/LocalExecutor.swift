// LocalExecutor — where a step gets started, watched and killed on this machine.
//
// Each attempt runs under its own `hopper-supervise` (see Sources/hopper-supervise/main.c),
// started with swift-subprocess in a new session (`createSession`): the supervisor, the step
// and everything the step starts share one process group. Cancelling the task that runs an
// attempt tears that group down in stages — SIGTERM to the group, a grace period, SIGKILL to
// the group (`teardownSequence`, `toProcessGroup: true`) — so no grandchild survives a cancel.
//
// The supervisor records the attempt in the workspace (`.hopper/<step>.<attempt>.json`: pid,
// process group, start; `….exit`: exit code or signal, outcome, end). The daemon may die and
// come back: `inspect` tells whether an attempt never started, is still running (its
// supervisor's pid and /proc start time match the record) or finished; `adopt` waits for a
// running one and can cancel it by signalling its process group.
import HopperCore
import Logging
import Subprocess
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// What to run in an attempt.
public enum StepCommand: Sendable, Equatable {
    /// `bash -eo pipefail -c SCRIPT`
    case shell(String)
    /// A program and its arguments, no shell.
    case argv([String])
    /// The mock step: sleep, then fail with probability `failRate` (deterministic per seed, step, attempt).
    case mock(seconds: Double, failRate: Double, seed: UInt64)
}

public struct StepLaunch: Sendable {
    public var jobID: String
    public var step: String
    public var attempt: Int
    public var workspace: String
    public var logPath: String
    public var command: StepCommand
    public var environment: [String: String]
    /// Seconds; the supervisor sends SIGTERM, then SIGKILL after `grace`.
    public var timeout: Double?
    public var grace: Double
    public var logCap: Int64
    /// run_as: owner — whom the supervisor becomes before it claims the attempt (nil: stays the daemon).
    public var user: FileIdentity?
    /// Whether the supervisor fsyncs the exit record itself. False: the caller makes the outcome
    /// durable (JobRunner writes it into status.json through a GroupCommit); the supervisor
    /// still fsyncs when this process has gone before the step ends.
    public var syncRecord = true

    public init(jobID: String, step: String, attempt: Int, workspace: String, logPath: String, command: StepCommand,
                environment: [String: String], timeout: Double?, grace: Double, logCap: Int64) {
        self.jobID = jobID; self.step = step; self.attempt = attempt; self.workspace = workspace
        self.logPath = logPath; self.command = command; self.environment = environment
        self.timeout = timeout; self.grace = grace; self.logCap = logCap
    }

    public var recordPath: String { Self.recordPath(workspace: workspace, step: step, attempt: attempt) }

    public static func recordPath(workspace: String, step: String, attempt: Int) -> String {
        "\(workspace)/.hopper/\(step).\(attempt).json"
    }
}

/// How an attempt ended.
public struct StepOutcome: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case exited, timeout, cancelled
        /// The supervisor is gone without a record (machine restart, killed before recording).
        case lost
        /// The supervisor could not start the step at all.
        case failedToStart
    }
    public var kind: Kind
    public var exitCode: Int?
    public var signal: Int?
    public var startedAt: Double?
    public var finishedAt: Double?
    public var logDropped: Int64 = 0
    public var message: String?

    public init(kind: Kind, exitCode: Int? = nil, signal: Int? = nil, startedAt: Double? = nil,
                finishedAt: Double? = nil, logDropped: Int64 = 0, message: String? = nil) {
        self.kind = kind; self.exitCode = exitCode; self.signal = signal; self.startedAt = startedAt
        self.finishedAt = finishedAt; self.logDropped = logDropped; self.message = message
    }

    public var succeeded: Bool { kind == .exited && exitCode == 0 }

    /// "exited with 3", "killed by signal 9", "timed out", …
    public var summary: String {
        switch kind {
        case .exited:
            if let code = exitCode { return "exited with \(code)" }
            return "killed by signal \(signal ?? 0)"
        case .timeout: return "timed out" + (exitCode.map { " (exit \($0))" } ?? "")
        case .cancelled: return "cancelled"
        case .lost: return message ?? "the step's supervisor disappeared without recording an exit status"
        case .failedToStart: return message ?? "could not start"
        }
    }
}

/// The state of an attempt, read from its records.
public enum AttemptState: Sendable, Equatable {
    case notStarted
    case running(pid: Int32)
    case finished(StepOutcome)
}

public final class LocalExecutor: Sendable {
    public let supervisor: String
    let logger: Logger

    public init(supervisor: String, logger: Logger) {
        self.supervisor = supervisor
        self.logger = logger
    }

    /// The `hopper-supervise` installed beside the running executable.
    public static func defaultSupervisor() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/bin/hopper"
        return FileOps.split(exe).0 + "/hopper-supervise"
    }

    /// Runs one attempt to its end. Cancelling the calling task cancels the step: SIGTERM to
    /// its process group, `grace` seconds, SIGKILL.
    public func run(_ launch: StepLaunch) async -> StepOutcome {
        var args = ["--record", launch.recordPath, "--log", launch.logPath, "--log-cap", String(launch.logCap),
                    "--grace", String(launch.grace),
                    "--header", "step \(launch.step) attempt \(launch.attempt) started \(Timestamp.rfc3339())"]
        if let t = launch.timeout { args += ["--timeout", String(t)] }
        if let user = launch.user { args += ["--user", user.argument] }
        if !launch.syncRecord { args += ["--sync-unless-parent", String(getpid())] }
        switch launch.command {
        case .shell(let script): args += ["--shell", script]
        case .argv(let argv): args += ["--"] + argv
        case .mock(let seconds, let failRate, let seed): args += ["--mock", "\(seconds),\(failRate),\(seed)"]
        }
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .milliseconds(Int64(launch.grace * 1000)))]
        // KEY=VALUE with the C string terminator: swift-subprocess strdup()s these bytes.
        let env = launch.environment.map { Array("\($0.key)=\($0.value)".utf8) + [0] }
        let started = Timestamp.now()
        var status: TerminationStatus?
        do {
            let result = try await Subprocess.run(
                .path(FilePath(supervisor)), arguments: Arguments(args), environment: .custom(env),
                workingDirectory: FilePath(launch.workspace), platformOptions: options,
                input: .none, output: .discarded, error: .discarded)
            status = result.terminationStatus
        } catch {
            if !Task.isCancelled {
                return StepOutcome(kind: .failedToStart, startedAt: started, finishedAt: Timestamp.now(),
                                   message: "could not start \(supervisor): \(error)")
            }
        }
        if case .exited(75) = status {
            // Another supervisor holds this attempt (a daemon restart raced us): follow that one.
            return await adopt(recordPath: launch.recordPath, grace: launch.grace)
        }
        return Self.outcome(recordPath: launch.recordPath, cancelled: Task.isCancelled, status: status)
    }

    /// Waits for an attempt started by an earlier daemon. Cancelling the calling task signals
    /// its process group (SIGTERM, grace, SIGKILL).
    /// `owner`: the uid the attempt runs as (default: the daemon's). The records live in a
    /// workspace that may belong to the job's owner, who could write a record naming someone
    /// else's process: a process not running as `owner` is never signalled.
    public func adopt(recordPath: String, grace: Double, owner: uid_t? = nil) async -> StepOutcome {
        while true {
            switch Self.inspect(recordPath: recordPath) {
            case .finished(let outcome): return outcome
            case .notStarted: return StepOutcome(kind: .lost, message: "the attempt has no record")
            case .running(let pid):
                if Task.isCancelled && pid > 0 {
                    guard Self.processUID(pid) == (owner ?? geteuid()) else {
                        return StepOutcome(kind: .lost, message: "the attempt's record names process \(pid), which does not run as the job's owner; it was not signalled")
                    }
                    await Self.killGroup(pid, grace: grace)
                    return Self.outcome(recordPath: recordPath, cancelled: true, status: nil)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The real uid of a process (`Uid:` in /proc/<pid>/status), or nil.
    public static func processUID(_ pid: Int32) -> uid_t? {
        guard let bytes = try? FileOps.readFile("/proc/\(pid)/status", limit: 16384) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Uid:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { uid_t($0) }
        }
        return nil
    }

    /// SIGTERM to the group, up to `grace` seconds for it to go, SIGKILL.
    static func killGroup(_ pgid: Int32, grace: Double) async {
        kill(-pgid, SIGTERM)
        let deadline = Timestamp.now() + grace
        while Timestamp.now() < deadline {
            if kill(-pgid, 0) != 0 { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(-pgid, SIGKILL)
    }

    /// Reads an attempt's records.
    public static func inspect(recordPath: String) -> AttemptState {
        if let outcome = readExit(recordPath) { return .finished(outcome) }
        guard let claim = readJSON(recordPath) else {
            // A claim being written (one small write) reads as empty for an instant.
            if let st = try? FileOps.lstat(recordPath) {
                if Timestamp.now() - Double(st.st_mtim.tv_sec) < 5 { return .running(pid: 0) }
                return .finished(StepOutcome(kind: .lost, message: "the step's supervisor left an unreadable record"))
            }
            return .notStarted
        }
        let pid = Int32(claim["supervisor_pid"] as? Int ?? 0)
        let start = claim["proc_start"] as? Int ?? -1
        if pid > 0 && procStart(pid) == start {
            return .running(pid: pid)
        }
        // Exited between the two reads?
        if let outcome = readExit(recordPath) { return .finished(outcome) }
        return .finished(StepOutcome(kind: .lost, startedAt: claim["started_at"] as? Double,
                                     message: "the step's supervisor (pid \(pid)) disappeared without recording an exit status"))
    }

    static func outcome(recordPath: String, cancelled: Bool, status: TerminationStatus?) -> StepOutcome {
        if var outcome = readExit(recordPath) {
            if cancelled && outcome.kind == .exited && outcome.exitCode != 0 { outcome.kind = .cancelled }
            return outcome
        }
        let claim = readJSON(recordPath)
        let started = claim?["started_at"] as? Double
        if cancelled { return StepOutcome(kind: .cancelled, signal: 9, startedAt: started, finishedAt: Timestamp.now()) }
        if claim == nil {
            return StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(),
                               message: "the supervisor exited before starting the step (\(String(describing: status)))")
        }
        return StepOutcome(kind: .lost, startedAt: started, finishedAt: Timestamp.now(),
                           message: "the step's supervisor ended without recording an exit status (\(String(describing: status)))")
    }

    static func readExit(_ recordPath: String) -> StepOutcome? {
        guard let exit = readJSON(recordPath + ".exit") else { return nil }
        let claim = readJSON(recordPath)
        let kind = StepOutcome.Kind(rawValue: exit["outcome"] as? String ?? "") ?? .exited
        return StepOutcome(kind: kind, exitCode: exit["exit_code"] as? Int, signal: exit["signal"] as? Int,
                           startedAt: claim?["started_at"] as? Double, finishedAt: exit["finished_at"] as? Double,
                           logDropped: Int64(exit["log_dropped"] as? Int ?? 0))
    }

    static func readJSON(_ path: String) -> [String: Any]? {
        guard let bytes = try? FileOps.readFile(path, limit: 1 << 16), !bytes.isEmpty else { return nil }
        return FlatJSON.parse(bytes)
    }

    /// Field 22 of /proc/<pid>/stat (start time in clock ticks), or nil.
    static func procStart(_ pid: Int32) -> Int? {
        guard let bytes = try? FileOps.readFile("/proc/\(pid)/stat", limit: 4096),
              let close = bytes.lastIndex(of: 0x29) else { return nil }
        let fields = bytes[(close + 2)...].split(separator: 0x20)
        guard fields.count > 19 else { return nil }
        return Int(String(decoding: fields[19], as: UTF8.self))
    }
}

/// A parser for the supervisor's one-level JSON objects (numbers, strings, null).
enum FlatJSON {
    static func parse(_ bytes: [UInt8]) -> [String: Any]? {
        var out: [String: Any] = [:]
        var i = 0
        func skip() { while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D) { i += 1 } }
        func string() -> String? {
            guard i < bytes.count, bytes[i] == 0x22 else { return nil }
            i += 1
            var s: [UInt8] = []
            while i < bytes.count && bytes[i] != 0x22 {
                if bytes[i] == 0x5C && i + 1 < bytes.count { i += 1 }
                s.append(bytes[i]); i += 1
            }
            i += 1
            return String(decoding: s, as: UTF8.self)
        }
        skip()
        guard i < bytes.count, bytes[i] == 0x7B else { return nil }
        i += 1
        while true {
            skip()
            if i < bytes.count && bytes[i] == 0x7D { return out }
            guard let key = string() else { return nil }
            skip()
            guard i < bytes.count, bytes[i] == 0x3A else { return nil }
            i += 1
            skip()
            if i < bytes.count && bytes[i] == 0x22 {
                out[key] = string()
            } else {
                let start = i
                while i < bytes.count && bytes[i] != 0x2C && bytes[i] != 0x7D && bytes[i] != 0x20 && bytes[i] != 0x0A { i += 1 }
                let token = String(decoding: bytes[start..<i], as: UTF8.self)
                if token == "null" {
                    // absent
                } else if let n = Int(token) {
                    out[key] = n
                } else if let d = Double(token) {
                    out[key] = d
                } else {
                    return nil
                }
            }
            skip()
            if i < bytes.count && bytes[i] == 0x2C { i += 1; continue }
            if i < bytes.count && bytes[i] == 0x7D { return out }
            return nil
        }
    }
}
