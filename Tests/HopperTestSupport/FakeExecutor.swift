// FakeExecutor — a step executor that starts no process, for unit tests of the scheduler and
// the job runner: it records every attempt it is handed, and each attempt ends as the test's
// script says — at once, after a while, when the test releases it, or when it is cancelled.
import HopperCore
import HopperExec
import Synchronization

/// How one fake attempt behaves.
public enum FakeBehaviour: Sendable, Equatable {
    /// Exits 0 at once.
    case succeed
    /// Exits with this code at once.
    case fail(exitCode: Int)
    /// Runs `seconds`; past the attempt's timeout it ends as timed out instead.
    case run(seconds: Double, exitCode: Int)
    /// Runs until the test calls `release` for it (or it is cancelled, or its timeout passes).
    case hold
    /// Its end is lost (as after a power cut): interrupted.
    case interrupt
}

/// An attempt the fake executor was handed.
public struct FakeAttempt: Sendable, Equatable {
    public let job: String
    public let step: String
    public let attempt: Int
    public let timeout: Double?
    public let resuming: Bool
    /// The job's queue as the runner passed it.
    public let queue: String
}

public final class FakeExecutor: StepExecutor {
    struct State {
        var started: [FakeAttempt] = []
        var running: Set<String> = []
        var mostAtOnce = 0
        var released: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let behaviour: @Sendable (FakeAttempt) -> FakeBehaviour

    /// `behaviour`: how each attempt behaves (default: every attempt succeeds at once).
    public init(_ behaviour: @escaping @Sendable (FakeAttempt) -> FakeBehaviour = { _ in .succeed }) {
        self.behaviour = behaviour
    }

    /// Every attempt handed over so far, in order.
    public var started: [FakeAttempt] { state.withLock { $0.started } }
    /// The jobs (ids) of the attempts handed over so far, in order, each once.
    public var startOrder: [String] {
        var seen = Set<String>()
        return started.map(\.job).filter { seen.insert($0).inserted }
    }
    /// The jobs whose attempts are running now.
    public var running: Set<String> { state.withLock { $0.running } }
    /// The most attempts that ran at once.
    public var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }

    /// Ends the held attempt of `job` with `exitCode`.
    public func release(_ job: String, exitCode: Int = 0) {
        state.withLock { $0.released[job] = exitCode }
    }

    public func execute(_ run: StepRun, update: @escaping @Sendable (StepUpdate) async -> Void) async -> (StepOutcome, String?) {
        let launch = run.launch
        let attempt = FakeAttempt(job: launch.jobID, step: launch.step, attempt: launch.attempt,
                                  timeout: launch.timeout, resuming: run.resuming, queue: run.queue)
        let started = Timestamp.now()
        state.withLock { s in
            s.started.append(attempt)
            s.running.insert(attempt.job)
            s.mostAtOnce = max(s.mostAtOnce, s.running.count)
        }
        defer { state.withLock { _ = $0.running.remove(attempt.job) } }
        if Task.isCancelled { return (StepOutcome(kind: .cancelled, startedAt: started, finishedAt: Timestamp.now()), nil) }
        switch behaviour(attempt) {
        case .succeed:
            return (exited(0, started), nil)
        case .fail(let code):
            return (exited(code, started), nil)
        case .interrupt:
            return (StepOutcome(kind: .interrupted, startedAt: started, finishedAt: Timestamp.now(),
                                message: "the fake attempt's end was lost"), nil)
        case .run(let seconds, let code):
            let limit = launch.timeout ?? .infinity
            let ended = await wait(until: started + min(seconds, limit), job: nil)
            if let ended { return (ended, nil) }
            if seconds > limit { return (StepOutcome(kind: .timeout, signal: 15, startedAt: started, finishedAt: Timestamp.now()), nil) }
            return (exited(code, started), nil)
        case .hold:
            let limit = launch.timeout.map { started + $0 } ?? .infinity
            if let ended = await wait(until: limit, job: attempt.job) { return (ended, nil) }
            return (StepOutcome(kind: .timeout, signal: 15, startedAt: started, finishedAt: Timestamp.now()), nil)
        }
    }

    /// Waits until `deadline` (nil returned), a cancel (cancelled) or, for `job`, a release (exited).
    private func wait(until deadline: Double, job: String?) async -> StepOutcome? {
        let started = Timestamp.now()
        while Timestamp.now() < deadline {
            if Task.isCancelled { return StepOutcome(kind: .cancelled, signal: 15, startedAt: started, finishedAt: Timestamp.now()) }
            if let job, let code = state.withLock({ $0.released.removeValue(forKey: job) }) { return exited(code, started) }
            try? await Task.sleep(for: .milliseconds(5))   // silent: a cancel is seen at the next turn
        }
        return nil
    }

    private func exited(_ code: Int, _ started: Double) -> StepOutcome {
        StepOutcome(kind: .exited, exitCode: code, startedAt: started, finishedAt: Timestamp.now())
    }
}
