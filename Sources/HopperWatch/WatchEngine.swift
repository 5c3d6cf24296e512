// WatchEngine — one inbox's watching, on the watch thread (see WatchHub). Not thread-safe:
// only the loop calls it.
//
// Folders: the inbox root and each immediate sub-folder whose name is a valid queue name
// (Names.isValid, and not itself a manifest name). Each is watched by inotify or polled.
// Folders where a person may well drop a manifest but none is taken from — a sub-folder whose
// name is not a queue name (`inbox/My Queue/`), a folder inside a queue (`inbox/seqA/sub/`) —
// are watched too: their candidates carry the problem (`DropCandidate.misplaced`), so intake
// rejects them saying where to put them, and the problem is published for the heartbeat.
// Hidden folders (`.snapshot`) and anything deeper are left alone.
//
// Three ways a name becomes a candidate (SPEC §2):
//   1. an event says it is complete: IN_CLOSE_WRITE or IN_MOVED_TO, or IN_CREATE of an entry
//      that is not a regular file, or of a regular file with more than one link (a hard link
//      was made: no close will follow) — emitted at once (cause .event);
//   2. IN_CREATE of a plain new file: emitted when its IN_CLOSE_WRITE comes, or by the settle
//      check if none comes;
//   3. a scan (start, poll round, overflow, safety rescan, rescanNow, a new folder) finds it:
//      a regular file is emitted once its identity (inode, size, mtime) is unchanged across
//      `settle` (cause .scan); any other entry at once.
//
// After emitting, the engine remembers (identity, generation) per name, so poll rounds do not
// emit an unchanged file again. A safety rescan or rescanNow() starts a new generation: files
// still there and unchanged since they were emitted are emitted again at once (the consumer
// removes what it handles, so a file still present may have been dropped mid-way).
// Memory is bounded by the entries in the folders: records of names that are gone are
// dropped by DELETE/MOVED_FROM events and after every complete scan.

import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class WatchEngine {
    typealias Instant = ContinuousClock.Instant

    let config: EngineConfig
    let settings: WatchSettings
    unowned let registry: any WatchRegistry
    let clock = ContinuousClock()
    var logger: Logger
    var root: String { config.root }

    final class Folder {
        let path: String
        let queue: String?
        /// The folder it is in; nil for the inbox root.
        let parent: String?
        /// Why manifests are not taken from it (see DropCandidate.misplaced); nil for the root and queues.
        let problem: String?
        var isRoot: Bool { parent == nil }
        /// Folders inside it are looked at: the root (queues) and queues (nested too deep).
        var hasSubfolders: Bool { problem == nil }
        var mode: WatchMode
        var wd: Int32?
        /// Wanted inotify but polls because inotify failed; retried at each safety rescan.
        var fallback = false
        var nextPoll: Instant
        var lastScan: UInt64 = 0
        var failing = false
        var emitted: [String: Emitted] = [:]
        var settling: [String: Settling] = [:]
        /// Manifest-like names that are not UTF-8 (as shown, U+FFFD for bad bytes): left
        /// where they are, and listed as problems until a complete scan no longer finds them.
        var badNames: Set<String> = []

        init(path: String, queue: String?, parent: String?, problem: String?, mode: WatchMode, nextPoll: Instant) {
            self.path = path
            self.queue = queue
            self.parent = parent
            self.problem = problem
            self.mode = mode
            self.nextPoll = nextPoll
        }
    }

    struct Emitted {
        var identity: FileIdentity
        var generation: UInt64
        var seen: UInt64
    }

    struct Settling {
        var identity: FileIdentity
        var token: UInt64
    }

    struct SettleItem {
        var due: Instant
        var folder: String
        var name: String
        var token: UInt64
    }

    let epoch: Instant
    var folders: [String: Folder] = [:]
    var rootPresent = false
    var rootMissingLogged = false
    var nextRootRetry: Instant
    var generation: UInt64 = 1
    var scanSerial: UInt64 = 0
    var tokenSerial: UInt64 = 0
    var settleQueue: [SettleItem] = []
    var settleHead = 0
    var batch: [DropCandidate] = []
    var batchPaths: Set<String> = []
    var nextRescan: Instant
    var overflowScanPending = false
    var rootScanPending = false
    var loggedNotQueues: Set<String> = []
    var loggedBadNames: Set<[UInt8]> = []
    /// A folder is being listed: problems are published once the listing ends.
    var scanning = false

    init(config: EngineConfig, registry: any WatchRegistry) {
        self.config = config
        self.settings = config.settings.clamped()
        self.registry = registry
        self.logger = config.logger
        self.logger[metadataKey: "inbox.root"] = "\(config.root)"
        let now = ContinuousClock().now
        epoch = now
        nextRescan = now + settings.rescanInterval
        nextRootRetry = now + settings.pollInterval
    }

    // MARK: - Commands from the loop

    func start() {
        setUpRoot()
        nextRescan = clock.now + settings.rescanInterval
    }

    func shutdown() {
        for folder in folders.values { unwatch(folder) }
        folders = [:]
        publishModes()
        flush()
        config.mailbox.finish()
    }

    func rescanNow() {
        fullRescan()
        nextRescan = clock.now + settings.rescanInterval
    }

    /// Forget that `path` was emitted; it is emitted again once it has kept its identity for
    /// `settle` (or at once if it is not a regular file).
    func reemit(_ path: String) {
        let (folderPath, name) = Sys.split(Sys.absolutePath(path))
        guard let folder = folders[folderPath], DropNames.isPlausible(name) else { return }
        folder.emitted[name] = nil
        guard folder.settling[name] == nil else { return }
        guard case .success(let (identity, _)) = Sys.lstatEntry(Sys.join(folder.path, name)) else { return }
        if identity.isRegular {
            startSettling(folder, name, identity)
        } else {
            emit(folder, name, cause: .scan, identity: identity)
        }
    }

    func overflowed() {
        guard folders.values.contains(where: { $0.mode == .inotify }) else { return }
        logger.warning("inbox.overflow", metadata: [
            "inotify.max_queued_events": "\(readProcNumber("/proc/sys/fs/inotify/max_queued_events") ?? -1)",
        ])
        overflowScanPending = true
    }

    /// The inotify session is gone: poll every inotify folder until the next rescan.
    func inotifyLost(reason: String) {
        for folder in folders.values where folder.mode == .inotify {
            folder.wd = nil
            folder.mode = .poll
            folder.fallback = true
            folder.nextPoll = clock.now
            logger.warning("inbox.fallback", metadata: [
                "inbox.path": "\(folder.path)", "watch.mode": "poll", "reason": "\(reason)",
            ])
        }
        publishModes()
    }

    // MARK: - Timers

    func tick(now: Instant) {
        while settleHead < settleQueue.count && settleQueue[settleHead].due <= now {
            let item = settleQueue[settleHead]
            settleHead += 1
            checkSettled(item)
        }
        if settleHead > 1024 && settleHead * 2 > settleQueue.count {
            settleQueue.removeFirst(settleHead)
            settleHead = 0
        }

        if !rootPresent {
            overflowScanPending = false  // setUpRoot scans everything anyway
            rootScanPending = false
            if now >= nextRootRetry {
                nextRootRetry = now + settings.pollInterval
                setUpRoot()
            }
        } else if overflowScanPending {
            overflowScanPending = false
            rootScanPending = false
            scanAll(onlyInotify: true)
        } else if rootScanPending {
            rootScanPending = false
            if let r = folders[root] { scan(r) }
        }

        for folder in Array(folders.values) where folder.mode == .poll && folder.nextPoll <= now {
            guard folders[folder.path] === folder else { continue }
            scan(folder)
        }

        if now >= nextRescan {
            fullRescan()
            nextRescan = now + settings.rescanInterval
        }
    }

    func nextDeadline() -> Instant? {
        if overflowScanPending || rootScanPending { return clock.now }
        var d = nextRescan
        if settleHead < settleQueue.count { d = min(d, settleQueue[settleHead].due) }
        if !rootPresent { d = min(d, nextRootRetry) }
        for folder in folders.values where folder.mode == .poll { d = min(d, folder.nextPoll) }
        return d
    }

    func flush() {
        guard !batch.isEmpty else { return }
        config.mailbox.post(batch)
        batch = []
        batchPaths = []
    }

    // MARK: - Events

    func handle(_ event: InotifyEvent, folder path: String) {
        guard let folder = folders[path] else { return }
        let isRoot = folder.isRoot

        if event.has(InotifyMask.ignored) {
            // The kernel dropped the watch (directory deleted, moved away, unmounted).
            folder.wd = nil
            if isRoot {
                lostRoot(reason: "watch removed by the kernel")
            } else {
                removeFolder(folder, reason: "watch removed by the kernel")
                rootScanPending = true  // still there (e.g. remounted)? watch it again
            }
            return
        }
        if event.has(InotifyMask.deleteSelf | InotifyMask.moveSelf | InotifyMask.unmount) {
            if isRoot {
                lostRoot(reason: event.has(InotifyMask.moveSelf) ? "moved away" : "deleted or unmounted")
            } else {
                removeFolder(folder, reason: "deleted, moved or unmounted")
                rootScanPending = true
            }
            return
        }
        guard !event.name.isEmpty else { return }
        guard let name = decodeName(event.name, in: folder) else { return }

        if event.has(InotifyMask.isDir) {
            if event.has(InotifyMask.create | InotifyMask.movedTo) {
                if DropNames.isPlausible(name) {
                    emit(folder, name, cause: .event, identity: nil)
                } else if folder.hasSubfolders {
                    considerSubfolder(name, in: folder)
                }
            } else if event.has(InotifyMask.delete | InotifyMask.movedFrom) {
                if let q = folders[Sys.join(folder.path, name)] {
                    removeFolder(q, reason: "removed from the inbox")
                }
                forget(folder, name)
            }
            return
        }

        if event.has(InotifyMask.delete | InotifyMask.movedFrom) {
            forget(folder, name)
            return
        }
        guard DropNames.isPlausible(name) else { return }
        let path = Sys.join(folder.path, name)
        if event.has(InotifyMask.closeWrite | InotifyMask.movedTo) {
            emit(folder, name, cause: .event, identity: nil)
        } else if event.has(InotifyMask.create) {
            switch Sys.lstatEntry(path) {
            case .failure:
                return  // gone already
            case .success(let (identity, links)):
                if !identity.isRegular || links > 1 {
                    emit(folder, name, cause: .event, identity: identity)
                } else if folder.settling[name] == nil {
                    // Wait for IN_CLOSE_WRITE; the settle check is the safety net (a file
                    // linked in from O_TMPFILE has no close to come).
                    startSettling(folder, name, identity)
                }
            }
        }
    }
}
