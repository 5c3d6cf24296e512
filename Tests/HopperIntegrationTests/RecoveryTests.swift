// Start-up recovery: every state a crash can leave between the steps of an acceptance.
import Foundation
import HopperCore
import HopperStore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct Recovery {
        @Test func everyCrashStateIsFinishedAtStartup() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("gone.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("gone") })
            #expect(spool.stopDaemon() == 0)
            let layout = spool.layout
            let fm = FileManager.default

            // 1. Crashed after the commit rename, before publishing: staging holds manifest.yaml.
            try fm.createDirectory(atPath: layout.staging + "/committed", withIntermediateDirectories: true)
            try demoManifest(sample: "C").write(toFile: layout.staging + "/committed/manifest.yaml", atomically: true, encoding: .utf8)
            try "{\"torn\":".write(toFile: layout.staging + "/committed/status.json", atomically: true, encoding: .utf8)
            // 2. Crashed before the commit: staging without manifest.yaml, the file still in the inbox.
            try fm.createDirectory(atPath: layout.staging + "/uncommitted", withIntermediateDirectories: true)
            try "{}".write(toFile: layout.staging + "/uncommitted/status.json", atomically: true, encoding: .utf8)
            try spool.drop("uncommitted.yaml", demoManifest(sample: "U"))
            // 3. Published but not indexed, and status.json torn by a power cut.
            try fm.createDirectory(atPath: layout.outbox + "/torn", withIntermediateDirectories: true)
            try demoManifest(sample: "T", priority: 7).write(toFile: layout.outbox + "/torn/manifest.yaml", atomically: true, encoding: .utf8)
            _ = fm.createFile(atPath: layout.outbox + "/torn/status.json", contents: Data())
            // 4. Indexed, but its outbox folder was removed by hand.
            try fm.removeItem(atPath: layout.job("gone"))
            // 5. An interrupted atomic write in rejected/.
            try "x".write(toFile: layout.rejected + "/.x.yaml.error.json.tmp", atomically: false, encoding: .utf8)

            try spool.startDaemon()
            #expect(spool.logText().contains("rolled_forward=1"))
            #expect(spool.isAccepted("committed"))
            let committed = try spool.status("committed")
            #expect(committed.workflow == "demo" && committed.steps.count == 3)
            #expect(eventually { spool.isAccepted("uncommitted") })
            #expect(try spool.status("uncommitted").steps.count == 3)
            let torn = try spool.status("torn")
            #expect(torn.priority == 7 && torn.workflow == "demo")
            #expect(try String(contentsOfFile: layout.events("torn"), encoding: .utf8).contains("\"event\":\"recovered\""))
            #expect(!FileOps.exists(layout.rejected + "/.x.yaml.error.json.tmp"))
            #expect(((try? FileOps.listDirectory(layout.staging)) ?? []).isEmpty)

            let ls = try spool.hopper("ls", "--spool", spool.root, "--json")
            let ids = Set(ls.stdout.split(separator: "\n").compactMap { line -> String? in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
            })
            #expect(ids == ["committed", "uncommitted", "torn"], "\(ls.stdout)")
        }
    }
}

extension Integration.Recovery {
    /// Intake does not fsync a new job's status.json on its own; a power cut can leave it
    /// empty. A job the store knows as unfinished gets it back from its manifest at start-up.
    @Test func anUnfinishedJobsTornStatusIsWrittenAnewAndTheJobRuns() throws {
        let spool = try TestSpool()
        try spool.startDaemon()
        try spool.drop("torn-later.yaml", "steps: [{name: s, run: \"echo ran\"}]\nwait_for: {paths: [\(spool.base)/go]}\n")
        try spool.waitFor("torn-later", [.waiting])
        #expect(spool.stopDaemon() == 0)
        truncate(spool.layout.status("torn-later"), 0)   // what a power cut can leave
        _ = FileManager.default.createFile(atPath: spool.base + "/go", contents: Data())
        try spool.startDaemon()
        let s = try spool.waitFor("torn-later")
        #expect(s.state == .completed)
        #expect(spool.log("torn-later", "s").contains("ran"))
        #expect(spool.events("torn-later").contains { $0.event == "recovered" })
    }
}

extension Integration.Recovery {
    /// A small batch fsyncs a manifest after its commit rename (one journal commit, not two). A
    /// manifest its dropper never made durable can then be committed with its bytes lost to a
    /// power cut: that job fails with a reason at the next start; it is neither lost nor run.
    @Test func aCommittedManifestWhoseBytesWereLostFailsWithAReason() throws {
        let spool = try TestSpool()
        try spool.startDaemon()
        #expect(spool.stopDaemon() == 0)
        let staged = spool.layout.staging + "/emptied"
        try FileManager.default.createDirectory(atPath: staged, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: staged + "/manifest.yaml", contents: Data())
        try spool.startDaemon()
        let s = try spool.waitFor("emptied")
        #expect(s.state == .failed)
        #expect(s.error?.message.contains("plan cannot be read") == true, "\(String(describing: s.error))")
        #expect(!FileOps.exists(spool.layout.workspace("emptied") + "/.hopper"))
    }
}
