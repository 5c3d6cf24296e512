// The mailbox between the watch thread and the intake holds a bounded number of candidates:
// beyond its capacity they are refused, and the watch engine's rescan brings back what is
// still in the inbox once there is room. A backlog costs the capacity, not a candidate per file.
import Foundation
import Glibc
import HopperCore
import HopperTestSupport
@testable import HopperWatch
import Synchronization
import Testing

@Suite struct BatchMailboxTests {
    func candidates(_ n: Int, from: Int = 0) -> [DropCandidate] {
        (from..<(from + n)).map { DropCandidate(folder: "/in", queue: nil, name: "J\($0).yaml", cause: .event) }
    }

    @Test func refusesBeyondItsCapacityAndSaysWhenThereIsRoom() async {
        let box = BatchMailbox(maxBatch: 2, capacity: 4)
        let rooms = Mutex(0)
        box.whenRoom { rooms.withLock { $0 += 1 } }
        box.post(candidates(10))
        #expect(box.count == 4)
        #expect(await box.next()?.map(\.name) == ["J0.yaml", "J1.yaml"])
        // Down to half the capacity: room again, said once.
        #expect(rooms.withLock { $0 } == 1)
        #expect(await box.next()?.map(\.name) == ["J2.yaml", "J3.yaml"])
        #expect(rooms.withLock { $0 } == 1)
        // A path already waiting is not added twice; nothing refused, no room to announce.
        box.post(candidates(1, from: 7) + candidates(1, from: 7))
        #expect(box.count == 1)
        #expect(await box.next()?.map(\.name) == ["J7.yaml"])
        #expect(rooms.withLock { $0 } == 1)
    }

    @Test func aBacklogBeyondTheCapacityIsDeliveredWholeThroughRescans() async throws {
        // maxBatch 4: the mailbox holds 64 candidates at most; 600 files dropped at once.
        let settings = WatchSettings(pollInterval: .milliseconds(200), settle: .milliseconds(100), maxBatch: 4)
        let h = Harness(settings: settings)
        let staging = h.dir + "/staging"
        makeDir(staging)
        for i in 0..<600 { writeFile(staging + "/J\(i).yaml") }
        let seen = Mutex(Set<String>())
        let watcher = h.watcher
        let consumer = Task.detached {
            for await batch in watcher.batches {
                for c in batch {
                    // As the intake does: the file leaves the inbox once taken.
                    unlink(c.path)
                    seen.withLock { _ = $0.insert(c.name) }
                }
                try? await Task.sleep(for: .milliseconds(2))   // silent: a busy consumer
            }
        }
        await watcher.start()
        for i in 0..<600 { rename(staging + "/J\(i).yaml", h.inbox + "/J\(i).yaml") }
        #expect(await waitUntil(.seconds(60)) { seen.withLock { $0.count } == 600 })
        watcher.stop()
        await consumer.value
        removeTree(h.dir)
    }
}
