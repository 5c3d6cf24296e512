// JobRunner — one job from start to end: workspace, steps with retries, results, status.
//
// Runs as its own task, outside the service group: a daemon that stops with SIGTERM or dies
// with SIGKILL leaves the running step to its supervisor, and the next daemon resumes the job
// here with `resuming: true`. The step whose status says `running` is then looked up by its
// records: finished → its outcome is taken as if the daemon had watched it; still running →
// adopted; never claimed → started under the same attempt number (the supervisor's claim makes
// sure an attempt runs at most once).
//
// The runner is the one owner of its job's status while the job runs (an actor: the attempt
// loop, the Snakemake progress tail and SLURM's poll rounds all change it through here, and
// every write is of this one copy). Every change is written to `outbox/<id>/status.json`
// (atomically) and, for transitions, attempts and requests, as a line in `events.jsonl`. Each step's outcome and the terminal
// state are made durable through the daemon's GroupCommit (many jobs per disk commit); the
// supervisor leaves its exit record's fsync to this daemon while the daemon is its parent.
import HopperCore
import HopperExec
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

actor JobRunner {
    let id: String
    let layout: SpoolLayout
    let store: JobStore
    let executors: StepExecutors
    let settings: SchedulerSettings
    let catalog: WorkflowCatalog?
    let metrics: Metrics
    let logger: Logger
    /// The job's status: the one copy, written to status.json by `save`.
    var status: JobStatus
    /// The plan and status of a job just accepted (saves reading them back); nil: read at start.
    private var initial: (JobStatus, JobManifest)?
    /// run_as: owner — the job's owner, whose rights the step and every file operation in the
    /// job's folders get (see AsUser); nil: the daemon's own.
    var identity: FileIdentity?
    /// Who cancelled the job (a cancel request); the task running `run` is cancelled too.
    var cancelledBy: String?
    /// Counts status.json writes, so a deferred one that has been overtaken is dropped (`saveSoon`).
    var statusWrites: UInt64 = 0
    /// How long the status of a step that has just started waits before it is written: a step
    /// that ends sooner goes straight from its predecessor's status to its own end.
    static let startCoalescing: Duration = .milliseconds(25)
    /// The job's plan once read (for its crate at the end; nil: it could not be read).
    var plan: JobManifest?
    /// Interrupted attempts of one step run again at most this many times in a row.
    static let maxInterruptions = 3

    /// `initial`: the status and plan of a job just accepted (saves reading them back).
    init(id: String, layout: SpoolLayout, store: JobStore, executors: StepExecutors, settings: SchedulerSettings,
         catalog: WorkflowCatalog?, metrics: Metrics, logger: Logger, initial: (JobStatus, JobManifest)? = nil) {
        self.metrics = metrics
        self.id = id; self.layout = layout; self.store = store; self.executors = executors
        self.settings = settings; self.catalog = catalog
        var l = logger
        l[metadataKey: "job.id"] = "\(id)"
        self.logger = l
        self.initial = initial
        self.status = initial?.0 ?? JobStatus(id: id, state: .pending, workflow: nil, owner: "", queue: "", priority: 0,
                                               description: nil, submittedAt: "", steps: [], executor: ExecutorInfo(kind: .local))
    }

    /// A cancel request: recorded, then the task running `run` is cancelled by the caller
    /// (the executor ends the step and the loop sees who asked).
    func noteCancel(by user: String) {
        cancelledBy = user
        JobRunner.event(layout, id, JobEvent(event: "request", state: nil, message: "cancel: accepted by \(user)"))
    }

    // MARK: - Running

    func run(resuming: Bool) async {
        let given = initial
        initial = nil
        guard let read = given?.0 ?? JobRunner.readStatus(layout, id) else {
            logger.error("job.no_status")
            return
        }
        status = read
        guard let manifest = given?.1 ?? loadPlan(status) else {
            await finish(.failed, error: JobErrorInfo(step: nil, message: "the job's plan cannot be read; drop the manifest again under a new id", exitCode: nil))
            return
        }
        plan = manifest
        let now = Timestamp.rfc3339()
        let wasRunning = status.state == .running || status.state == .queued   // queued: in SLURM's hands
        if !(resuming && wasRunning) {
            // Written with the first step's start (beginAttempt), or by finish on a staging failure.
            transition { (s: inout JobStatus) throws(TransitionError) in try s.start(at: now) }
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
                status.skip(from: 0, detail: "not run: the job's owner has no account")
                await finish(.failed, error: JobErrorInfo(step: nil, message: "the job's owner (uid \(uid.map { String($0) } ?? "?")) has no account on this host any more; with run_as: owner a job runs as its owner", exitCode: nil))
                return
            }
            identity = who
        }
        await keepPlan(manifest)
        guard let workspace = await prepareWorkspace(manifest) else { return }

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
                    await markCancelled(index: index, by: by)
                    return
                }
                let attempt = resumeAttempt ?? status.steps[index].attempt + 1
                if resumeAttempt == nil { await beginAttempt(index: index, attempt: attempt) }
                var timeout = step.timeout?.seconds
                var timeoutReason = step.timeout.map { "step timeout \($0.text)" }
                if let deadline = jobDeadline {
                    let left = max(1, deadline - Timestamp.now())
                    if timeout == nil || left < timeout! { timeout = left; timeoutReason = "job timeout \(manifest.timeout!.text)" }
                }
                let outcome = await execute(step: step, index: index, attempt: attempt, resuming: resumeAttempt != nil,
                                            timeout: timeout, manifest: manifest, workspace: workspace)
                resumeAttempt = nil
                // The attempt's end was lost (a power cut tore or lost its records, or its
                // supervisor was killed before it recorded one): recorded as interrupted and run
                // again as a new attempt, not counted against retries — a few times in a row at
                // most, then it is a failure like any other.
                if outcome.kind == .interrupted && cancelledNow() == nil && interruptionsThisRun < Self.maxInterruptions {
                    interruptionsThisRun += 1
                    let message = "step \(step.name) attempt \(attempt) was interrupted (\(outcome.summary)); it runs again"
                    endAttempt(index: index, outcome: outcome, state: .interrupted, message: message)
                    await save(event: JobEvent(event: "interrupted", state: .running, step: step.name, message: message), durable: true)
                    logger.warning("step.interrupted", metadata: ["step.name": "\(step.name)", "step.attempt": "\(attempt)", "reason": "\(outcome.summary)"])
                    continue
                }
                if outcome.kind == .cancelled || cancelledNow() != nil {
                    endAttempt(index: index, outcome: outcome, state: .cancelled, message: "cancelled")
                    await markCancelled(index: index, by: cancelledNow() ?? "request")
                    return
                }
                if outcome.succeeded {
                    endAttempt(index: index, outcome: outcome, state: .completed, message: nil)
                    if let problem = await publish(step: step) {
                        transition { (s: inout JobStatus) throws(TransitionError) in try s.failCompletedStep(index, detail: problem) }
                        status.skip(from: index + 1, detail: "not run: an earlier step failed")
                        await finish(.failed, error: JobErrorInfo(step: step.name, message: problem, exitCode: nil))
                        return
                    }
                    // The job's end makes the outcome durable (finish); a step with more to come
                    // does it here, before the next step starts.
                    if index + 1 < manifest.resolvedSteps.count { await save(event: nil, durable: true) }
                    break
                }
                var message = outcome.kind == .failedToStart ? "step \(step.name): \(outcome.summary)" : "step \(step.name) \(outcome.summary)"
                if outcome.kind == .timeout, let reason = timeoutReason { message = "step \(step.name) timed out (\(reason))" }
                endAttempt(index: index, outcome: outcome, state: .failed, message: message)
                failuresThisRun += 1
                let jobExpired = jobDeadline.map { Timestamp.now() >= $0 } ?? false
                if failuresThisRun <= retries && !jobExpired {
                    await save(event: nil, durable: true)   // the failed attempt's outcome, before the next one
                    let delay = settings.retryBackoff.delay(afterFailures: failuresThisRun)
                    JobRunner.event(layout, id, JobEvent(event: "retry", state: .running, step: step.name,
                        message: "\(message); attempt \(attempt + 1) of \(retries + 1) in \(delay) s"))
                    logger.notice("step.retry", metadata: ["step.name": "\(step.name)", "step.attempt": "\(attempt)"])
                    try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))   // silent: a cancel is seen at the loop's top
                    continue
                }
                status.skip(from: index + 1, detail: "not run: an earlier step failed")
                await finish(.failed, error: JobErrorInfo(step: step.name, message: message, exitCode: outcome.exitCode))
                return
            }
        }
        await finish(.completed, error: nil)
    }

    /// The job's workspace, staged with its inputs; nil when that failed (the job has failed).
    private func prepareWorkspace(_ manifest: JobManifest) async -> PreparedWorkspace? {
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
            let jobID = id
            return try await AsUser.run(identity) {
                let prepared = try Workspace.prepare(path: path, jobID: jobID, manifest: manifest, spoolRoot: root)
                try? FileOps.makeDirectory(logs)   // silent: intake made it (a group's job: made here); the supervisor reports a log it cannot open
                return prepared
            }
        } catch {
            let message = (error as? StagingError)?.message ?? "\(error)"
            status.skip(from: 0, detail: "not run: the inputs could not be staged")
            await finish(.failed, error: JobErrorInfo(step: nil, message: message, exitCode: nil))
            return nil
        }
    }

    /// One attempt through the job's executor (StepExecutor): local, SLURM or adopted alike.
    private func execute(step: Step, index: Int, attempt: Int, resuming: Bool, timeout: Double?,
                         manifest: JobManifest, workspace: PreparedWorkspace) async -> StepOutcome {
        let logPath = layout.folder(id).log(step: step.name)
        var launch = StepLaunch(
            jobID: id, step: step.name, attempt: attempt, workspace: workspace.path,
            logPath: logPath, command: .argv([]),
            environment: environment(step: step.name, attempt: attempt, manifest: manifest, workspace: workspace),
            timeout: timeout, grace: settings.grace, logCap: settings.logCap)
        launch.user = identity      // run_as: owner (sbatch as the owner, so SLURM runs the job as them)
        launch.syncRecord = false   // the outcome is made durable in status.json
        let params = manifest.params
        let request = StepRun(launch: launch, step: step, manifest: manifest, queue: status.queue, group: status.group, resuming: resuming) { [self] in
            await command(for: step, workspace: workspace, attempt: attempt, params: params)
        }
        let tail = progressTail(step: step, index: index, logPath: logPath)
        let executor = executors.executor(for: status.executor.kind)
        let (outcome, executorID) = await executor.execute(request) { [self] update in
            await apply(update, index: index)
        }
        tail?.cancel()
        await tail?.value
        if case .snakemake = step.kind { await keepSnakemakeLog(step: step.name, workspace: workspace.path) }
        if let executorID { status.executor.id = executorID }
        // Out of a cluster's queue: the attempt's end is recorded by the caller.
        status.state = .running
        if status.steps[index].state == .queued { status.steps[index].state = .running }
        return outcome
    }
}
