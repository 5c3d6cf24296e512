// The scheduler and the job runner with the fake executor: which job starts next (priority,
// FIFO, fairness between owners), the caps, retries with backoff, timeouts, cancel — checked by
// the order and the outcome of attempts, never by how long anything took.
import HopperCore
import HopperExec
import HopperTestSupport
import Testing
@testable import HopperDaemon

@Suite("Scheduler (fake executor)", .timeLimit(.minutes(2)))
struct SchedulerTests {
    @Test func higherPriorityFirstThenFirstInFirstOut() async throws {
        let h = try SchedulerHarness()
        let jobs = try [h.job("a", priority: 0), h.job("b", priority: 5), h.job("c", priority: 0),
                        h.job("d", priority: 5), h.job("e", priority: -3), h.job("f", priority: 0)]
        await h.submit(jobs)
        for id in ["a", "b", "c", "d", "e", "f"] { #expect(await h.finished(id)?.state == .completed) }
        #expect(h.fake.startOrder == ["b", "d", "a", "c", "f", "e"])
        #expect(h.fake.mostAtOnce == 1)
    }

    @Test func ownersTakeTurnsSoOneUsersBacklogNeverStarvesAnother() async throws {
        let h = try SchedulerHarness()
        var jobs = try (1...6).map { try h.job("alice\($0)", owner: "alice") }
        jobs += try [h.job("bob1", owner: "bob"), h.job("bob2", owner: "bob")]
        await h.submit(jobs)
        for j in jobs { #expect(await h.finished(j.id)?.state == .completed) }
        // Alternating while both have jobs; each owner's jobs in the order submitted.
        #expect(h.fake.startOrder == ["alice1", "bob1", "alice2", "bob2", "alice3", "alice4", "alice5", "alice6"])
    }

    @Test func perOwnerCapHoldsAnOwnersJobsWhileOthersRun() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { _ in .hold }) { s in
            s.maxRunning = 4
            s.perOwnerRunning = 2
        }
        let jobs = try [h.job("a1", owner: "alice"), h.job("a2", owner: "alice"), h.job("a3", owner: "alice"),
                        h.job("a4", owner: "alice"), h.job("b1", owner: "bob")]
        await h.submit(jobs)
        #expect(await waitUntil { h.fake.running == ["a1", "a2", "b1"] })
        #expect(await h.scheduler.pendingCount == 2)
        h.fake.release("a1")
        #expect(await waitUntil { h.fake.running == ["a2", "a3", "b1"] })
        for id in ["a2", "a3", "b1"] { h.fake.release(id) }
        #expect(await waitUntil { h.fake.running == ["a4"] })
        h.fake.release("a4")
        #expect(await h.finished("a4")?.state == .completed)
        // Jobs started in one round may reach the executor in any order; the rounds may not.
        let order = h.fake.startOrder
        #expect(Set(order.prefix(3)) == ["a1", "a2", "b1"] && Array(order.dropFirst(3)) == ["a3", "a4"])
        #expect(h.fake.mostAtOnce == 3)
    }

    @Test func perQueueCapLetsAnotherQueuesJobGo() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { _ in .hold }) { s in
            s.maxRunning = 3
            s.perQueueRunning = ["seq": 1]
        }
        let jobs = try [h.job("s1", queue: "seq"), h.job("s2", queue: "seq"), h.job("o1", queue: "other")]
        await h.submit(jobs)
        #expect(await waitUntil { h.fake.running == ["s1", "o1"] })
        h.fake.release("s1")
        #expect(await waitUntil { h.fake.running == ["s2", "o1"] })
        #expect(h.fake.started.first { $0.job == "s2" }?.queue == "seq")
        h.fake.release("s2")
        h.fake.release("o1")
        #expect(await h.finished("s2")?.state == .completed)
        #expect(await h.finished("o1")?.state == .completed)
    }

    @Test func failedAttemptsAreRetriedWithBackoffAndKeptInTheHistory() async throws {
        let fake = FakeExecutor { a in a.attempt < 3 ? .fail(exitCode: 4) : .succeed }
        let h = try SchedulerHarness(fake: fake)
        await h.submit([try h.job("r", steps: "[{name: flaky, retries: 2, run: \"x\"}]")])
        let s = try #require(await h.finished("r"))
        #expect(s.state == .completed)
        #expect(s.steps[0].attempts.map(\.exitCode) == [4, 4, 0])
        #expect(h.fake.started.map(\.attempt) == [1, 2, 3])
        let events = h.events("r")
        #expect(events.contains("attempt 2 of 3 in 0.01 s"))
        #expect(events.contains("attempt 3 of 3 in 0.02 s"))
    }

    @Test func retriesRunOutAndTheJobFailsWithTheLastExitCode() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { _ in .fail(exitCode: 9) })
        await h.submit([try h.job("x", steps: "[{name: a, retries: 1, run: \"x\"}, {name: b, run: \"y\"}]")])
        let s = try #require(await h.finished("x"))
        #expect(s.state == .failed)
        #expect(s.error?.message == "step a exited with 9")
        #expect(s.steps.map(\.state) == [.failed, .skipped])
        #expect(h.fake.started.map(\.step) == ["a", "a"])
    }

    @Test func backoffDoublesUpToItsCap() {
        let b = RetryBackoff()
        #expect((1...8).map(b.delay(afterFailures:)) == [0.5, 1, 2, 4, 8, 16, 30, 30])
        #expect(b.delay(afterFailures: 1000) == 30)
    }

    @Test func aStepTimeoutEndsTheAttemptAndSaysWhichTimeout() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { _ in .hold })
        await h.submit([try h.job("t", steps: "[{name: slow, timeout: 200ms, run: \"x\"}]")])
        let s = try #require(await h.finished("t"))
        #expect(s.state == .failed)
        #expect(s.error?.message == "step slow timed out (step timeout 200ms)")
        #expect(h.fake.started.first?.timeout == 0.2)
    }

    @Test func theJobTimeoutCapsEachStepsTimeout() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { _ in .hold })
        await h.submit([try h.job("jt", extra: "timeout: 300ms", steps: "[{name: slow, timeout: 1h, run: \"x\"}]")])
        let s = try #require(await h.finished("jt"))
        #expect(s.error?.message == "step slow timed out (job timeout 300ms)")
        #expect((h.fake.started.first?.timeout ?? 3600) <= 1)
    }

    @Test func cancelEndsARunningJobAndAPendingOneNeverStarts() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { _ in .hold })
        await h.submit([try h.job("run"), try h.job("wait")])
        #expect(await waitUntil { h.fake.running == ["run"] })
        #expect(await h.cancel("wait") == nil)
        #expect(await h.finished("wait")?.state == .cancelled)
        #expect(await h.cancel("run") == nil)
        let s = try #require(await h.finished("run"))
        #expect(s.state == .cancelled)
        #expect(s.steps[0].state == .cancelled)
        // status.json is written first; the event line and the store follow as the runner ends.
        #expect(await waitUntil { await h.scheduler.runningCount == 0 })
        #expect(h.events("run").contains("cancelled by root"))
        #expect(h.fake.startOrder == ["run"])
        // A finished job refuses a second cancel, saying why.
        #expect(await h.cancel("run") != nil)
    }

    @Test func anInterruptedAttemptRunsAgainWithoutCountingAsARetry() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { a in a.attempt == 1 ? .interrupt : .succeed })
        await h.submit([try h.job("i")])
        let s = try #require(await h.finished("i"))
        #expect(s.state == .completed)
        #expect(s.steps[0].attempts.map(\.state) == [.interrupted, .completed])
    }
}
