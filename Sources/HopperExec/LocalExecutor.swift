// LocalExecutor — where a step gets started, watched and ended on this machine.
//
// Each attempt runs under its own `hopper-supervise` (see Sources/hopper-supervise/main.c),
// started with swift-subprocess in a new session (`createSession`); the step runs in a process
// group of its own inside that session. The supervisor alone ends a step: cancelling the task
// that runs (or adopted) an attempt sends SIGTERM to the supervisor's pid, and the supervisor
// sends SIGTERM to the step's group, waits `grace`, sends SIGKILL to the group, and writes its
// `cancelled` exit record. The daemon sends SIGKILL only as a backstop: `grace + backstopMargin`
// later to the step's processes of a supervisor still running then (so a slow one still records
// the end), and another `backstopMargin` later to a supervisor still running (wedged) and its
// whole session (see SupervisorControl).
// swift-subprocess never sees the cancel (the spawn runs in a task of its own), so its teardown
// does not race the supervisor.
//
// The supervisor records the attempt in the workspace (AttemptRecord: `.hopper/<step>.<attempt>.json`
// with pid, process group, start and grace; `….exit` with exit code or signal, outcome, end).
// The daemon may die and come back: `inspect` tells whether an attempt never started, is still
// running (its supervisor's pid and /proc start time match the record) or finished; `adopt`
// waits for a running one and cancels it the same way.
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
    /// Seconds; the supervisor sends SIGTERM to the step's group, then SIGKILL after `grace`.
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
        /// The step ended in a way that says nothing of its exit (SLURM: OUT_OF_MEMORY, cancelled
        /// from outside; a record naming someone else's process).
        case lost
        /// The attempt's end is unknown: its supervisor is gone without an exit record, or its
        /// records are unreadable (a power cut lost or tore them). Run again as a new attempt.
        case interrupted
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
        case .interrupted: return message ?? "its end was lost"
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
    /// Seconds beyond the supervisor's grace before the daemon's SIGKILL backstop.
    public let backstopMargin: Double
    let logger: Logger

    public init(supervisor: String, logger: Logger, backstopMargin: Double = 2) {
        self.supervisor = supervisor
        self.logger = logger
        self.backstopMargin = backstopMargin
    }

    /// The `hopper-supervise` installed beside the running executable.
    public static func defaultSupervisor() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/bin/hopper"
        return FileOps.split(exe).0 + "/hopper-supervise"
    }

    /// The supervisor's arguments for an attempt.
    static func arguments(_ launch: StepLaunch) -> [String] {
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
        return args
    }

    /// Runs one attempt to its end. Cancelling the calling task asks the supervisor to end the
    /// step (SIGTERM to the step's group, `grace` seconds, SIGKILL) and keeps waiting for it.
    public func run(_ launch: StepLaunch) async -> StepOutcome {
        if Task.isCancelled { return StepOutcome(kind: .cancelled, finishedAt: Timestamp.now()) }
        let control = SupervisorControl()
        let started = Timestamp.now()
        let spawn: Task<Spawned, Never> = Task.detached { [supervisor] in
            await Self.spawn(supervisor, launch, control)
        }
        let backstopAfter: Double = launch.grace + backstopMargin
        let spawned: Spawned = await withTaskCancellationHandler {
            await spawn.value
        } onCancel: {
            control.cancel(backstopAfter: backstopAfter, margin: backstopMargin)
        }
        var status: TerminationStatus?
        switch spawned {
        case .exited(let s): status = s
        case .failed(let message):
            if !control.cancelRequested {
                return StepOutcome(kind: .failedToStart, startedAt: started, finishedAt: Timestamp.now(),
                                   message: "could not start \(supervisor): \(message)")
            }
        }
        if case .exited(75) = status {
            // Another supervisor holds this attempt (a daemon restart raced us): follow that one.
            return await adopt(recordPath: launch.recordPath, grace: launch.grace)
        }
        let cancelled: Bool = control.cancelRequested || Task.isCancelled
        return Self.outcome(recordPath: launch.recordPath, cancelled: cancelled, status: status)
    }

    enum Spawned: Sendable {
        case exited(TerminationStatus)
        case failed(String)
    }

    /// Starts the supervisor in a new session and waits for it. Runs in a task of its own,
    /// never cancelled: ending the step is the supervisor's (see SupervisorControl).
    static func spawn(_ supervisor: String, _ launch: StepLaunch, _ control: SupervisorControl) async -> Spawned {
        var options = PlatformOptions()
        options.createSession = true
        // KEY=VALUE with the C string terminator: swift-subprocess strdup()s these bytes.
        let env: [[UInt8]] = launch.environment.map { Array("\($0.key)=\($0.value)".utf8) + [0] }
        do {
            let result = try await Subprocess.run(
                .path(FilePath(supervisor)), arguments: Arguments(arguments(launch)), environment: .custom(env),
                workingDirectory: FilePath(launch.workspace), platformOptions: options,
                input: .none, output: .discarded, error: .discarded
            ) { execution in
                control.started(execution.processIdentifier.value)
            }
            control.finished()
            return .exited(result.terminationStatus)
        } catch {
            control.finished()
            return .failed("\(error)")
        }
    }

    /// Waits for an attempt started by an earlier daemon. Cancelling the calling task asks its
    /// supervisor to end the step, as `run` does, with the same backstop (after the grace the
    /// supervisor recorded, else `grace`).
    /// `owner`: the uid the attempt runs as (default: the daemon's). The records live in a
    /// workspace that may belong to the job's owner, who could write a record naming someone
    /// else's process: a process not running as `owner` is never signalled.
    public func adopt(recordPath: String, grace: Double, owner: uid_t? = nil) async -> StepOutcome {
        var backstopAt: Double?
        var stepKilled = false
        var killedAt: Double?
        while true {
            switch Self.inspect(recordPath: recordPath) {
            case .finished(let outcome):
                if backstopAt == nil { return outcome }
                return Self.outcome(recordPath: recordPath, cancelled: true, status: nil)
            case .notStarted:
                return StepOutcome(kind: .interrupted, message: "the attempt has no record")
            case .running(let pid):
                if Task.isCancelled && pid > 0 {
                    let now = Timestamp.now()
                    if backstopAt == nil {
                        guard Self.processUID(pid) == (owner ?? geteuid()) else {
                            return StepOutcome(kind: .lost, message: "the attempt's record names process \(pid), which does not run as the job's owner; it was not signalled")
                        }
                        kill(pid, SIGTERM)
                        let recorded: Double = AttemptRecord.read(recordPath)?.grace ?? grace
                        backstopAt = now + recorded + backstopMargin
                    } else if let at = killedAt {
                        // Killed, yet its pid still answers (a zombie no one reaps): done waiting.
                        if now > at + 2 { return Self.outcome(recordPath: recordPath, cancelled: true, status: nil) }
                    } else if let at = backstopAt, now >= at + backstopMargin {
                        Self.killSession(pid)   // the second stage: a wedged supervisor
                        killedAt = now
                    } else if let at = backstopAt, now >= at, !stepKilled {
                        Self.killStep(ofSupervisor: pid)   // the first: the step, so that the supervisor records its end
                        stepKilled = true
                    }
                }
                await Self.pause(backstopAt == nil ? 0.1 : 0.02)
            }
        }
    }

    /// Reads an attempt's records.
    public static func inspect(recordPath: String) -> AttemptState {
        if let outcome = readExit(recordPath) { return .finished(outcome) }
        guard let claim = AttemptRecord.read(recordPath) else {
            // A claim being written (one small write) reads as empty for an instant.
            if let st = try? FileOps.lstat(recordPath) {
                if Timestamp.now() - Double(st.st_mtim.tv_sec) < 5 { return .running(pid: 0) }
                return .finished(StepOutcome(kind: .interrupted, message: "the step's supervisor left an unreadable record"))
            }
            return .notStarted
        }
        let pid: Int32 = claim.supervisorPID ?? 0
        if pid > 0, let start = claim.procStart, procStart(pid) == start {
            return .running(pid: pid)
        }
        // Exited between the two reads?
        if let outcome = readExit(recordPath) { return .finished(outcome) }
        return .finished(StepOutcome(kind: .interrupted, startedAt: claim.startedAt,
                                     message: "the step's supervisor (pid \(pid)) disappeared without recording an exit status"))
    }

    static func outcome(recordPath: String, cancelled: Bool, status: TerminationStatus?) -> StepOutcome {
        if var outcome = readExit(recordPath) {
            if cancelled && outcome.kind == .exited && outcome.exitCode != 0 { outcome.kind = .cancelled }
            return outcome
        }
        let claim: AttemptRecord? = AttemptRecord.read(recordPath)
        let started: Double? = claim?.startedAt
        if cancelled { return StepOutcome(kind: .cancelled, signal: 9, startedAt: started, finishedAt: Timestamp.now()) }
        if claim == nil {
            // The supervisor says why on its stderr, which no one reads; the likeliest reason a
            // person can act on is checked here: a full disk where it writes its records.
            let records = FileOps.split(recordPath).0
            if Self.isFull(records) {
                return StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(),
                                   message: "could not start the step: No space left on device (the filesystem of \(records) is full)")
            }
            return StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(),
                               message: "the supervisor exited before starting the step (\(String(describing: status)))")
        }
        return StepOutcome(kind: .interrupted, startedAt: started, finishedAt: Timestamp.now(),
                           message: "the step's supervisor ended without recording an exit status (\(String(describing: status)))")
    }

    /// Whether the filesystem holding `path` has no block left for an unprivileged writer.
    static func isFull(_ path: String) -> Bool {
        var s = statvfs()
        return statvfs(path, &s) == 0 && s.f_bavail == 0
    }

    /// The attempt's exit record as an outcome, or nil while there is none.
    static func readExit(_ recordPath: String) -> StepOutcome? {
        guard let exit = AttemptRecord.read(recordPath + ".exit") else { return nil }
        return exit.stepOutcome(claim: AttemptRecord.read(recordPath))
    }
}
