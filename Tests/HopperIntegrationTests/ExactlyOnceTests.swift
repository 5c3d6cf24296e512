// Exactly once under load and under SIGKILL: every dropped file ends in exactly one place.
import Foundation
import HopperCore
import HopperTestSupport
import HopperStore
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct ExactlyOnce {
        /// Writes `count` manifests as hidden files in `dir` (same filesystem as the inbox),
        /// so dropping them is one rename each.
        func prepare(_ spool: TestSpool, prefix: String, count: Int, invalidEvery: Int = 0) throws -> String {
            let dir = spool.base + "/prepared-\(prefix)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<count {
                let bad = invalidEvery > 0 && i % invalidEvery == 0
                let body = bad ? "workflow: demo\nparams: {sample: x}\nbogus: 1\n" : demoManifest(sample: "\(prefix)\(i)")
                let fd = open(dir + "/\(prefix)\(i).yaml", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                let bytes = Array(body.utf8)
                write(fd, bytes, bytes.count)
                close(fd)
            }
            return dir
        }

        func dropAll(_ spool: TestSpool, from dir: String, prefix: String, count: Int) {
            for i in 0..<count {
                rename(dir + "/\(prefix)\(i).yaml", spool.layout.inbox + "/\(prefix)\(i).yaml")
            }
        }

        /// Checks that each of the `count` files is in exactly one place, and the store agrees.
        func verifyExactlyOnce(_ spool: TestSpool, prefix: String, count: Int, invalidEvery: Int = 0) throws {
            let layout = spool.layout
            let rejected = Set(((try? FileOps.listDirectory(layout.rejected)) ?? []).filter { !$0.hasSuffix(".error.json") })
            var accepted = 0, rejectedCount = 0
            for i in 0..<count {
                let id = "\(prefix)\(i)"
                let inOutbox = FileOps.exists(layout.manifest(id))
                let inRejected = rejected.contains("\(id).yaml")
                let inInbox = FileOps.exists(layout.inbox + "/\(id).yaml")
                let places = [inOutbox, inRejected, inInbox].filter { $0 }.count
                #expect(places == 1, "\(id): outbox \(inOutbox) rejected \(inRejected) inbox \(inInbox)")
                #expect(!inInbox, "\(id) still in the inbox")
                let shouldReject = invalidEvery > 0 && i % invalidEvery == 0
                #expect(shouldReject ? inRejected : inOutbox, "\(id) in the wrong place")
                if inOutbox {
                    accepted += 1
                    let status = try spool.status(id)
                    #expect(status.id == id)
                    let events = try String(contentsOfFile: layout.events(id), encoding: .utf8).split(separator: "\n")
                    let accepted = events.filter { $0.contains("\"event\":\"accepted\"") }.count
                    #expect(accepted == 1 && events.first?.contains("\"event\":\"accepted\"") == true, "\(id) accepted \(accepted) times")
                }
                if inRejected { rejectedCount += 1 }
            }
            #expect(rejected.filter { $0.hasPrefix(prefix) }.count == rejectedCount, "a rejected file appears twice")
            #expect(((try? FileOps.listDirectory(layout.staging)) ?? []).isEmpty, "staging not empty")
            let store = try JobStore(readOnlyPath: layout.database)
            let indexed = try store.allIDs().filter { $0.hasPrefix(prefix) }
            #expect(indexed.count == accepted, "store has \(indexed.count), outbox \(accepted)")
        }

        @Test func sigkillAtRandomMomentsLosesNothingAndAcceptsNothingTwice() throws {
            let spool = try TestSpool(config: "max_running: 1")
            let count = 300
            let dir = try prepare(spool, prefix: "K", count: count, invalidEvery: 10)
            try spool.startDaemon()
            var kills = 0
            var rng = SystemRandomNumberGenerator()
            var next = 0
            // Drop in slices while killing the daemon at random moments mid-intake.
            while next < count {
                let slice = min(count - next, Int.random(in: 30...70, using: &rng))
                for i in next..<(next + slice) {
                    rename(dir + "/K\(i).yaml", spool.layout.inbox + "/K\(i).yaml")
                }
                next += slice
                usleep(UInt32.random(in: 0...40_000, using: &rng))
                spool.killDaemon()
                kills += 1
                try spool.startDaemon()
            }
            #expect(kills >= 3)
            #expect(eventually(timeout: 60) { spool.inboxNames().isEmpty }, "\(spool.logText())")
            spool.killDaemon()
            try spool.startDaemon()  // one more recovery pass must change nothing
            usleep(500_000)
            try verifyExactlyOnce(spool, prefix: "K", count: count, invalidEvery: 10)
        }

        @Test func fiveThousandDroppedAtOnceAreAllAccepted() throws {
            let spool = try TestSpool(config: "max_running: 1")
            let count = 5000
            let dir = try prepare(spool, prefix: "F", count: count)
            try spool.startDaemon()
            dropAll(spool, from: dir, prefix: "F", count: count)
            #expect(eventually(timeout: 120) { spool.outboxIDs().count == count }, "\(spool.outboxIDs().count) of \(count)")
            try verifyExactlyOnce(spool, prefix: "F", count: count)
            let ls = try spool.hopper("ls", "--spool", spool.root, "--limit", "0", "--json")
            #expect(ls.stdout.split(separator: "\n").count == count)
        }

        @Test func twentyThousandDroppedWhileStoppedOverflowInotifyAndNoneIsMissed() throws {
            let spool = try TestSpool(config: "max_running: 1")
            let count = 20_000
            let dir = try prepare(spool, prefix: "O", count: count)
            let daemon = try spool.startDaemon()
            kill(daemon.processIdentifier, SIGSTOP)
            dropAll(spool, from: dir, prefix: "O", count: count)
            kill(daemon.processIdentifier, SIGCONT)
            #expect(eventually(timeout: 300) { spool.outboxIDs().count == count }, "\(spool.outboxIDs().count) of \(count)")
            let queued = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
            if count > queued {
                #expect(spool.logText().contains("inbox.overflow"), "no overflow was logged")
            }
            try verifyExactlyOnce(spool, prefix: "O", count: count)
        }
    }
}
