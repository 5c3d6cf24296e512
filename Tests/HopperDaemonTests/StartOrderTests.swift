// StartOrder is the scheduler's own rule: the positions `hopper ls` computes from the store
// (pending jobs per bucket, each job's rank) and the owners' turns are the order in which the
// scheduler then starts the jobs. Checked by start order, never by time.
import HopperCore
import HopperExec
import HopperStore
import HopperTestSupport
import Testing
@testable import HopperDaemon

@Suite("StartOrder (positions as the scheduler starts)", .timeLimit(.minutes(2)))
struct StartOrderTests {
    @Test func positionsAreTheOrderTheSchedulerStartsIn() async throws {
        let h = try SchedulerHarness(fake: FakeExecutor { attempt in attempt.job == "blocker" ? .hold : .succeed })
        // carol's job takes the one slot; bob has started before alice, so alice's turn comes first.
        await h.submit([try h.job("bob0", owner: "bob")])
        #expect(await h.finished("bob0")?.state == .completed)
        await h.submit([try h.job("blocker", owner: "carol")])
        #expect(await waitUntil { h.fake.running == ["blocker"] })

        var jobs: [AcceptedJob] = []
        jobs.append(try h.job("b1", owner: "bob"))
        jobs.append(try h.job("a1", owner: "alice"))
        jobs.append(try h.job("b2", owner: "bob"))
        jobs.append(try h.job("c1", owner: "carol", priority: 3))
        jobs.append(try h.job("a2", owner: "alice"))
        jobs.append(try h.job("b3", owner: "bob"))
        jobs.append(try h.job("u1", owner: "bob", priority: 3))
        jobs.append(try h.job("low", owner: "alice", priority: -1))
        await h.submit(jobs)

        let ids = jobs.map(\.id)
        var counts: [Int: [String: Int]] = [:]
        for b in try h.store.buckets(in: .pending) { counts[b.priority, default: [:]][b.owner] = b.count }
        let ranks = try h.store.pendingRanks(ids: ids)
        let turns = h.scheduler.turns.lastStart
        var position: [String: Int] = [:]
        for job in jobs {
            let rank = try #require(ranks[job.id])
            position[job.id] = StartOrder.position(priority: job.status.priority, owner: job.status.owner,
                                                   rank: rank, counts: counts, lastStart: turns)
        }
        #expect(Set(position.values) == Set(1...jobs.count), "\(position)")

        h.fake.release("blocker")
        for id in ids { #expect(await h.finished(id)?.state == .completed) }
        let started = h.fake.startOrder.filter { ids.contains($0) }
        let predicted = ids.sorted { (position[$0] ?? 0) < (position[$1] ?? 0) }
        #expect(started == predicted, "positions \(position)")
        // As the rule says: priority 3 (carol started last, so bob's u1 first), then alice and
        // bob in turns (alice never started), then the lower priority.
        #expect(predicted == ["u1", "c1", "a1", "b1", "a2", "b2", "b3", "low"])
    }

    @Test func positionCountsHigherPrioritiesAndTurns() {
        let counts: [Int: [String: Int]] = [0: ["alice": 3, "bob": 1], 5: ["carol": 2]]
        let turns: [String: UInt64] = ["alice": 2, "bob": 1]
        // 5: carol, carol; then 0: bob (older turn), alice, alice, alice.
        #expect(StartOrder.position(priority: 5, owner: "carol", rank: 1, counts: counts, lastStart: turns) == 2)
        #expect(StartOrder.position(priority: 0, owner: "bob", rank: 0, counts: counts, lastStart: turns) == 3)
        #expect(StartOrder.position(priority: 0, owner: "alice", rank: 0, counts: counts, lastStart: turns) == 4)
        #expect(StartOrder.position(priority: 0, owner: "alice", rank: 2, counts: counts, lastStart: turns) == 6)
    }
}
