// The scheduler's pending queue keeps a bounded window per (priority, owner) bucket in memory.
@testable import HopperDaemon
import Testing

@Suite struct PendingQueueTests {
    func job(_ id: String, owner: String = "alice", priority: Int = 0) -> QueuedJob {
        QueuedJob(id: id, owner: owner, queue: "default", priority: priority, seq: 0)
    }

    @Test func aBacklogKeepsOnlyAWindowInMemory() {
        var q = PendingQueue(window: 8)
        for i in 0..<1000 { q.add(job("j\(i)"), inStore: true) }
        #expect(q.total == 1000)
        #expect(q.ids.count == 8)
        #expect(q.buckets[0]?["alice"]?.more == true)
        #expect(q.buckets[0]?["alice"]?.jobs.map(\.id) == (0..<8).map { "j\($0)" }, "FIFO: the oldest are in memory")
    }

    @Test func aJobTheStoreMayNotHoldStaysInMemory() {
        var q = PendingQueue(window: 2)
        for i in 0..<5 { q.add(job("j\(i)"), inStore: false) }
        #expect(q.ids.count == 5 && q.total == 5)
    }

    @Test func bucketsAreSeparateAndRefillEndsWhenTheStoreIsExhausted() {
        var q = PendingQueue(window: 2)
        q.addStored(priority: 0, owner: "alice", count: 3)
        q.add(job("b1", owner: "bob"), inStore: true)
        #expect(q.total == 4 && q.ids == ["b1"])
        #expect(q.buckets[0]?["alice"]?.jobs.isEmpty == true && q.buckets[0]?["alice"]?.more == true)
        q.refill(priority: 0, owner: "alice", with: [job("a1"), job("a2")], exhausted: false)
        #expect(q.buckets[0]?["alice"]?.jobs.map(\.id) == ["a1", "a2"])
        #expect(q.remove("a1")?.id == "a1" && q.remove("a2")?.id == "a2")
        q.refill(priority: 0, owner: "alice", with: [job("a3")], exhausted: true)
        #expect(q.remove("a3") != nil)
        #expect(q.buckets[0]?["alice"] == nil, "an empty, exhausted bucket is dropped")
        #expect(q.total == 1)
    }

    @Test func removingAJobOnlyTheStoreHeldUncountsIt() {
        var q = PendingQueue(window: 1)
        q.add(job("a"), inStore: true)
        q.add(job("b"), inStore: true)
        #expect(q.remove("b") == nil)
        #expect(q.total == 2)
        q.remove("b", stored: true)
        #expect(q.total == 1)
        #expect(!q.contains("b") && q.contains("a"))
    }
}
