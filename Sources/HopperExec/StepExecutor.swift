// StepExecutor — the one way the job runner runs an attempt of a step, wherever it runs.
//
// Implemented by the local executor (a step under hopper-supervise on this host), by SLURM
// (a step as a SLURM job) and, for tests, by a fake executor that starts no process
// (HopperTestSupport). Adopted steps take the same path: an attempt whose job status said
// `running` when the daemon started is handed over with `resuming`, and the executor follows
// it by its records when it has any (or starts it under the same attempt number when it was
// never claimed).
//
// Cancelling the task that awaits `execute` asks the executor to end the step; the executor
// goes on waiting until the step has really ended, and its outcome then says `cancelled`.
import HopperCore

/// One attempt of one step, as the job runner hands it over.
public struct StepRun: Sendable {
    /// Where and how: ids, workspace, log, environment, timeout, grace, log cap, user.
    /// `launch.command` is filled in from `command` when the attempt really starts.
    public var launch: StepLaunch
    public var step: Step
    public var manifest: JobManifest
    /// The job's queue (SLURM takes its partition, account and qos from it).
    public var queue: String
    /// The group the job is a child of (SLURM may run siblings as one job array).
    public var group: String?
    /// The attempt was under way when the daemon started: follow it by its records.
    public var resuming: Bool
    /// The attempt's command, asked only when a new attempt really starts (a Snakemake step
    /// clears stale locks first); nil: the step cannot run here (Snakemake is missing).
    public var command: @Sendable () async -> StepCommand?

    public init(launch: StepLaunch, step: Step, manifest: JobManifest, queue: String, group: String? = nil, resuming: Bool,
                command: @escaping @Sendable () async -> StepCommand?) {
        self.launch = launch; self.step = step; self.manifest = manifest; self.queue = queue; self.group = group
        self.resuming = resuming; self.command = command
    }
}

/// What an executor tells the job runner while an attempt waits in a cluster's hands.
public typealias StepUpdate = SlurmUpdate

public protocol StepExecutor: Sendable {
    /// Runs (or, resuming, follows) one attempt to its end. `update` hears of the attempt's
    /// phases (queued, running) where the executor has them. Returns the outcome and the
    /// executor's own id of the attempt (a SLURM job id), nil where it has none.
    func execute(_ attempt: StepRun, update: @escaping @Sendable (StepUpdate) async -> Void) async -> (StepOutcome, String?)
}

/// The executors a daemon runs steps with, by the job's `executor` kind.
public struct StepExecutors: Sendable {
    public var local: any StepExecutor
    /// nil: no SLURM configured (a job for SLURM then runs locally, as before).
    public var slurm: (any StepExecutor)?

    public init(local: any StepExecutor, slurm: (any StepExecutor)? = nil) {
        self.local = local
        self.slurm = slurm
    }

    public func executor(for kind: ExecutorKind) -> any StepExecutor {
        switch kind {
        case .local: return local
        case .slurm: return slurm ?? local
        }
    }
}

extension LocalExecutor: StepExecutor {
    public func execute(_ attempt: StepRun, update: @escaping @Sendable (StepUpdate) async -> Void) async -> (StepOutcome, String?) {
        let launch = attempt.launch
        if attempt.resuming {
            // Claimed by a supervisor: follow it. Never claimed: it starts now, same attempt.
            if case .notStarted = Self.inspect(recordPath: launch.recordPath) {} else {
                return (await adopt(recordPath: launch.recordPath, grace: launch.grace, owner: launch.user?.uid), nil)
            }
        }
        guard let command = await attempt.command() else {
            // silent: the same message goes into status.json as the attempt's outcome.
            try? FileOps.appendLine(launch.logPath, Array("==> hopper: \(Snakemake.missingMessage) <==\n".utf8))
            let now = Timestamp.now()
            return (StepOutcome(kind: .failedToStart, startedAt: now, finishedAt: now, message: Snakemake.missingMessage), nil)
        }
        var run = launch
        run.command = command
        return (await self.run(run), nil)
    }
}

extension SlurmExecutor: StepExecutor {
    public func execute(_ attempt: StepRun, update: @escaping @Sendable (StepUpdate) async -> Void) async -> (StepOutcome, String?) {
        let launch = attempt.launch
        // New or re-adopted: the attempt's records tell (see `run`).
        let request = self.request(job: launch.jobID, step: attempt.step, manifest: attempt.manifest,
                                   queue: attempt.queue, timeout: launch.timeout)
        return await run(launch, request: request, group: attempt.group, command: attempt.command, update: update)
    }
}
