// Start-up recovery reads the store a page at a time: the ids it unindexes are the stored jobs
// whose outbox entry is missing, except those retention removed (their rows keep the id taken).
import Foundation
import HopperCore
import HopperStore
import HopperTestSupport
import Testing

@Suite struct RecoveryStoreTests {
    @Test func missingOutboxEntriesAreFoundAcrossPagesAndRetainedOnesKept() throws {
        let root = try #require(makeTemporaryDirectory("/tmp/hopper-recovery-XXXXXX"))
        defer { try? FileManager.default.removeItem(atPath: root) }   // silent: clean-up
        let store = try JobStore(path: root + "/jobs.db")
        // 25,001 rows: three pages of 10,000, the last one short.
        let ids = (0..<25_001).map { "job-\($0)" }
        try store.insert(ids.map {
            JobRecord(id: $0, state: .completed, queue: "default", owner: "ana", uid: 0, priority: 0,
                      workflow: nil, description: nil, submittedAt: "2026-01-02T03:04:05Z")
        })
        // Every third job is still in the outbox; of the others, every fifth was removed by
        // retention (outbox expired), one only lost its workspace.
        var present = Set<String>()
        var expected: [String] = []
        for (i, id) in ids.enumerated() {
            if i % 3 == 0 {
                present.insert(id)
            } else if i % 5 == 0 {
                try store.markExpired(id: id, .outbox)
            } else {
                if i == 1 { try store.markExpired(id: id, .workspace) }
                expected.append(id)
            }
        }
        let missing = try store.indexedIDs(notIn: present)
        #expect(missing == expected)          // in the order they were stored, none twice
        #expect(try store.indexedIDs(notIn: Set(ids)).isEmpty)
        #expect(try JobStore(path: root + "/empty.db").indexedIDs(notIn: []).isEmpty)
    }
}
