// Every edge of the status state diagram (Transitions.swift), the valid and the invalid ones.
import HopperCore
import Testing

@Suite struct TransitionTests {
    let t0 = "2026-12-03T10:00:00.000Z"
    let t1 = "2026-12-03T10:00:01.000Z"

    func job(_ state: JobState = .pending, steps: [StepState] = [.pending, .pending, .pending]) -> JobStatus {
        var s = JobStatus(id: "J1", state: state, workflow: nil, owner: "alice", queue: "default", priority: 0,
                          description: nil, submittedAt: t0, steps: [], executor: ExecutorInfo(kind: .local))
        s.steps = steps.enumerated().map { StepStatus(name: "s\($0.offset)", state: $0.element) }
        return s
    }

    /// A running job whose step 0 runs its first attempt.
    func running() throws -> JobStatus {
        var s = job()
        try s.start(at: t0)
        try s.beginAttempt(step: 0, attempt: 1, at: t0)
        return s
    }

    // MARK: - start

    @Test(arguments: [JobState.pending, .waiting, .queued])
    func startFromANotStartedState(_ from: JobState) throws {
        var s = job(from)
        s.waitingFor = ["data/x"]
        try s.start(at: t0)
        #expect(s.state == .running && s.startedAt == t0 && s.waitingFor == nil && s.finishedAt == nil && s.error == nil)
    }

    @Test(arguments: [JobState.running, .completed, .failed, .cancelled])
    func startIsRefusedOnceStarted(_ from: JobState) {
        var s = job(from)
        #expect(throws: TransitionError(job: "J1", action: "start", state: from.rawValue)) { try s.start(at: t0) }
        #expect(s.state == from)
    }

    @Test func aRestartedJobKeepsItsFirstStartTime() throws {
        var s = job()
        s.startedAt = "earlier"
        try s.start(at: t0)
        #expect(s.startedAt == "earlier")
    }

    // MARK: - attempts

    @Test func beginAttemptRunsTheStepAndRecordsTheAttempt() throws {
        let s = try running()
        #expect(s.steps[0].state == .running && s.steps[0].attempt == 1 && s.steps[0].startedAt == t0)
        #expect(s.steps[0].log == "logs/s0.log")
        #expect(s.steps[0].attempts == [StepAttempt(attempt: 1, state: .running, startedAt: t0)])
        #expect(s.currentStep == "s0")
    }

    @Test func aFailedStepBeginsItsNextAttemptAndKeepsTheHistory() throws {
        var s = try running()
        try s.endAttempt(step: 0, as: .failed, exitCode: 1, summary: "exited with 1", detail: "step s0 exited with 1", at: t1)
        try s.beginAttempt(step: 0, attempt: 2, at: t1)
        #expect(s.steps[0].state == .running && s.steps[0].attempt == 2 && s.steps[0].exitCode == nil && s.steps[0].detail == nil)
        #expect(s.steps[0].attempts.map(\.state) == [.failed, .running])
        #expect(s.steps[0].attempts[0].message == "exited with 1")
    }

    @Test(arguments: [StepState.running, .completed, .skipped, .cancelled, .queued])
    func beginAttemptIsRefusedForAStepThatCannotStart(_ stepState: StepState) throws {
        var s = job(.running, steps: [stepState])
        s.steps[0].attempt = 1
        #expect(throws: TransitionError.self) { try s.beginAttempt(step: 0, attempt: 2, at: t0) }
        #expect(s.steps[0].state == stepState)
    }

    @Test func anInterruptedAttemptIsFollowedByANewOne() throws {
        var s = try running()
        try s.endAttempt(step: 0, as: .interrupted, exitCode: nil, summary: "lost", detail: nil, at: t1)
        try s.beginAttempt(step: 0, attempt: 2, at: t1)
        #expect(s.steps[0].attempts.map(\.state) == [.interrupted, .running])
    }

    @Test func beginAttemptIsRefusedForAnOldAttemptNumberAJobNotRunningOrNoSuchStep() throws {
        var s = try running()
        try s.endAttempt(step: 0, as: .failed, exitCode: 1, summary: "x", detail: nil, at: t1)
        #expect(throws: TransitionError.self) { try s.beginAttempt(step: 0, attempt: 1, at: t1) }
        #expect(throws: TransitionError.self) { try s.beginAttempt(step: 7, attempt: 1, at: t1) }
        var pending = job()
        #expect(throws: TransitionError.self) { try pending.beginAttempt(step: 0, attempt: 1, at: t1) }
    }

    @Test(arguments: [StepState.completed, .failed, .cancelled, .interrupted])
    func endAttemptEndsTheRunningAttempt(_ end: StepState) throws {
        var s = try running()
        try s.endAttempt(step: 0, as: end, exitCode: end == .completed ? 0 : 1, summary: "sum", detail: "d", at: t1)
        #expect(s.steps[0].state == end && s.steps[0].finishedAt == t1 && s.steps[0].detail == "d")
        #expect(s.steps[0].attempts.count == 1)
        #expect(s.steps[0].attempts[0].state == end && s.steps[0].attempts[0].finishedAt == t1)
        #expect(s.steps[0].attempts[0].message == (end == .completed ? nil : "sum"))
    }

    @Test(arguments: [StepState.pending, .running, .skipped, .queued])
    func endAttemptIsRefusedWithAnEndThatIsNotOne(_ end: StepState) throws {
        var s = try running()
        #expect(throws: TransitionError.self) { try s.endAttempt(step: 0, as: end, exitCode: nil, summary: "", detail: nil, at: t1) }
        #expect(s.steps[0].state == .running)
    }

    @Test func endAttemptIsRefusedForAStepNotRunning() throws {
        var s = try running()
        #expect(throws: TransitionError.self) { try s.endAttempt(step: 1, as: .completed, exitCode: 0, summary: "", detail: nil, at: t1) }
    }

    @Test func aQueuedSlurmStepEndsToo() throws {
        var s = job(.running, steps: [.queued])
        s.steps[0].attempt = 1
        try s.endAttempt(step: 0, as: .completed, exitCode: 0, summary: "exited with 0", detail: nil, at: t1)
        #expect(s.steps[0].state == .completed && s.steps[0].attempts.count == 1)
    }

    @Test func aCompletedStepWhoseResultsFailFailsAfterAll() throws {
        var s = try running()
        try s.endAttempt(step: 0, as: .completed, exitCode: 0, summary: "", detail: nil, at: t1)
        try s.failCompletedStep(0, detail: "publishing failed")
        #expect(s.steps[0].state == .failed && s.steps[0].detail == "publishing failed")
        #expect(throws: TransitionError.self) { try s.failCompletedStep(1, detail: "x") }
    }

    @Test func skipLeavesCompletedStepsAlone() throws {
        var s = job(.running, steps: [.completed, .failed, .pending])
        s.skip(from: 0, detail: "not run")
        #expect(s.steps.map(\.state) == [.completed, .skipped, .skipped])
        s.skip(from: 9, detail: "beyond the end")
        #expect(s.steps.map(\.detail) == [nil, "not run", "not run"])
    }

    // MARK: - the job's end

    @Test(arguments: [JobState.completed, .failed, .cancelled])
    func finishEndsARunningJob(_ end: JobState) throws {
        var s = try running()
        let error = end == .failed ? JobErrorInfo(step: "s0", message: "boom", exitCode: 2) : nil
        try s.finish(end, error: error, at: t1)
        #expect(s.state == end && s.finishedAt == t1 && s.currentStep == nil && s.error == error)
    }

    @Test(arguments: [JobState.completed, .failed, .cancelled])
    func aFinishedJobDoesNotFinishAgain(_ from: JobState) {
        var s = job(from)
        #expect(throws: TransitionError.self) { try s.finish(.failed, error: nil, at: t1) }
        #expect(s.state == from)
    }

    @Test(arguments: [JobState.pending, .waiting, .queued, .running])
    func finishNeedsATerminalState(_ end: JobState) throws {
        var s = try running()
        #expect(throws: TransitionError.self) { try s.finish(end, error: nil, at: t1) }
    }

    @Test func cancellingARunningStepCancelsItAndSkipsTheRest() throws {
        var s = try running()
        try s.cancelRunning(step: 0, at: t1)
        #expect(s.state == .cancelled && s.finishedAt == t1)
        #expect(s.steps.map(\.state) == [.cancelled, .skipped, .skipped])
        #expect(s.steps[1].detail == "not run: the job was cancelled")
    }

    @Test func cancellingBeforeAStepsFirstAttemptSkipsIt() throws {
        var s = job(.running, steps: [.completed, .pending])
        try s.cancelRunning(step: 1, at: t1)
        #expect(s.steps.map(\.state) == [.completed, .skipped])
    }

    @Test(arguments: [JobState.pending, .waiting, .completed, .failed, .cancelled])
    func cancelRunningNeedsARunningJob(_ from: JobState) {
        var s = job(from)
        #expect(throws: TransitionError.self) { try s.cancelRunning(step: 0, at: t1) }
    }

    @Test(arguments: [JobState.pending, .waiting, .queued])
    func aJobCancelledBeforeItStartsNeverStarts(_ from: JobState) throws {
        var s = job(from)
        s.waitingFor = ["x"]
        try s.cancelBeforeStart(at: t1)
        #expect(s.state == .cancelled && s.waitingFor == nil && s.finishedAt == t1 && s.startedAt == nil)
        #expect(s.steps.allSatisfy { $0.state == .skipped && $0.detail == "not run: the job was cancelled" })
    }

    @Test(arguments: [JobState.running, .completed, .failed, .cancelled])
    func cancelBeforeStartIsRefusedOnceStarted(_ from: JobState) {
        var s = job(from)
        #expect(throws: TransitionError.self) { try s.cancelBeforeStart(at: t1) }
    }

    // MARK: - wait_for

    @Test func waitingAndItsEnd() throws {
        var s = job()
        try s.wait(for: ["data/a", "data/b"])
        #expect(s.state == .waiting && s.waitingFor == ["data/a", "data/b"])
        try s.wait(for: ["data/b"])
        #expect(s.waitingFor == ["data/b"])
        try s.waitOver()
        #expect(s.state == .pending && s.waitingFor == nil)
        var running = try self.running()
        #expect(throws: TransitionError.self) { try running.wait(for: ["x"]) }
        #expect(throws: TransitionError.self) { try running.waitOver() }
    }

    @Test func aWaitThatTimesOutFailsTheJobBeforeItStarts() throws {
        var s = job()
        try s.wait(for: ["x"])
        try s.failBeforeStart("wait_for timed out", skipDetail: "not run: wait_for timed out", at: t1)
        #expect(s.state == .failed && s.error?.message == "wait_for timed out" && s.finishedAt == t1)
        #expect(s.steps.allSatisfy { $0.state == .skipped })
        #expect(throws: TransitionError.self) { try s.failBeforeStart("again", skipDetail: "", at: t1) }
    }

    // MARK: - retry and rerun

    @Test(arguments: [JobState.failed, .cancelled])
    func retryRequeuesTheUnfinishedStepsOnly(_ from: JobState) throws {
        var s = job(from, steps: [.completed, .failed, .skipped])
        s.steps[1].attempt = 1
        s.steps[1].attempts = [StepAttempt(attempt: 1, state: .failed, startedAt: t0)]
        s.error = JobErrorInfo(step: "s1", message: "x", exitCode: 1)
        s.finishedAt = t1
        try s.requeue(.retry, steps: nil)
        #expect(s.state == .pending && s.error == nil && s.finishedAt == nil)
        #expect(s.steps.map(\.state) == [.completed, .pending, .pending])
        #expect(s.steps[1].attempts.count == 1 && s.steps[1].attempt == 1, "the history stays")
        #expect(s.progress == 1.0 / 3.0)
    }

    @Test(arguments: [JobState.pending, .waiting, .queued, .running, .completed])
    func retryIsRefusedWhereItDoesNotApply(_ from: JobState) {
        var s = job(from)
        #expect(throws: TransitionError.self) { try s.requeue(.retry, steps: nil) }
        #expect(s.state == from)
    }

    @Test func rerunRequeuesTheNamedStepsOrAll() throws {
        var s = job(.completed, steps: [.completed, .completed, .completed])
        try s.requeue(.rerun, steps: ["s1"])
        #expect(s.steps.map(\.state) == [.completed, .pending, .completed])
        var all = job(.failed, steps: [.completed, .failed, .skipped])
        try all.requeue(.rerun, steps: [])
        #expect(all.steps.map(\.state) == [.pending, .pending, .pending])
        var running = job(.running)
        #expect(throws: TransitionError.self) { try running.requeue(.rerun, steps: []) }
        var done = job(.completed)
        #expect(throws: TransitionError.self) { try done.requeue(.cancel, steps: nil) }
    }

    // MARK: - which control action applies where, written once

    @Test func everyActionAppliesExactlyWhereTheDiagramSays() {
        let expected: [ControlAction: Set<JobState>] = [
            .cancel: [.pending, .waiting, .queued, .running],
            .retry: [.failed, .cancelled],
            .rerun: [.completed, .failed, .cancelled],
            .clean: [.completed, .failed, .cancelled],
        ]
        for action in ControlAction.allCases {
            for state in JobState.allCases {
                let refusal = action.refusal(job: "J1", state: state)
                #expect((refusal == nil) == expected[action]!.contains(state), "\(action) in \(state)")
            }
        }
        #expect(ControlAction.cancel.refusal(job: "J1", state: .completed) == "job J1 is completed; cancel applies to pending, waiting, queued or running jobs")
        #expect(ControlAction.retry.refusal(job: "rt", state: .completed) == "job rt is completed; retry applies to failed or cancelled jobs")
        #expect(ControlAction.clean.refusal(job: "n", state: .pending) == "job n is pending; clean applies to completed, failed or cancelled jobs")
    }

    @Test func progressCountsDoneStepsAndTheRunningStepsOwn() throws {
        var s = job(.running, steps: [.completed, .running, .pending, .skipped])
        s.steps[1].progress = 0.5
        #expect(s.computedProgress == 2.5 / 4)
        #expect(job(.completed, steps: []).computedProgress == 1)
        #expect(job(.failed, steps: []).computedProgress == 0)
    }
}
