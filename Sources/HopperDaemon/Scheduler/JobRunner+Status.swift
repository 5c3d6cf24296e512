// JobRunner+Status — the job's status: its transitions (Transitions.swift) and how each is
// written (durable through the GroupCommit, deferred for a step's start, waiting for space).
import HopperCore
import HopperExec
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension JobRunner {
    func beginAttempt(index: Int, attempt: Int) async {
        let now = Timestamp.rfc3339()
        transition { (s: inout JobStatus) throws(TransitionError) in try s.beginAttempt(step: index, attempt: attempt, at: now) }
        let step = status.steps[index]
        await saveSoon(event: JobEvent(event: "step_started", state: .running, step: step.name, message: "attempt \(attempt)"))
        logger.info("step.started", metadata: ["step.name": "\(step.name)", "step.attempt": "\(attempt)"])
    }

    func endAttempt(index: Int, outcome: StepOutcome, state: StepState, message: String?) {
        if let start = outcome.startedAt, let end = outcome.finishedAt, end >= start { metrics.observeStep(seconds: end - start) }
        let finished = outcome.finishedAt.map { Timestamp.rfc3339($0) } ?? Timestamp.rfc3339()
        var detail = message
        if outcome.logDropped > 0 { detail = (message.map { $0 + "; " } ?? "") + "log capped, \(outcome.logDropped) bytes dropped" }
        transition { (s: inout JobStatus) throws(TransitionError) in
            try s.endAttempt(step: index, as: state, exitCode: outcome.exitCode, summary: outcome.summary, detail: detail, at: finished)
        }
        let step = status.steps[index]
        JobRunner.event(layout, id, JobEvent(event: "step_finished", state: .running, step: step.name,
                                             message: "attempt \(step.attempt) \(state.rawValue): \(outcome.summary)"))
        logger.info("step.finished", metadata: ["step.name": "\(step.name)", "step.attempt": "\(step.attempt)",
                                                "step.state": "\(state.rawValue)", "step.exit_code": "\(outcome.exitCode.map(String.init) ?? "-")"])
    }

    func markCancelled(index: Int, by user: String) async {
        let now = Timestamp.rfc3339()
        transition { (s: inout JobStatus) throws(TransitionError) in try s.cancelRunning(step: index, at: now) }
        await writeCrate()
        await save(event: JobEvent(event: "cancelled", state: .cancelled, step: nil, message: "cancelled by \(user)"), durable: true)
        storeSetState(.cancelled)
        logger.info("job.finished", metadata: ["job.state": "cancelled", "job.error": "-"])
    }

    func finish(_ state: JobState, error: JobErrorInfo?, message: String? = nil) async {
        let now = Timestamp.rfc3339()
        transition { (s: inout JobStatus) throws(TransitionError) in try s.finish(state, error: error, at: now) }
        await writeCrate()
        await save(event: JobEvent(event: state.rawValue, state: state, step: error?.step, message: message ?? error?.message), durable: true)
        storeSetState(state)
        logger.info("job.finished", metadata: ["job.state": "\(state.rawValue)", "job.error": "\(error?.message ?? "-")"])
    }

    /// Applies a transition of the state diagram (Transitions.swift). One the diagram does not
    /// have is a bug: logged with the job and the states, and the status is left as it was.
    func transition(_ change: (inout JobStatus) throws(TransitionError) -> Void) {
        _ = JobRunner.apply(&status, logger: logger, change)
    }

    /// `change` applied to `status` when the diagram has it (true); else logged
    /// (`status.invalid_transition`, with the job) and `status` left as it was (false).
    static func apply(_ status: inout JobStatus, logger: Logger, _ change: (inout JobStatus) throws(TransitionError) -> Void) -> Bool {
        var next = status
        do {
            try change(&next)
            status = next
            return true
        } catch {
            logger.error("status.invalid_transition", metadata: ["job.id": "\(status.id)", "error": "\(error)"])
            return false
        }
    }

    /// The store follows the spool: a failure is logged (the spool stays the truth, and the
    /// store is reconciled with it at the next start).
    func storeSetState(_ state: JobState) {
        JobRunner.setState(store, id, state, logger: logger)
    }

    func cancelledNow() -> String? {
        if let by = cancelledBy { return by }
        return Task.isCancelled ? "request" : nil
    }

    /// Appends the event line (off the concurrency pool), then writes the status as it is now
    /// to status.json. Every write goes through the daemon's GroupCommit, in the order they are made; a
    /// durable one (a step's outcome, a terminal state) waits until it is on disk, many jobs'
    /// statuses in one disk commit. The event line is not fsynced (status.json is the record,
    /// events.jsonl the history).
    func save(event: JobEvent?, durable: Bool = false) async {
        // Overtakes any deferred write of an earlier status (saveSoon) before it is issued.
        statusWrites += 1
        // The event first: whoever sees a state in status.json finds its event in events.jsonl
        // (with the status first, a reader that waited for `completed` could read the history
        // without it — seen in CI under load).
        if let event { await BlockingIO.run { [layout, id] in JobRunner.event(layout, id, event) } }
        if durable {
            await writeDurably(status)
        } else {
            writeStatus(status)
        }
    }

    /// A durable status write that does not give up: a write that fails (a full disk, ENOSPC or
    /// EDQUOT; a shared drive gone for a moment, EIO or ENOTCONN) is tried again, 0.5 s, 1 s, …
    /// 10 s apart, until it is written — and only then does the store hear of the new state — so
    /// a job never stays `pending` or `running` on disk after the daemon has finished with it,
    /// nor does the store say otherwise. Said once in the log.
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
                settings.pageSignals?.wrote(status)
                if waited { logger.notice("status.written", metadata: ["job.state": "\(status.state.rawValue)", "after": "waiting for space"]) }
                return
            } catch {
                if !waited {
                    logger.error("status.write_waiting", metadata: ["job.state": "\(status.state.rawValue)", "error": "\(error)",
                                                                    "action": "tried again until it is written"])
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
    func saveSoon(event: JobEvent?) async {
        statusWrites += 1
        let mine = statusWrites
        let snapshot = status
        if let event { await BlockingIO.run { [layout, id] in JobRunner.event(layout, id, event) } }
        Task.detached { [self] in
            try? await Task.sleep(for: JobRunner.startCoalescing)   // silent: never cancelled
            await writeUnlessOvertaken(mine, snapshot)
        }
    }

    /// The deferred write of `saveSoon`, unless a newer status was saved since.
    private func writeUnlessOvertaken(_ generation: UInt64, _ snapshot: JobStatus) {
        guard statusWrites == generation else { return }
        writeStatus(snapshot)
    }

    /// Hands the status to the GroupCommit without waiting (in the actor, so the order of
    /// writes is the order they were made in). Every status.json write is made
    /// durable before it replaces the old one: written, fsynced, renamed. A rename that
    /// reached the disk before the bytes it names would leave an empty status.json after a
    /// power cut (LazyFS shows it; so do XFS and ext4 without auto_da_alloc), and the job's
    /// history with it.
    func writeStatus(_ status: JobStatus) {
        let logger = self.logger
        do {
            let signals = settings.pageSignals
            settings.commits.enqueue(layout.status(id), try JSON.pretty(status)) { failure in
                if let failure { logger.error("status.write_failed", metadata: ["error": "\(failure)"]) } else { signals?.wrote(status) }
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
}
