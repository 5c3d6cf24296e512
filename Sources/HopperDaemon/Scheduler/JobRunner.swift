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
    private let owner = Mutex<FileIdentity?>(nil)
    var identity: FileIdentity? { owner.withLock { $0 } }
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let cancelledBy = Mutex<String?>(nil)
    /// Counts status.json writes; held while writing, so writes are ordered and a deferred one
    /// that has been overtaken is dropped (see `saveSoon`).
    private let statusWrites = Mutex<UInt64>(0)
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

    // MARK: - Steps

    /// The command of a new attempt; nil when it cannot run (Snakemake missing).
    func command(for step: Step, workspace: PreparedWorkspace, attempt: Int, params: [String: ParamValue] = [:]) async -> StepCommand? {
        switch step.kind {
        case .run(let script):
            return .shell(script)
        case .mock(let mock):
            // The job's params `duration` and `fail_rate`, when given, override every mock step's
            // (the demo workflow declares them, so each demo job can choose).
            var seconds = mock.duration.seconds, failRate = mock.failRate
            if case .string(let text)? = params["duration"], let d = DurationValue(text) { seconds = d.seconds }
            switch params["fail_rate"] {
            case .number(let r)?: failRate = r
            case .integer(let r)?: failRate = Double(r)
            default: break
            }
            return .mock(seconds: seconds, failRate: failRate, seed: UInt64(mock.seed ?? 0))
        case .snakemake(let sm):
            guard let snakemake = settings.snakemake else { return nil }
            // A killed run leaves its lock; no attempt of this step runs now, so it is stale.
            let path = workspace.path
            let cleared = await AsUser.run(identity) { Snakemake.clearStaleLocks(workspace: path) } ?? 0
            if cleared > 0 {
                JobRunner.event(layout, id, JobEvent(event: "snakemake_unlocked", state: .running, step: step.name,
                                                     message: "removed \(cleared) stale Snakemake lock file(s) left by an earlier run"))
            }
            var argv = Snakemake.argv(executable: snakemake, step: sm, workspace: workspace.path, rerun: true)
            // A `rerun` request redoes the step's work; Snakemake alone would find it up to date.
            let forced = layout.jobWorkspace(id).rerunMarker(step: step.name)
            let removed: Bool? = await AsUser.run(identity) { () -> Bool in unlink(forced) == 0 }
            if removed == true { argv.insert("--forceall", at: argv.count - sm.targets.count) }
            return .argv(argv)
        }
    }

    /// While a Snakemake step runs: reads its log as it grows and publishes its progress
    /// ("rule call (3 of 10)") into status.json. Nil for other steps. `live` is the status the
    /// progress goes into (for a SLURM step, shared with the updates of its poll rounds).
    func progressTail(step: Step, live: LiveStatus, index: Int, logPath: String) -> Task<Void, Never>? {
        guard case .snakemake = step.kind else { return nil }
        let start = (try? FileOps.lstat(logPath)).flatMap { $0 }.map { Int64($0.st_size) } ?? 0   // silent: no log yet: from its start
        return Task { [self] in
            var parser = SnakemakeProgress()
            var offset = start
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(300))   // silent: cancelled ends the loop
                let chunk = JobRunner.readFrom(logPath, offset: offset)
                offset += Int64(chunk.count)
                guard parser.consume(chunk) else { continue }
                let fraction = parser.fraction
                let detail = parser.detail
                let copy: JobStatus = live.value.withLock { s in
                    s.steps[index].progress = fraction
                    s.steps[index].detail = detail
                    s.progress = JobRunner.progress(s)
                    return s
                }
                await save(copy, event: nil)
            }
        }
    }

    /// Appends the log Snakemake wrote in the workspace (`.snakemake/log/`, newest) to
    /// `logs/<step>.snakemake.log` in the outbox, beside the step's own log.
    func keepSnakemakeLog(step: String, workspace: String) async {
        let dir = workspace + "/.snakemake/log"
        let target = layout.folder(id).snakemakeLog(step: step)
        _ = await AsUser.run(identity) {
            // silent: Snakemake's own log is a copy kept for convenience; the step's log has its output.
            let names = ((try? FileOps.listDirectory(dir)) ?? []).filter { $0.hasSuffix(".snakemake.log") }.sorted()
            guard let newest = names.last, let bytes = try? FileOps.readFile(dir + "/" + newest, limit: 64 << 20) else { return }   // silent: as above
            try? FileOps.appendLine(target, Array("==> \(newest) <==\n".utf8) + bytes)   // silent: as above
        }
    }

    /// Bytes of a file from `offset` on (at most 1 MiB).
    static func readFrom(_ path: String, offset: Int64) -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { Glibc.close(fd) }
        guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { return [] }
        return (try? FileOps.readUpTo(fd, limit: 1 << 20, path: path)) ?? []   // silent: progress is read again in 300 ms
    }

    func environment(step: String, attempt: Int, manifest: JobManifest, workspace: PreparedWorkspace) -> [String: String] {
        var env: [String: String] = [:]
        for key in ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"] {
            if let v = ProcessEnvironment.value(key) { env[key] = v }
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        if let who = identity {
            env["HOME"] = who.home
            env["USER"] = who.name
            env["LOGNAME"] = who.name
        }
        env["TMPDIR"] = workspace.path + "/tmp"
        env["HOPPER_JOB_ID"] = id
        env["HOPPER_STEP"] = step
        env["HOPPER_WORKSPACE"] = workspace.path
        env["HOPPER_ATTEMPT"] = String(attempt)
        if let dir = settings.workflowDirectory { env["HOPPER_WORKFLOW_DIR"] = dir }
        for (name, value) in manifest.params { env["HOPPER_PARAM_" + Names.environmentName(name)] = value.stringValue }
        for (name, path) in workspace.inputs { env["HOPPER_INPUT_" + Names.environmentName(name)] = path }
        return env
    }

    func beginAttempt(_ status: inout JobStatus, index: Int, attempt: Int) async {
        let now = Timestamp.rfc3339()
        transition(&status) { (s: inout JobStatus) throws(TransitionError) in try s.beginAttempt(step: index, attempt: attempt, at: now) }
        let step = status.steps[index]
        await saveSoon(status, event: JobEvent(event: "step_started", state: .running, step: step.name, message: "attempt \(attempt)"))
        logger.info("step.started", metadata: ["step.name": "\(step.name)", "step.attempt": "\(attempt)"])
    }

    func endAttempt(_ status: inout JobStatus, index: Int, outcome: StepOutcome, state: StepState, message: String?) {
        if let start = outcome.startedAt, let end = outcome.finishedAt, end >= start { metrics.observeStep(seconds: end - start) }
        let finished = outcome.finishedAt.map { Timestamp.rfc3339($0) } ?? Timestamp.rfc3339()
        var detail = message
        if outcome.logDropped > 0 { detail = (message.map { $0 + "; " } ?? "") + "log capped, \(outcome.logDropped) bytes dropped" }
        transition(&status) { (s: inout JobStatus) throws(TransitionError) in
            try s.endAttempt(step: index, as: state, exitCode: outcome.exitCode, summary: outcome.summary, detail: detail, at: finished)
        }
        let step = status.steps[index]
        JobRunner.event(layout, id, JobEvent(event: "step_finished", state: .running, step: step.name,
                                             message: "attempt \(step.attempt) \(state.rawValue): \(outcome.summary)"))
        logger.info("step.finished", metadata: ["step.name": "\(step.name)", "step.attempt": "\(step.attempt)",
                                                "step.state": "\(state.rawValue)", "step.exit_code": "\(outcome.exitCode.map(String.init) ?? "-")"])
    }

    /// Publishes a completed step's outputs; returns a problem that fails the job, or nil.
    func publish(step: Step, status: inout JobStatus) async -> String? {
        guard !step.outputs.isEmpty else { return nil }
        let publisher = ResultPublisher(workspace: layout.workspace(id), results: layout.folder(id).results,
                                        maxBytes: settings.maxResultSize)
        do {
            let previous = status.results
            let (report, all) = try await AsUser.run(identity) { () throws -> (PublishReport, [ResultFile]) in
                let report = try publisher.publish(patterns: step.outputs)
                var byPath: [String: ResultFile] = [:]
                for r in previous { byPath[r.path] = r }
                for r in report.files { byPath[r.path] = r }
                let all = byPath.keys.sorted().map { byPath[$0]! }
                try publisher.writeChecksums(all)
                return (report, all)
            }
            status.results = all
            for warning in report.warnings + report.unmatched.map({ "output pattern \($0) matched no file" }) {
                JobRunner.event(layout, id, JobEvent(event: "results_warning", state: .running, step: step.name, message: warning))
            }
            return nil
        } catch {
            return "publishing the results of step \(step.name) failed: \(error)"
        }
    }

    func skipRemaining(_ status: inout JobStatus, from index: Int, detail: String) {
        status.skip(from: index, detail: detail)
    }

    func markCancelled(_ status: inout JobStatus, index: Int, by user: String) async {
        let now = Timestamp.rfc3339()
        transition(&status) { (s: inout JobStatus) throws(TransitionError) in try s.cancelRunning(step: index, at: now) }
        await save(status, event: JobEvent(event: "cancelled", state: .cancelled, step: nil, message: "cancelled by \(user)"), durable: true)
        storeSetState(.cancelled)
        logger.info("job.finished", metadata: ["job.state": "cancelled", "job.error": "-"])
    }

    func finish(_ status: inout JobStatus, state: JobState, error: JobErrorInfo?, message: String? = nil) async {
        let now = Timestamp.rfc3339()
        transition(&status) { (s: inout JobStatus) throws(TransitionError) in try s.finish(state, error: error, at: now) }
        await save(status, event: JobEvent(event: state.rawValue, state: state, step: error?.step, message: message ?? error?.message), durable: true)
        storeSetState(state)
        logger.info("job.finished", metadata: ["job.state": "\(state.rawValue)", "job.error": "\(error?.message ?? "-")"])
    }

    /// Applies a transition of the state diagram (Transitions.swift). One the diagram does not
    /// have is a bug: logged with the job and the states, and the status is left as it was.
    func transition(_ status: inout JobStatus, _ change: (inout JobStatus) throws(TransitionError) -> Void) {
        var next = status
        do {
            try change(&next)
            status = next
        } catch {
            logger.error("status.invalid_transition", metadata: ["error": "\(error)"])
        }
    }

    /// The store follows the spool: a failure is logged (the spool stays the truth, and the
    /// store is reconciled with it at the next start).
    func storeSetState(_ state: JobState) {
        do { try store.setState(id: id, state: state) } catch {
            logger.error("store.update_failed", metadata: ["job.state": "\(state.rawValue)", "error": "\(error)"])
        }
    }

    func cancelledNow() -> String? {
        if let by = cancelledBy.withLock({ $0 }) { return by }
        return Task.isCancelled ? "request" : nil
    }

    /// Writes status.json (and the event line) off the concurrency pool. A durable write (a
    /// step's outcome, a terminal state) goes through the daemon's GroupCommit, which makes
    /// the statuses of many jobs durable in one disk commit; the event line is not fsynced
    /// (status.json is the record, events.jsonl the history).
    func save(_ status: JobStatus, event: JobEvent?, durable: Bool = false) async {
        if durable {
            // Overtakes any deferred write of an earlier status (saveSoon) before it is issued.
            statusWrites.withLock { $0 += 1 }
            await writeDurably(status)
            if let event { await BlockingIO.run { [self] in JobRunner.event(layout, id, event) } }
            return
        }
        await BlockingIO.run { [self] in
            statusWrites.withLock { generation in
                generation += 1
                writeStatus(status)
            }
            if let event { JobRunner.event(layout, id, event) }
        }
    }

    /// A durable status write that waits for space: on a full disk (ENOSPC, EDQUOT) it is tried
    /// again, 0.5 s, 1 s, … 10 s apart, until it is written — a job never stays `pending` or
    /// `running` on disk after the daemon has finished with it. Said once in the log.
    func writeDurably(_ status: JobStatus) async {
        let bytes: [UInt8]
        do { bytes = try JSON.pretty(status) } catch {
            logger.error("status.write_failed", metadata: ["error": "\(error)"])
            return
        }
        var delay = 0.5
        var waited = false
        while true {
            do {
                try await settings.commits.write(layout.status(id), bytes)
                if waited { logger.notice("status.written", metadata: ["job.state": "\(status.state.rawValue)", "after": "waiting for space"]) }
                return
            } catch {
                guard error.errno == ENOSPC || error.errno == EDQUOT else {
                    logger.error("status.write_failed", metadata: ["error": "\(error)"])
                    return
                }
                if !waited {
                    logger.error("status.write_waiting", metadata: ["job.state": "\(status.state.rawValue)", "error": "\(error)",
                                                                    "action": "written as soon as space returns"])
                    waited = true
                }
                // Detached: a cancelled job (its task cancelled) still waits, not spins.
                let ms = Int64(delay * 1000)
                await Task.detached { try? await Task.sleep(for: .milliseconds(ms)) }.value   // silent: never cancelled
                delay = min(10, delay * 2)
            }
        }
    }

    /// Like `save`, but the status is written only if nothing else is saved within
    /// `startCoalescing` (the event line is written now). For a step's start: a trivial step is
    /// over before its start would reach the disk, and status.json goes from the previous state
    /// to the step's end directly — one file write fewer per step. A reader still sees a
    /// running step's status within that time; events.jsonl has every start.
    func saveSoon(_ status: JobStatus, event: JobEvent?) async {
        let mine = statusWrites.withLock { generation -> UInt64 in
            generation += 1
            return generation
        }
        if let event { await BlockingIO.run { [self] in JobRunner.event(layout, id, event) } }
        Task.detached { [self] in
            try? await Task.sleep(for: JobRunner.startCoalescing)   // silent: never cancelled
            await BlockingIO.run { [self] in
                statusWrites.withLock { generation in
                    guard generation == mine else { return }   // overtaken by a newer status
                    writeStatus(status)
                }
            }
        }
    }

    /// Hands the status to the GroupCommit without waiting (called under `statusWrites`, so
    /// the order of writes is the order of the generations). Every status.json write is made
    /// durable before it replaces the old one: written, fsynced, renamed. A rename that
    /// reached the disk before the bytes it names would leave an empty status.json after a
    /// power cut (LazyFS shows it; so do XFS and ext4 without auto_da_alloc), and the job's
    /// history with it.
    private func writeStatus(_ status: JobStatus) {
        let logger = self.logger
        do {
            settings.commits.enqueue(layout.status(id), try JSON.pretty(status)) { failure in
                if let failure { logger.error("status.write_failed", metadata: ["error": "\(failure)"]) }
            }
        } catch {
            logger.error("status.write_failed", metadata: ["error": "\(error)"])
        }
    }

    func loadPlan(_ status: JobStatus) -> JobManifest? {
        if let text = store.logged("plan", job: id, logger: logger, { try $0.plan(id: id) }) ?? nil, let plan = Plan.decode(text) { return plan }
        // No plan stored (a job indexed by recovery): resolve the manifest now.
        // silent: an unreadable manifest fails the job with "the job's plan cannot be read".
        guard let bytes = try? FileOps.readFile(layout.manifest(id), limit: 1 << 20),
              case .success(.job(let manifest)) = ManifestParser.parse(bytes, fileName: "manifest.yaml", catalog: catalog)
        else { return nil }
        _ = store.logged("setPlan", job: id, logger: logger) { try $0.setPlan(id: id, plan: Plan.encode(manifest)) }
        return manifest
    }

    // MARK: - Shared helpers (also for jobs that are not running)

    static func progress(_ status: JobStatus) -> Double { status.computedProgress }

    static func readStatus(_ layout: SpoolLayout, _ id: String) -> JobStatus? { layout.folder(id).readStatus() }

    /// Appends to events.jsonl. The history is best effort: status.json is the record, so a
    /// failed append is logged and the job goes on.
    static func event(_ layout: SpoolLayout, _ id: String, _ event: JobEvent, durable: Bool = false, logger: Logger? = nil) {
        do { try layout.folder(id).appendEvent(event, durable ? .durable : .atomic) } catch {
            (logger ?? Logger(label: "hopper")).warning("events.append_failed", metadata: ["job.id": "\(id)", "event": "\(event.event)", "error": "\(error)"])
        }
    }

    static func write(_ layout: SpoolLayout, _ status: JobStatus, durable: Bool, logger: Logger) {
        do { try layout.folder(status.id).writeStatus(status, durable ? .durable : .atomic) } catch {
            logger.error("status.write_failed", metadata: ["job.id": "\(status.id)", "error": "\(error)"])
        }
    }

    static func setState(_ store: JobStore, _ id: String, _ state: JobState, logger: Logger) {
        do { try store.setState(id: id, state: state) } catch {
            logger.error("store.update_failed", metadata: ["job.id": "\(id)", "job.state": "\(state.rawValue)", "error": "\(error)"])
        }
    }

    /// A pending job cancelled before it started: it never starts.
    static func cancelPending(id: String, layout: SpoolLayout, store: JobStore, by user: String, logger: Logger) {
        guard var status = readStatus(layout, id) else { return }
        event(layout, id, JobEvent(event: "request", state: nil, message: "cancel: accepted by \(user)"), logger: logger)
        do { try status.cancelBeforeStart(at: Timestamp.rfc3339()) } catch {
            logger.error("status.invalid_transition", metadata: ["job.id": "\(id)", "error": "\(error)"])
            return
        }
        write(layout, status, durable: true, logger: logger)
        event(layout, id, JobEvent(event: "cancelled", state: .cancelled, message: "cancelled by \(user) before it started"), durable: true, logger: logger)
        setState(store, id, .cancelled, logger: logger)
    }

    /// retry (steps nil: every unfinished step) or rerun (steps: these, or all when empty):
    /// the steps go back to pending (their attempts stay in the history), the job to pending.
    /// Returns the marker files to create (`.hopper/<step>.rerun`, with the job owner's rights).
    @discardableResult
    static func requeue(id: String, layout: SpoolLayout, store: JobStore, steps: [String]?, action: ControlAction, by user: String, logger: Logger) -> [String] {
        var markers: [String] = []
        guard var status = readStatus(layout, id) else { return markers }
        do { try status.requeue(action, steps: steps) } catch {
            logger.error("status.invalid_transition", metadata: ["job.id": "\(id)", "error": "\(error)"])
            return markers
        }
        if action == .rerun {
            // Marks for the runner: these steps' Snakemake runs are forced (--forceall).
            let workspace = layout.jobWorkspace(id)
            for step in status.steps where steps.map({ $0.isEmpty || $0.contains(step.name) }) ?? false {
                markers.append(workspace.rerunMarker(step: step.name))
            }
        }
        let which = steps.map { $0.isEmpty ? "all steps" : $0.joined(separator: ", ") } ?? "from the first unfinished step"
        event(layout, id, JobEvent(event: "request", state: .pending, message: "\(action.rawValue): accepted by \(user) (\(which))"), logger: logger)
        write(layout, status, durable: true, logger: logger)
        setState(store, id, .pending, logger: logger)
        return markers
    }

    /// Removes the workspace of a finished job; the outbox stays.
    static func clean(id: String, layout: SpoolLayout, by user: String, logger: Logger) async {
        let path = layout.workspace(id)
        let existed = FileOps.exists(path)
        do {
            try await AsUser.removeTree(path)
            event(layout, id, JobEvent(event: "request", state: nil,
                                       message: "clean: accepted by \(user); " + (existed ? "workspace removed" : "there was no workspace")))
        } catch {
            event(layout, id, JobEvent(event: "request", state: nil, message: "clean: accepted by \(user); removing the workspace failed: \(error)"))
        }
    }
}
