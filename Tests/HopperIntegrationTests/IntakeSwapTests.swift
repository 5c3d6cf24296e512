// Intake driven step by step on a real spool: a manifest swapped for a symlink after it was
// examined and before it was committed. The race test in HostileCorpusTests hits this window
// only sometimes; here it is hit every time.
import Foundation
@testable import HopperDaemon
import HopperCore
import HopperStore
import HopperWatch
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct IntakeSwapTests {
        @Test func aManifestSwappedAfterExaminationIsPutBackNotCommitted() throws {
            let spool = try TestSpool()
            let layout = spool.layout
            try layout.create()
            let store = try JobStore(path: layout.database)
            let intake = HopperDaemon.Intake(layout: layout, store: store, catalog: WorkflowCatalog(directory: spool.workflows),
                                settings: IntakeSettings(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let outside = spool.base + "/outside.yaml"
            try trueManifest("SYMLINK TARGET").write(toFile: outside, atomically: true, encoding: .utf8)
            try spool.drop("swap.yaml", trueManifest("regular"))
            let candidate = DropCandidate(folder: layout.inbox, queue: nil, name: "swap.yaml", cause: .event)

            guard case .accept(var job) = intake.examine(candidate) else {
                Issue.record("the regular manifest was not accepted")
                return
            }
            // The swap, after examination: a symlink renamed over the examined file.
            #expect(symlink(outside, spool.base + "/.link") == 0)
            #expect(rename(spool.base + "/.link", candidate.path) == 0)
            job.staging = layout.staging + "/" + job.id
            var jobs = [job]
            let committed = intake.commit(&jobs)

            #expect(committed.isEmpty)
            #expect(!FileOps.exists(layout.job("swap")))
            #expect(!FileOps.exists(layout.staging + "/swap"))
            // Put back under its name, to be examined like any drop: then rejected, unfollowed.
            #expect(try FileOps.lstat(candidate.path).map { $0.st_mode & S_IFMT } == S_IFLNK)
            let batch = intake.process([candidate])
            #expect(batch.counts.rejected == 1 && batch.accepted.isEmpty)
            #expect(try FileOps.lstat(layout.rejected + "/swap.yaml").map { $0.st_mode & S_IFMT } == S_IFLNK)
            #expect(try spool.rejection("swap.yaml").reason == "symlink")
        }

        @Test func recoveryRejectsASwappedEntryLeftInStaging() throws {
            let spool = try TestSpool()
            let layout = spool.layout
            try layout.create()
            let store = try JobStore(path: layout.database)
            // A crash right after a commit that moved a symlink into staging.
            let staging = layout.staging + "/crashed"
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try "{}".write(toFile: staging + "/status.json", atomically: true, encoding: .utf8)
            #expect(symlink("/etc/shadow", staging + "/manifest.yaml") == 0)

            let report = try HopperDaemon.Recovery.run(layout: layout, store: store, catalog: nil, settings: IntakeSettings(),
                                          logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            #expect(report.rolledForward == 0)
            #expect(!FileOps.exists(layout.job("crashed")))
            #expect(try FileOps.lstat(layout.rejected + "/crashed.yaml").map { $0.st_mode & S_IFMT } == S_IFLNK)
            #expect(try spool.rejection("crashed.yaml").reason == "changed while read")
            #expect(!FileOps.exists(staging))
        }
    }
}
