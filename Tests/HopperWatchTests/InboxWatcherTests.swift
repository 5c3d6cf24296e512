// The watcher against real inotify on temporary directories under /tmp.
//
// Serialized: all watchers of a process share one inotify instance and thread, and the
// overflow test pauses that thread and floods its queue. "Not emitted" is checked with a
// marker: a file dropped after the event in question; once the marker is out, the watcher
// has read everything before it.

import Glibc
import HopperCore
import HopperTestSupport
@testable import HopperWatch
import Synchronization
import Testing

@Suite(.serialized) struct InboxWatcherTests {
    static let fast = WatchSettings(pollInterval: .milliseconds(200), settle: .milliseconds(300))

    @Test func renameInIsSeen() async {
        let h = Harness(settings: Self.fast)
        await h.start()
        dropFile(h.path("S001-qc.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("S001-qc.yaml")) })
        let c = h.collected.first(h.path("S001-qc.yaml"))
        #expect(c?.cause == .event)
        #expect(c?.name == "S001-qc.yaml")
        #expect(c?.folder == h.inbox)
        #expect(c?.queue == nil)
        #expect(!h.collected.paths.contains(h.path(".S001-qc.yaml.tmp")))
        #expect(h.watcher.watchModes().map(\.folder) == [h.inbox])
        #expect(h.watcher.watchModes().first?.mode == .inotify)
        #expect(h.logs.metadata(of: "inbox.watch").contains { $0["inbox.path"] == "\(h.inbox)" && $0["watch.mode"] == "inotify" })
        #expect(await h.finish())
    }

    @Test func writtenInPlaceIsSeenOnlyAfterClose() async {
        // A long settle, so the settle safety net cannot fire during the test.
        let h = Harness(settings: WatchSettings(settle: .seconds(60)))
        await h.start()
        let fd = open(h.path("S002.yaml"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        _ = write(fd, "id: S002\n", 9)
        dropFile(h.path("marker.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("marker.yaml")) })
        #expect(!h.collected.paths.contains(h.path("S002.yaml")))
        _ = write(fd, "steps: []\n", 10)
        close(fd)
        #expect(await waitUntil { h.collected.paths.contains(h.path("S002.yaml")) })
        #expect(h.collected.first(h.path("S002.yaml"))?.cause == .event)
        await h.finish()
    }

    @Test func createdButNeverClosedIsPickedUpBySettleCheck() async {
        let h = Harness(settings: Self.fast)
        await h.start()
        let fd = open(h.path("S003.yaml"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        _ = write(fd, "id: S003\n", 9)
        #expect(await waitUntil { h.collected.paths.contains(h.path("S003.yaml")) })
        #expect(h.collected.first(h.path("S003.yaml"))?.cause == .scan)
        close(fd)
        await h.finish()
    }

    @Test func ignoredNamesAreNotEmitted() async {
        let ignored = [".hidden.yaml", "x.yaml.tmp", "x.yaml.part", "x.yaml.partial", "x.yaml~", "README.txt", "X.YAML.tmp"]
        let h = Harness(settings: Self.fast)
        makeDir(h.path("q0"))
        for name in ignored { writeFile(h.path("q0/" + name)) }
        writeFile(h.path("q0/pre.yaml"))
        await h.start()
        #expect(await waitUntil { h.collected.paths.contains(h.path("q0/pre.yaml")) })
        for name in ignored { writeFile(h.path(name)) }
        dropFile(h.path("marker.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("marker.yaml")) })
        #expect(h.collected.paths == [h.path("q0/pre.yaml"), h.path("marker.yaml")])
        await h.finish()
    }

    @Test func misnamedManifestsAndFilesInMisplacedFoldersAreEmittedWithTheProblem() async {
        let h = Harness(settings: Self.fast)
        makeDir(h.path("q0"))
        makeDir(h.path("My Queue"))
        makeDir(h.path("q0/sub"))
        makeDir(h.path(".snapshot"))
        writeFile(h.path("My Queue/a.yaml"))
        await h.start()
        #expect(await waitUntil { h.collected.paths.contains(h.path("My Queue/a.yaml")) })
        writeFile(h.path("X.YAML"))
        writeFile(h.path("q0/run.yaml.txt"))
        dropFile(h.path("q0/sub/b.yaml"))
        writeFile(h.path(".snapshot/c.yaml"))
        makeDir(h.path("q0/sub/deeper"))
        writeFile(h.path("q0/sub/deeper/d.yaml"))
        dropFile(h.path("marker.yaml"))
        let wanted = ["My Queue/a.yaml", "X.YAML", "q0/run.yaml.txt", "q0/sub/b.yaml", "marker.yaml"].map(h.path)
        #expect(await waitUntil { h.collected.paths.isSuperset(of: wanted) })
        #expect(h.collected.first(h.path("My Queue/a.yaml"))?.misplaced?.hasPrefix("inbox/My Queue/ is not a queue") == true)
        #expect(h.collected.first(h.path("q0/sub/b.yaml"))?.misplaced?.hasPrefix("inbox/q0/sub/ is nested too deep") == true)
        #expect(h.collected.first(h.path("q0/run.yaml.txt"))?.misplaced == nil)
        #expect(h.collected.first(h.path("q0/run.yaml.txt"))?.queue == "q0")
        #expect(!h.collected.paths.contains(h.path(".snapshot/c.yaml")) && !h.collected.paths.contains(h.path("q0/sub/deeper/d.yaml")))
        // Inboxes are the root and the queues; the others are problems.
        #expect(h.watcher.watchModes().map(\.folder) == [h.inbox, h.path("q0")])
        #expect(h.watcher.problems().map(\.path) == [h.path("My Queue"), h.path("q0/sub")])
        await h.finish()
    }

    @Test func nonRegularEntriesAreEmittedAtOnceWithoutOpening() async {
        // settle 60 s: anything that waited for the settle would not arrive in time.
        let h = Harness(settings: WatchSettings(settle: .seconds(60)))
        #expect(mkfifo(h.path("pre-fifo.yaml"), 0o644) == 0)
        await h.start()
        #expect(mkfifo(h.path("fifo.yaml"), 0o644) == 0)  // no writer: opening it would hang
        #expect(symlink("/dev/zero", h.path("link.yaml")) == 0)
        makeDir(h.path("dir.yaml"))
        writeFile(h.dir + "/outside.yaml")
        #expect(link(h.dir + "/outside.yaml", h.path("hard.yaml")) == 0)
        let expected = Set(["pre-fifo.yaml", "fifo.yaml", "link.yaml", "dir.yaml", "hard.yaml"].map(h.path))
        #expect(await waitUntil { h.collected.paths.isSuperset(of: expected) })
        #expect(h.collected.first(h.path("fifo.yaml"))?.cause == .event)
        #expect(h.collected.first(h.path("pre-fifo.yaml"))?.cause == .scan)
        // dir.yaml is a candidate, not a queue.
        #expect(h.watcher.watchModes().map(\.folder) == [h.inbox])
        await h.finish()
    }

    @Test func newQueueIsWatchedWithoutRestart() async {
        let h = Harness(settings: Self.fast)
        await h.start()
        makeDir(h.path("q1"))
        makeDir(h.path("-not-a-queue"))
        #expect(await waitUntil { h.watcher.watchModes().map(\.folder).contains(h.path("q1")) })
        dropFile(h.path("q1/S010.yaml"))
        makeDir(h.path("q1/deeper"))
        writeFile(h.path("q1/deeper/S011.yaml"))
        makeDir(h.path("q1/S012.yaml"))
        #expect(await waitUntil { h.collected.paths.isSuperset(of: [h.path("q1/S010.yaml"), h.path("q1/S012.yaml")]) })
        let c = h.collected.first(h.path("q1/S010.yaml"))
        #expect(c?.queue == "q1")
        #expect(c?.folder == h.path("q1"))
        #expect(c?.cause == .event)
        // A queue moved in, with a file already in it.
        let staged = h.dir + "/staged"
        makeDir(staged)
        writeFile(staged + "/S013.yaml")
        renameFile(staged, h.path("q2"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("q2/S013.yaml")) })
        #expect(h.collected.first(h.path("q2/S013.yaml"))?.queue == "q2")
        // A folder inside a queue is not a queue: its files come with the problem.
        #expect(await waitUntil { h.collected.paths.contains(h.path("q1/deeper/S011.yaml")) })
        #expect(h.collected.first(h.path("q1/deeper/S011.yaml"))?.misplaced != nil)
        #expect(h.watcher.watchModes().map(\.folder) == [h.inbox, h.path("q1"), h.path("q2")])
        #expect(h.logs.contains("inbox.not-a-queue"))
        await h.finish()
    }

    @Test func queueDeletedAndRecreatedIsWatchedAgain() async {
        let h = Harness(settings: Self.fast)
        makeDir(h.path("q1"))
        await h.start()
        #expect(h.watcher.watchModes().map(\.folder) == [h.inbox, h.path("q1")])
        #expect(rmdir(h.path("q1")) == 0)
        #expect(await waitUntil { h.watcher.watchModes().map(\.folder) == [h.inbox] })
        makeDir(h.path("q1"))
        #expect(await waitUntil { h.watcher.watchModes().map(\.folder) == [h.inbox, h.path("q1")] })
        dropFile(h.path("q1/S020.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("q1/S020.yaml")) })
        await h.finish()
    }

    @Test func missingInboxIsWatchedOnceItAppears() async {
        let h = Harness(settings: Self.fast, createInbox: false)
        await h.start()
        #expect(h.watcher.watchModes().isEmpty)
        #expect(h.logs.contains("inbox.missing"))
        makeDir(h.inbox)
        #expect(await waitUntil { h.watcher.watchModes().map(\.folder) == [h.inbox] })
        dropFile(h.path("S030.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("S030.yaml")) })
        // Deleted and made again (a remount looks the same): watched again.
        removeTree(h.inbox)
        #expect(await waitUntil { h.watcher.watchModes().isEmpty })
        makeDir(h.inbox)
        #expect(await waitUntil { h.watcher.watchModes().map(\.folder) == [h.inbox] })
        dropFile(h.path("S031.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("S031.yaml")) })
        await h.finish()
    }

    @Test func watchLimitFallsBackToPolling() async {
        let h = Harness(settings: WatchSettings(pollInterval: .milliseconds(200), settle: .milliseconds(300)))
        InboxWatcher.failAddWatchForTesting(ENOSPC)
        await h.start()
        InboxWatcher.failAddWatchForTesting(nil)
        #expect(h.watcher.watchModes().map(\.mode) == [.poll])
        #expect(h.logs.contains("inbox.fallback"))
        writeFile(h.path("S035.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("S035.yaml")) })
        #expect(h.collected.first(h.path("S035.yaml"))?.cause == .scan)
        // inotify is tried again at the next rescan.
        h.watcher.rescanNow()
        #expect(await waitUntil { h.watcher.watchModes().map(\.mode) == [.inotify] })
        dropFile(h.path("S036.yaml"))
        #expect(await waitUntil { h.collected.first(h.path("S036.yaml"))?.cause == .event })
        await h.finish()
    }

    @Test func filesPresentBeforeStartAreFoundAfterSettle() async {
        let h = Harness(settings: Self.fast)
        makeDir(h.path("q1"))
        writeFile(h.path("S040.yaml"))
        writeFile(h.path("q1/S041.yml"))
        await h.start()
        #expect(await waitUntil { h.collected.paths == [h.path("S040.yaml"), h.path("q1/S041.yml")] })
        #expect(h.collected.candidates.allSatisfy { $0.cause == .scan })
        #expect(h.collected.first(h.path("q1/S041.yml"))?.queue == "q1")
        await h.finish()
    }

    @Test func twentyThousandFilesAreScanned() async {
        let h = Harness(settings: Self.fast)
        for i in 0..<20_000 { writeFile(h.path("f\(i).yaml"), "") }
        for i in 0..<2_000 { writeFile(h.path("note\(i).txt"), "") }
        let clock = ContinuousClock()
        let began = clock.now
        await h.start()
        let setUp = clock.now - began
        #expect(await waitUntil(.seconds(30)) { h.collected.paths.count == 20_000 })
        print("20,000 files: start-up scan \(setUp), all emitted after \(clock.now - began) in \(h.collected.batchCount) batches")
        await h.finish()
    }

    @Test func pollModeWaitsUntilAFileStopsChanging() async {
        let h = Harness(settings: WatchSettings(mode: .poll, pollInterval: .milliseconds(100), settle: .seconds(1)))
        await h.start()
        #expect(h.watcher.watchModes().map(\.mode) == [.poll])
        writeFile(h.path("stable.yaml"))
        let fd = open(h.path("grow.yaml"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        // Keep the file growing every 100 ms for 4 s (a blocking loop: the watcher has its
        // own thread, and this suite runs alone).
        for _ in 0..<40 {
            _ = write(fd, "x: 1\n", 5)
            usleep(100_000)
        }
        #expect(!h.collected.paths.contains(h.path("grow.yaml")))
        close(fd)
        #expect(await waitUntil { h.collected.paths.contains(h.path("stable.yaml")) })
        #expect(await waitUntil { h.collected.paths.contains(h.path("grow.yaml")) })
        #expect(h.collected.candidates.allSatisfy { $0.cause == .scan })
        // Later poll rounds do not emit the unchanged files again.
        writeFile(h.path("marker.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("marker.yaml")) })
        #expect(h.collected.count(of: h.path("stable.yaml")) == 1)
        #expect(h.collected.count(of: h.path("grow.yaml")) == 1)
        await h.finish()
    }

    @Test func autoModePollsNetworkFolders() async {
        let h = Harness(settings: Self.fast, fileSystemKind: { path in
            path.hasSuffix("/inbox/remote") ? .network("nfs") : try FileSystemKind.of(path: path)
        })
        makeDir(h.path("remote"))
        makeDir(h.path("local"))
        await h.start()
        let modes = h.watcher.watchModes()
        #expect(modes.map(\.folder) == [h.inbox, h.path("local"), h.path("remote")])
        #expect(modes.map(\.mode) == [.inotify, .inotify, .poll])
        writeFile(h.path("remote/S050.yaml"))
        #expect(await waitUntil { h.collected.paths.contains(h.path("remote/S050.yaml")) })
        #expect(h.collected.first(h.path("remote/S050.yaml"))?.cause == .scan)
        #expect(h.collected.first(h.path("remote/S050.yaml"))?.queue == "remote")
        await h.finish()
    }

    @Test func rescanNowAndReemitEmitAgain() async {
        let h = Harness(settings: Self.fast)
        await h.start()
        dropFile(h.path("S060.yaml"))
        #expect(await waitUntil { h.collected.count(of: h.path("S060.yaml")) == 1 })
        h.watcher.rescanNow()
        #expect(await waitUntil { h.collected.count(of: h.path("S060.yaml")) == 2 })
        h.watcher.reemit(h.path("S060.yaml"))
        #expect(await waitUntil { h.collected.count(of: h.path("S060.yaml")) == 3 })
        await h.finish()
    }

    @Test func fiveThousandRenamesAllComeThrough() async {
        let h = Harness(settings: WatchSettings(settle: .seconds(60)))
        // A consumer that is busy 50 ms per batch: what arrives meanwhile comes as one batch.
        await h.start(busy: .milliseconds(50))
        let staged = h.dir + "/staged"
        makeDir(staged)
        for i in 0..<5_000 { writeFile(staged + "/J\(i).yaml", "") }
        for i in 0..<5_000 { renameFile(staged + "/J\(i).yaml", h.path("J\(i).yaml")) }
        #expect(await waitUntil(.seconds(30)) { h.collected.paths.count == 5_000 })
        #expect(h.collected.candidates.count == 5_000)
        #expect(h.collected.candidates.allSatisfy { $0.cause == .event })
        #expect(h.collected.batchCount < 1_000)
        print("5,000 renames came in \(h.collected.batchCount) batches")
        await h.finish()
    }

    @Test func inotifyDescriptorIsCloseOnExec() async {
        let h = Harness(settings: Self.fast)
        await h.start()
        #expect(h.watcher.watchModes().first?.mode == .inotify)
        let fds = inotifyDescriptors()
        #expect(!fds.isEmpty)
        for fd in fds {
            let flags = fcntl(fd, F_GETFD)
            #expect(flags >= 0 && flags & FD_CLOEXEC != 0, "inotify fd \(fd) lacks FD_CLOEXEC")
        }
        await h.finish()
    }

    @Test func everythingIsFoundAfterAQueueOverflow() async throws {
        let maxQueued = try #require(readProcInt("/proc/sys/fs/inotify/max_queued_events"))
        try #require(maxQueued <= 200_000, "max_queued_events too large to overflow in a test")
        let h = Harness(settings: Self.fast)
        await h.start()
        InboxWatcher.setWatchThreadPausedForTesting(true)
        #expect(await waitUntil { InboxWatcher.isWatchThreadPaused })
        // Each file written in place queues IN_CREATE and IN_CLOSE_WRITE.
        let n = maxQueued / 2 + 1_000
        for i in 0..<n { writeFile(h.path("O\(i).yaml"), "") }
        InboxWatcher.setWatchThreadPausedForTesting(false)
        #expect(await waitUntil(.seconds(180)) { h.collected.paths.count == n })   // liveness: all found, however loaded the machine
        #expect(h.logs.contains("inbox.overflow"))
        await h.finish()
    }

    @Test func stopEndsTheStreamAndTheThread() async {
        let h = Harness(settings: Self.fast)
        await h.start()
        #expect(InboxWatcher.isWatchThreadRunning)
        #expect(await h.finish())
        #expect(await waitUntil { !InboxWatcher.isWatchThreadRunning })
        // And a new watcher starts a new thread.
        let again = Harness(settings: Self.fast)
        await again.start()
        dropFile(again.path("S070.yaml"))
        #expect(await waitUntil { again.collected.paths.contains(again.path("S070.yaml")) })
        #expect(await again.finish())
    }
}
