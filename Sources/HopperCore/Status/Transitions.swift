// Transitions — how a job's status changes, as pure functions on JobStatus (no files, no
// clock: the caller passes the time). The daemon's runner and scheduler call these and nothing
// else to change a status; the unit tests walk every edge of the diagram, valid and invalid.
//
//   job:   pending ⇄ waiting (wait, waitOver: wait_for paths); pending | waiting ─ failBeforeStart ─→ failed
//          pending ─┬─ start ──→ running ─┬─ finish(completed | failed) ──→ completed | failed
//   (waiting,       │                     └─ cancelRunning ─────────────→ cancelled
//    queued)        └─ cancelBeforeStart ─────────────────────────────→ cancelled
//          completed | failed | cancelled ─ requeue (retry: failed | cancelled; rerun) ─→ pending
//
//   step:  pending | failed | interrupted ─ beginAttempt ─→ running ─ endAttempt ─→ completed | failed
//          | cancelled | interrupted (a failed step begins its next attempt: a retry; an
//          interrupted one, whose end a power cut lost, too); not yet completed ─ skip ─→ skipped
//
// Which job states a control action applies to is written here once (`ControlAction.appliesTo`)
// and used by the CLI (refusing before it writes) and the daemon (refusing what arrives).

/// A transition the state diagram does not have.
public struct TransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var job: String
    public var action: String
    public var state: String
    public var description: String { "job \(job): cannot \(action) in state \(state)" }
    public init(job: String, action: String, state: String) {
        self.job = job; self.action = action; self.state = state
    }
}

extension ControlAction {
    /// The states in which the action means something.
    public var appliesTo: [JobState] {
        switch self {
        case .cancel: [.pending, .waiting, .queued, .running]
        case .retry: [.failed, .cancelled]
        case .rerun, .clean: [.completed, .failed, .cancelled]
        }
    }

    /// "pending, waiting, queued or running"
    public var appliesToText: String {
        let names = appliesTo.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// Why the action does not apply to a job in `state`, or nil when it does.
    public func refusal(job id: String, state: JobState) -> String? {
        appliesTo.contains(state) ? nil : "job \(id) is \(state.rawValue); \(rawValue) applies to \(appliesToText) jobs"
    }

    /// Why retry or rerun cannot work for a job that ran and whose workspace is gone (`clean`,
    /// retention), or nil. The steps it would keep lost their outputs with the workspace: a
    /// retry that keeps completed steps, or a rerun of some steps, is refused; a rerun of every
    /// step stages the inputs afresh and runs. `steps`: a rerun's steps (nil or empty: all).
    public func cleanedRefusal(_ status: JobStatus, steps: [String]?) -> String? {
        guard status.startedAt != nil else { return nil }
        let completed = status.steps.filter { $0.state == .completed }.map(\.name)
        let why = "job \(status.id) was cleaned (its workspace is gone, and with it what its completed steps made)"
        switch self {
        case .retry where !completed.isEmpty:
            return "\(why): a retry would keep \(completed.joined(separator: ", ")); rerun every step with `hopper rerun \(status.id)`"
        case .rerun:
            guard let steps, !steps.isEmpty, Set(steps) != Set(status.steps.map(\.name)) else { return nil }
            return "\(why): rerun every step with `hopper rerun \(status.id)`, without --step"
        default:
            return nil
        }
    }
}

extension JobStatus {
    /// pending, waiting or queued → running (a new run; a job resumed after a restart is
    /// already running and is not started again).
    public mutating func start(at now: String) throws(TransitionError) {
        guard state == .pending || state == .waiting || state == .queued else { throw refused("start") }
        state = .running
        if startedAt == nil { startedAt = now }
        finishedAt = nil
        error = nil
        waitingFor = nil
    }

    /// A new attempt of step `index` (pending, or failed and retried) begins: running.
    public mutating func beginAttempt(step index: Int, attempt: Int, at now: String) throws(TransitionError) {
        guard state == .running, steps.indices.contains(index) else { throw refused("begin an attempt of step \(index)") }
        var step = steps[index]
        guard step.state == .pending || step.state == .failed || step.state == .interrupted, attempt > step.attempt else {
            throw refused("begin attempt \(attempt) of step \(step.name) (\(step.state.rawValue), attempt \(step.attempt))")
        }
        step.state = .running
        step.attempt = attempt
        step.startedAt = now
        step.finishedAt = nil
        step.exitCode = nil
        step.detail = nil
        step.progress = nil
        step.log = JobFolder.logRelative(step: step.name)
        step.attempts.append(StepAttempt(attempt: attempt, state: .running, startedAt: now))
        steps[index] = step
        currentStep = step.name
        progress = computedProgress
    }

    /// The running attempt of step `index` ended: completed, failed or cancelled, with its exit
    /// code and `summary` ("exited with 1") in its history, and `detail` on the step.
    public mutating func endAttempt(step index: Int, as end: StepState, exitCode: Int?, summary: String,
                                    detail: String?, at finished: String) throws(TransitionError) {
        guard steps.indices.contains(index), end == .completed || end == .failed || end == .cancelled || end == .interrupted else {
            throw refused("end an attempt of step \(index) as \(end.rawValue)")
        }
        var step = steps[index]
        guard step.state == .running || step.state == .queued else {
            throw refused("end an attempt of step \(step.name) (\(step.state.rawValue))")
        }
        step.state = end
        step.finishedAt = finished
        step.exitCode = exitCode
        step.detail = detail
        if let i = step.attempts.lastIndex(where: { $0.attempt == step.attempt }) {
            step.attempts[i].state = end
            step.attempts[i].finishedAt = finished
            step.attempts[i].exitCode = exitCode
            step.attempts[i].message = end == .completed ? nil : summary
        } else {
            step.attempts.append(StepAttempt(attempt: step.attempt, state: end, startedAt: step.startedAt, finishedAt: finished,
                                             exitCode: exitCode, message: summary))
        }
        steps[index] = step
        progress = computedProgress
    }

    /// A completed step whose results could not be published fails after all.
    public mutating func failCompletedStep(_ index: Int, detail: String) throws(TransitionError) {
        guard steps.indices.contains(index), steps[index].state == .completed else { throw refused("fail step \(index)") }
        steps[index].state = .failed
        steps[index].detail = detail
    }

    /// Every step from `index` on that has not completed is skipped, with the reason.
    public mutating func skip(from index: Int, detail: String) {
        guard index < steps.count else { return }
        for i in max(0, index)..<steps.count where steps[i].state != .completed {
            steps[i].state = .skipped
            steps[i].detail = detail
        }
    }

    /// A running job ends: completed or failed (with its error), or cancelled.
    public mutating func finish(_ end: JobState, error: JobErrorInfo?, at now: String) throws(TransitionError) {
        guard end.isTerminal, !state.isTerminal else { throw refused("finish as \(end.rawValue)") }
        state = end
        finishedAt = now
        currentStep = nil
        self.error = error
        progress = computedProgress
    }

    /// A running job is cancelled during step `index`: a step with an attempt is cancelled,
    /// one without is skipped, the rest are skipped; the job ends cancelled.
    public mutating func cancelRunning(step index: Int, at now: String) throws(TransitionError) {
        guard state == .running || state == .queued, steps.indices.contains(index) || steps.isEmpty else { throw refused("cancel") }
        if steps.indices.contains(index), steps[index].state == .running || steps[index].state == .pending {
            steps[index].state = steps[index].attempt > 0 ? .cancelled : .skipped
        }
        skip(from: index + 1, detail: "not run: the job was cancelled")
        try finish(.cancelled, error: nil, at: now)
    }

    /// pending (or still waiting) → waiting for the `wait_for` paths not there yet.
    public mutating func wait(for paths: [String]) throws(TransitionError) {
        guard state == .pending || state == .waiting else { throw refused("wait") }
        state = .waiting
        waitingFor = paths
    }

    /// waiting → pending: every wait_for path is there.
    public mutating func waitOver() throws(TransitionError) {
        guard state == .waiting || state == .pending else { throw refused("end its wait") }
        state = .pending
        waitingFor = nil
    }

    /// A job that never started fails (its wait_for timed out): pending steps are skipped.
    public mutating func failBeforeStart(_ message: String, skipDetail: String, at now: String) throws(TransitionError) {
        guard state == .pending || state == .waiting else { throw refused("fail before start") }
        for i in steps.indices where steps[i].state == .pending {
            steps[i].state = .skipped
            steps[i].detail = skipDetail
        }
        state = .failed
        finishedAt = now
        error = JobErrorInfo(step: nil, message: message, exitCode: nil)
        progress = computedProgress
    }

    /// A job cancelled before it started (pending, waiting, queued): it never starts.
    public mutating func cancelBeforeStart(at now: String) throws(TransitionError) {
        guard state == .pending || state == .waiting || state == .queued else { throw refused("cancel before start") }
        for i in steps.indices where steps[i].state == .pending {
            steps[i].state = .skipped
            steps[i].detail = "not run: the job was cancelled"
        }
        state = .cancelled
        waitingFor = nil
        finishedAt = now
        progress = computedProgress
    }

    /// `retry` (steps nil: every unfinished step again) or `rerun` (steps: these, or all when
    /// empty): the steps go back to pending — their attempts stay in the history — and the
    /// job to pending. Refused where the action does not apply.
    public mutating func requeue(_ action: ControlAction, steps names: [String]?) throws(TransitionError) {
        guard action == .retry || action == .rerun, action.appliesTo.contains(state) else { throw refused(action.rawValue) }
        for i in steps.indices {
            let reset = names.map { $0.isEmpty || $0.contains(steps[i].name) } ?? (steps[i].state != .completed)
            guard reset else { continue }
            steps[i].state = .pending
            steps[i].detail = nil
            steps[i].progress = nil
            steps[i].exitCode = nil
            steps[i].startedAt = nil
            steps[i].finishedAt = nil
        }
        state = .pending
        error = nil
        finishedAt = nil
        currentStep = nil
        progress = computedProgress
    }

    /// Done steps (completed or skipped) plus the running step's own progress, over all steps.
    public var computedProgress: Double {
        guard !steps.isEmpty else { return state == .completed ? 1 : 0 }
        var done = 0.0
        for step in steps {
            switch step.state {
            case .completed, .skipped: done += 1
            case .running: done += step.progress ?? 0
            default: break
            }
        }
        return min(1, done / Double(steps.count))
    }

    func refused(_ action: String) -> TransitionError {
        TransitionError(job: id, action: action, state: state.rawValue)
    }
}
