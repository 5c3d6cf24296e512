// The pages' memory stays bounded when they fall behind the jobs: the ids of changed jobs are
// forgotten beyond a cap, and a walk over the store finds the pages that are missing instead.
import Foundation
import HopperCore
import HopperStore
import HopperTestSupport
import Logging
import Testing
@testable import HopperDaemon

@Suite struct PagesKeeperTests {
    @Test func fallingBehindForgetsIdsAndWalksTheStoreInstead() throws {
        let root = try #require(makeTemporaryDirectory("/tmp/hopper-pages-XXXXXX"))
        defer { try? FileManager.default.removeItem(atPath: root) }   // silent: clean-up
        let layout = SpoolLayout(root: root)
        try layout.create()
        let store = try JobStore(path: layout.database)
        // Jobs in the store whose folders have a status and no page yet.
        let ids = (0..<300).map { "j\($0)" }
        let records = ids.map { JobRecord(id: $0, state: .completed, queue: "default", owner: "ana", uid: 0, priority: 0,
                                          workflow: nil, description: nil, submittedAt: "2026-01-02T03:04:05Z") }
        try store.insert(records)
        for id in ids {
            let folder = layout.folder(id)
            try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
            let status = JobStatus(id: id, state: .completed, workflow: nil, owner: "ana", queue: "default", priority: 0,
                                   description: nil, submittedAt: "2026-01-02T03:04:05Z", steps: [StepStatus(name: "a")],
                                   executor: ExecutorInfo(kind: .local))
            try FileOps.writeAtomically(folder.status, try JSON.pretty(status), durable: false)
        }
        // Spool pages an earlier daemon left past the last page the lists now have.
        for name in ["index-7.html", "index-completed-101.html"] {
            try FileOps.writeAtomically(layout.page(name), Array("old".utf8), durable: false)
        }
        let signals = PageSignals()
        var keeper = PagesKeeper(layout: layout, store: store, signals: signals, catalog: nil, ownersOnly: false,
                                 detailsPublic: true, logger: Logger(label: "test"))
        keeper.sweep = nil   // the start-up walk done: only what it is told of is written
        // More changed ids in one second than the cap (ids of jobs long gone, as after retention),
        // one of them with a running summary.
        signals.changed((0..<(PagesKeeper.dirtyCap + 1)).map { "gone\($0)" })
        var running = JobStatus(id: "gone0", state: .running, workflow: nil, owner: "ana", queue: "default", priority: 0,
                                description: nil, submittedAt: "2026-01-02T03:04:05Z", steps: [StepStatus(name: "a")],
                                executor: ExecutorInfo(kind: .local))
        running.startedAt = "2026-01-02T03:04:06Z"
        signals.wrote(running)
        keeper.tick(now: Timestamp.now(), final: false)
        #expect(keeper.dirty.count <= PagesKeeper.dirtyCap)
        #expect(keeper.live.isEmpty, "a forgotten job's running summary would stay for good")
        // The walk over the store found the jobs whose page is missing, and wrote them.
        var ticks = 0
        while (keeper.sweep != nil || !keeper.dirty.isEmpty) && ticks < 20 {
            keeper.tick(now: Timestamp.now(), final: false)
            ticks += 1
        }
        #expect(keeper.sweep == nil && keeper.dirty.isEmpty)
        #expect(ids.allSatisfy { FileOps.exists(layout.folder($0).page) })
        // The first round of further pages (at once after start) removed the earlier daemon's.
        #expect(FileOps.exists(layout.page("index.html")) && FileOps.exists(layout.page("index-completed.html")))
        #expect(!FileOps.exists(layout.page("index-7.html")) && !FileOps.exists(layout.page("index-completed-101.html")))
    }
}
