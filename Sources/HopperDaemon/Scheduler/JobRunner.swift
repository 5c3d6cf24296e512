// JobRunner — one job from start to end: workspace, steps with retries, results, status.
//
// Runs as its own task, outside the service group: a daemon that stops with SIGTERM or dies
// with SIGKILL leaves the running step to its supervisor, and the next daemon resumes the job
// here with `resuming: true`. The step whose status says `running` is then looked up by its
// records: finished → its outcome is taken as if the daemon had watched it; still running →
// adopted; never claimed → started under the same attempt number (the supervisor's claim makes
// sure an attempt runs at most once).
//
// Every change is written to `outbox/<id>/status.json` (atomically) and, for transitions,
// attempts and requests, as a line in `events.jsonl`. Each step's outcome and the terminal
// state are made durable through the daemon's GroupCommit (many jobs per disk commit); the
// supervisor leaves its exit record's fsync to this daemon while the daemon is its parent.
import HopperCore
import HopperExec
import HopperStore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class JobRunner: Sendable {
    let id: String
    let layout: SpoolLayout
    let store: JobStore
    let executor: LocalExecutor
    let settings: SchedulerSettings
    let catalog: WorkflowCatalog?
    let metrics: Metrics
    let logger: Logger
    /// run_as: owner — the job's owner, whose rights the step and every file operation in the
    /// job's folders get (see AsUser); nil: the daemon's own.
    let owner = Mutex<FileIdentity?>(nil)
    var identity: FileIdentity? { owner.withLock { $0 } }
    let task = Mutex<Task<Void, Never>?>(nil)
    let cancelledBy = Mutex<String?>(nil)
    /// Counts status.json writes; held while writing, so writes are ordered and a deferred one
    /// that has been overtaken is dropped (see `saveSoon`).
    let statusWrites = Mutex<UInt64>(0)
    /// How long the status of a step that has just started waits before it is written: a step
    /// that ends sooner goes straight from its predecessor's status to its own end.
    static let startCoalescing: Duration = .milliseconds(25)
    /// Interrupted attempts of one step run again at most this many times in a row.
    static let maxInterruptions = 3

    init(id: String, layout: SpoolLayout, store: JobStore, executor: LocalExecutor, settings: SchedulerSettings,
         catalog: WorkflowCatalog?, metrics: Metrics, logger: Logger) {
        self.metrics = metrics
        self.id = id; self.layout = layout; self.store = store; self.executor = executor
        self.settings = settings; self.catalog = catalog
        var l = logger
        l[metadataKey: "job.id"] = "\(id)"
        self.logger = l
    }

    /// `initial`: the status and plan of a job just accepted (saves reading them back).
    func start(resuming: Bool, initial: (JobStatus, JobManifest)? = nil, onFinish: @escaping @Sendable () async -> Void) {
        let t = Task.detached { [self] in
            await self.run(resuming: resuming, initial: initial)
            await onFinish()
        }
        task.withLock { $0 = t }
    }

    func cancel(by user: String) {
        cancelledBy.withLock { $0 = user }
        JobRunner.event(layout, id, JobEvent(event: "request", state: nil, message: "cancel: accepted by \(user)"))
        task.withLock { $0?.cancel() }
    }

    // MARK: - Running

    func run(resuming: Bool, initial: (JobStatus, JobManifest)?) async {
        guard var status = initial?.0 ?? JobRunner.readStatus(layout, id) else {
            logger.error("job.no_status")
            return
        }
        guard let manifest = initial?.1 ?? loadPlan(status) else {
            await finish(&status, state: .failed, error: JobErrorInfo(step: nil, message: "the job's plan cannot be read; drop the manifest again under a new id", exitCode: nil))
            return
        }
        let now = Timestamp.rfc3339()
        let wasRunning = status.state == .running || status.state == .queued   // queued: in SLURM's hands
        if !(resuming && wasRunning) {
            // Written with the first step's start (beginAttempt), or by finish on a staging failure.
            transition(&status) { (s: inout JobStatus) throws(TransitionError) in try s.start(at: now) }
            JobRunner.event(layout, id, JobEvent(event: "started", state: .running, message: resuming ? "resumed" : nil))
        } else {
            JobRunner.event(layout, id, JobEvent(event: "resumed", state: .running, message: "the daemon restarted; the job's steps were re-adopted"))
        }
        storeSetState(.running)
        logger.info("job.started", metadata: ["job.resuming": "\(resuming)"])

        if settings.owners != nil {
            let record = store.logged("job", job: id, logger: logger) { try $0.job(id: id) } ?? nil
            let uid = record.map { uid_t($0.uid) }
            guard let uid, let who = FileIdentity.of(uid: uid) else {
                skipRemaining(&status, from: 0, detail: "not run: the job's owner has no account")
                await finish(&status, state: .failed, error: JobErrorInfo(step: nil, message: "the job's owner (uid \(uid.map { String($0) } ?? "?")) has no account on this host any more; with run_as: owner a job runs as its owner", exitCode: nil))
                return
            }
            owner.withLock { $0 = who }
        }
        let workspace: PreparedWorkspace
        do {
            let (path, root) = (layout.workspace(id), layout.root)
            if let policy = settings.owners, let who = identity {
                // Root makes the folder in runs/ (only root can), gives it away, then stages as the owner.
                try await BlockingIO.run {
                    if mkdir(path, 0o700) != 0 && errno != EEXIST { throw StagingError(input: nil, message: "cannot create the workspace \(path): \(String(cString: strerror(errno)))") }
                    try policy.handOver(path, to: who.uid)
                }
            }
            let logs = layout.folder(id).logs
            workspace = try await AsUser.run(identity) { [id] in
                let prepared = try Workspace.prepare(path: path, jobID: id, manifest: manifest, spoolRoot: root)
                try? FileOps.makeDirectory(logs)   // silent: intake made it; the supervisor reports a log it cannot open
                return prepared
            }
        } catch {
            let message = (error as? StagingError)?.message ?? "\(error)"
            skipRemaining(&status, from: 0, detail: "not run: the inputs could not be staged")
            await finish(&status, state: .failed, error: JobErrorInfo(step: nil, message: message, exitCode: nil))
            return
        }

        let jobStart = status.startedAt.flatMap(Timestamp.parse) ?? Timestamp.now()
        let jobDeadline = manifest.timeout.map { jobStart + $0.seconds }

        for (index, step) in manifest.resolvedSteps.enumerated() where index < status.steps.count {
            if status.steps[index].state == .completed { continue }
            let retries = step.retries ?? manifest.retries ?? 0
            let wasStarted = status.steps[index].state == .running || status.steps[index].state == .queued
            var resumeAttempt: Int? = (resuming && wasRunning && wasStarted) ? status.steps[index].attempt : nil
            var failuresThisRun = 0
            var interruptionsThisRun = 0
            while true {
                if let by = cancelledNow() {
                    await markCancelled(&status, index: index, by: by)
                    return
                }
                let attempt = resumeAttempt ?? status.steps[index].attempt + 1
                if resumeAttempt == nil { await beginAttempt(&status, index: index, attempt: attempt) }
                var timeout = step.timeout?.seconds
                var timeoutReason = step.timeout.map { "step timeout \($0.text)" }
                if let deadline = jobDeadline {
                    let left = max(1, deadline - Timestamp.now())
                    if timeout == nil || left < timeout! { timeout = left; timeoutReason = "job timeout \(manifest.timeout!.text)" }
                }
                let logPath = layout.folder(id).log(step: step.name)
                let launch = StepLaunch(
                    jobID: id, step: step.name, attempt: attempt, workspace: workspace.path,
                    logPath: logPath, command: .argv([]),
                    environment: environment(step: step.name, attempt: attempt, manifest: manifest, workspace: workspace),
                    timeout: timeout, grace: settings.grace, logCap: settings.logCap)
                let adopting: Bool
                if resumeAttempt != nil, case .notStarted = LocalExecutor.inspect(recordPath: launch.recordPath) {
                    adopting = false
                } else {
                    adopting = resumeAttempt != nil
                }
                var outcome: StepOutcome
                if let slurm = slurmExecutor(for: status) {
                    // New or re-adopted, SlurmExecutor tells by the attempt's records.
                    outcome = await runOnSlurm(slurm, launch: launch, step: step, manifest: manifest,
                                               workspace: workspace, status: &status, index: index)
                } else if adopting {
                    let tail = progressTail(step: step, live: LiveStatus(status), index: index, logPath: logPath)
                    outcome = await executor.adopt(recordPath: launch.recordPath, grace: settings.grace, owner: identity?.uid)
                    tail?.cancel()
                    await tail?.value
                } else if let cmd = await command(for: step, workspace: workspace, attempt: attempt, params: manifest.params) {
                    var run = launch
                    run.command = cmd
                    run.user = identity
                    run.syncRecord = false   // the outcome is made durable in status.json below
                    let tail = progressTail(step: step, live: LiveStatus(status), index: index, logPath: logPath)
                    outcome = await executor.run(run)
                    tail?.cancel()
                    await tail?.value
                    if case .snakemake = step.kind { await keepSnakemakeLog(step: step.name, workspace: workspace.path) }
                } else {
                    outcome = StepOutcome(kind: .failedToStart, startedAt: Timestamp.now(), finishedAt: Timestamp.now(),
                                          message: Snakemake.missingMessage)
                    // silent: the same message goes into status.json as the attempt's outcome.
                    try? FileOps.appendLine(logPath, Array("==> hopper: \(Snakemake.missingMessage) <==\n".utf8))
                }
                resumeAttempt = nil
                // The attempt's end was lost (a power cut tore or lost its records, or its
                // supervisor was killed before it recorded one): recorded as interrupted and run
                // again as a new attempt, not counted against retries — a few times in a row at
                // most, then it is a failure like any other.
                if outcome.kind == .interrupted && cancelledNow() == nil && interruptionsThisRun < Self.maxInterruptions {
                    interruptionsThisRun += 1
                    let message = "step \(step.name) attempt \(attempt) was interrupted (\(outcome.summary)); it runs again"
                    endAttempt(&status, index: index, outcome: outcome, state: .interrupted, message: message)
                    await save(status, event: JobEvent(event: "interrupted", state: .running, step: step.name, message: message), durable: true)
                    logger.warning("step.interrupted", metadata: ["step.name": "\(step.name)", "step.attempt": "\(attempt)", "reason": "\(outcome.summary)"])
                    continue
                }
                if outcome.kind == .cancelled || cancelledNow() != nil {
                    endAttempt(&status, index: index, outcome: outcome, state: .cancelled, message: "cancelled")
                    await markCancelled(&status, index: index, by: cancelledNow() ?? "request")
                    return
                }
                if outcome.succeeded {
                    endAttempt(&status, index: index, outcome: outcome, state: .completed, message: nil)
                    if let problem = await publish(step: step, status: &status) {
                        transition(&status) { (s: inout JobStatus) throws(TransitionError) in try s.failCompletedStep(index, detail: problem) }
                        skipRemaining(&status, from: index + 1, detail: "not run: an earlier step failed")
                        await finish(&status, state: .failed, error: JobErrorInfo(step: step.name, message: problem, exitCode: nil))
                        return
                    }
                    // The job's end makes the outcome durable (finish); a step with more to come
                    // does it here, before the next step starts.
                    if index + 1 < manifest.resolvedSteps.count { await save(status, event: nil, durable: true) }
                    break
                }
                var message = outcome.kind == .failedToStart ? "step \(step.name): \(outcome.summary)" : "step \(step.name) \(outcome.summary)"
                if outcome.kind == .timeout, let reason = timeoutReason { message = "step \(step.name) timed out (\(reason))" }
                endAttempt(&status, index: index, outcome: outcome, state: .failed, message: message)
                failuresThisRun += 1
                let jobExpired = jobDeadline.map { Timestamp.now() >= $0 } ?? false
                if failuresThisRun <= retries && !jobExpired {
                    await save(status, event: nil, durable: true)   // the failed attempt's outcome, before the next one
                    let delay = min(30.0, 0.5 * Double(1 << min(failuresThisRun - 1, 6)))
                    JobRunner.event(layout, id, JobEvent(event: "retry", state: .running, step: step.name,
                        message: "\(message); attempt \(attempt + 1) of \(retries + 1) in \(delay) s"))
                    logger.notice("step.retry", metadata: ["step.name": "\(step.name)", "step.attempt": "\(attempt)"])
                    try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))   // silent: a cancel is seen at the loop's top
                    continue
                }
                skipRemaining(&status, from: index + 1, detail: "not run: an earlier step failed")
                await finish(&status, state: .failed, error: JobErrorInfo(step: step.name, message: message, exitCode: outcome.exitCode))
                return
            }
        }
        await finish(&status, state: .completed, error: nil)
    }
}
