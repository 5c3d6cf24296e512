// WatchEngine — one inbox's watching, on the watch thread (see WatchHub). Not thread-safe:
// only the loop calls it.
//
// Folders: the inbox root and each immediate sub-folder whose name is a valid queue name
// (Names.isValid, and not itself a manifest name). Each is watched by inotify or polled.
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

    private let config: EngineConfig
    private let settings: WatchSettings
    private unowned let registry: any WatchRegistry
    private let clock = ContinuousClock()
    private var logger: Logger
    private var root: String { config.root }

    private final class Folder {
        let path: String
        let queue: String?
        var mode: WatchMode
        var wd: Int32?
        /// Wanted inotify but polls because inotify failed; retried at each safety rescan.
        var fallback = false
        var nextPoll: Instant
        var lastScan: UInt64 = 0
        var failing = false
        var emitted: [String: Emitted] = [:]
        var settling: [String: Settling] = [:]

        init(path: String, queue: String?, mode: WatchMode, nextPoll: Instant) {
            self.path = path
            self.queue = queue
            self.mode = mode
            self.nextPoll = nextPoll
        }
    }

    private struct Emitted {
        var identity: FileIdentity
        var generation: UInt64
        var seen: UInt64
    }

    private struct Settling {
        var identity: FileIdentity
        var token: UInt64
    }

    private struct SettleItem {
        var due: Instant
        var folder: String
        var name: String
        var token: UInt64
    }

    private let epoch: Instant
    private var folders: [String: Folder] = [:]
    private var rootPresent = false
    private var rootMissingLogged = false
    private var nextRootRetry: Instant
    private var generation: UInt64 = 1
    private var scanSerial: UInt64 = 0
    private var tokenSerial: UInt64 = 0
    private var settleQueue: [SettleItem] = []
    private var settleHead = 0
    private var batch: [DropCandidate] = []
    private var batchPaths: Set<String> = []
    private var nextRescan: Instant
    private var overflowScanPending = false
    private var rootScanPending = false
    private var loggedNotQueues: Set<String> = []
    private var loggedBadNames: Set<[UInt8]> = []

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
        guard let folder = folders[folderPath], DropNames.isCandidate(name) else { return }
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
        let isRoot = folder.queue == nil

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
                if DropNames.isCandidate(name) {
                    emit(folder, name, cause: .event, identity: nil)
                } else if isRoot {
                    considerQueue(name)
                }
            } else if event.has(InotifyMask.delete | InotifyMask.movedFrom) {
                if isRoot, let q = folders[Sys.join(root, name)] {
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
        guard DropNames.isCandidate(name) else { return }
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

    // MARK: - Folders

    private func setUpRoot() {
        switch Sys.isDirectory(root, followSymlinks: true) {
        case .success(true):
            rootPresent = true
            rootMissingLogged = false
            addFolder(path: root, queue: nil)
        case .success(false), .failure:
            rootPresent = false
            nextRootRetry = clock.now + settings.pollInterval
            if !rootMissingLogged {
                rootMissingLogged = true
                logger.warning("inbox.missing", metadata: ["inbox.path": "\(root)"])
            }
        }
    }

    private func lostRoot(reason: String) {
        logger.warning("inbox.missing", metadata: ["inbox.path": "\(root)", "reason": "\(reason)"])
        rootMissingLogged = true
        for folder in folders.values { unwatch(folder) }
        folders = [:]
        rootPresent = false
        overflowScanPending = false
        rootScanPending = false
        nextRootRetry = clock.now + settings.pollInterval
        publishModes()
    }

    private func considerQueue(_ name: String) {
        let path = Sys.join(root, name)
        guard folders[path] == nil else { return }
        guard Names.isValid(name) else {
            if loggedNotQueues.count < 1000, loggedNotQueues.insert(name).inserted {
                logger.info("inbox.not-a-queue", metadata: ["inbox.path": "\(path)"])
            }
            return
        }
        guard case .success(true) = Sys.isDirectory(path, followSymlinks: false) else { return }
        addFolder(path: path, queue: name)
    }

    private func addFolder(path: String, queue: String?) {
        var mode = chooseMode(path)
        var fallback = false
        var wd: Int32?
        if mode == .inotify {
            switch registry.addWatch(engine: config.id, folder: path, followSymlinks: queue == nil) {
            case .success(let w):
                wd = w
            case .failure(let failure):
                if let e = failure.errno, e.code == ENOENT || e.code == ENOTDIR {
                    if queue == nil { lostRoot(reason: "\(e)") }
                    return
                }
                logger.warning("inbox.fallback", metadata: [
                    "inbox.path": "\(path)", "watch.mode": "poll", "reason": "\(failure.reason)",
                ])
                mode = .poll
                fallback = true
            }
        }
        let folder = Folder(path: path, queue: queue, mode: mode, nextPoll: clock.now + settings.pollInterval)
        folder.wd = wd
        folder.fallback = fallback
        folders[path] = folder
        logger.info("inbox.watch", metadata: ["inbox.path": "\(path)", "watch.mode": "\(mode.rawValue)"])
        publishModes()
        scan(folder)  // after the watch is in place: nothing falls between
    }

    private func chooseMode(_ path: String) -> WatchMode {
        switch settings.mode {
        case .poll: return .poll
        case .inotify: return .inotify
        case .auto:
            do {
                return try config.fileSystemKind(path).needsPolling ? .poll : .inotify
            } catch {
                logger.warning("inbox.fstype-unknown", metadata: ["inbox.path": "\(path)", "error": "\(error)"])
                return .poll
            }
        }
    }

    private func removeFolder(_ folder: Folder, reason: String) {
        guard folders[folder.path] === folder else { return }
        unwatch(folder)
        folders[folder.path] = nil
        logger.info("inbox.unwatch", metadata: ["inbox.path": "\(folder.path)", "reason": "\(reason)"])
        publishModes()
    }

    private func unwatch(_ folder: Folder) {
        if let wd = folder.wd {
            registry.removeWatch(engine: config.id, wd: wd, folder: folder.path)
            folder.wd = nil
        }
    }

    private func publishModes() {
        let modes = folders.mapValues(\.mode)
        config.shared.modes.withLock { $0 = modes }
    }

    // MARK: - Scans

    /// A new generation, then every folder: the root first (it adds and removes queues).
    private func fullRescan() {
        generation += 1
        if !rootPresent {
            setUpRoot()
            return
        }
        for folder in folders.values where folder.fallback && settings.mode != .poll {
            if case .success(let wd) = registry.addWatch(engine: config.id, folder: folder.path, followSymlinks: folder.queue == nil) {
                folder.wd = wd
                folder.mode = .inotify
                folder.fallback = false
                logger.info("inbox.watch", metadata: ["inbox.path": "\(folder.path)", "watch.mode": "inotify"])
                publishModes()
            }
        }
        scanAll(onlyInotify: false)
    }

    private func scanAll(onlyInotify: Bool) {
        let pass = scanSerial
        guard let r = folders[root] else { return }
        scan(r)
        for folder in Array(folders.values) where folder.lastScan <= pass {
            guard folders[folder.path] === folder else { continue }
            if onlyInotify && folder.mode != .inotify { continue }
            scan(folder)
        }
    }

    private func scan(_ folder: Folder) {
        scanSerial += 1
        let serial = scanSerial
        folder.lastScan = serial
        let isRoot = folder.queue == nil
        if folder.mode == .poll { folder.nextPoll = clock.now + settings.pollInterval }

        var seenQueues = Set<String>()
        var newQueues: [String] = []
        let error = Sys.readDirectory(folder.path, followSymlinks: isRoot) { dirFD, rawName, type in
            if rawName.count <= 2 && rawName.allSatisfy({ $0 == UInt8(ascii: ".") }) { return }
            if isRoot && (type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN)) {
                if let name = String(validating: rawName, as: UTF8.self), !DropNames.isCandidate(name) {
                    if type == UInt8(DT_UNKNOWN) {
                        guard let st = Sys.lstatAt(dirFD, rawName),
                              UInt32(st.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) else { return }
                    }
                    if Names.isValid(name) {
                        seenQueues.insert(name)
                        if folders[Sys.join(root, name)] == nil { newQueues.append(name) }
                    } else if loggedNotQueues.count < 1000, loggedNotQueues.insert(name).inserted {
                        logger.info("inbox.not-a-queue", metadata: ["inbox.path": "\(Sys.join(root, name))"])
                    }
                    return
                }
            }
            // Cheap test on bytes first: most names in a busy folder are not manifests.
            guard looksLikeCandidate(rawName) else { return }
            guard let name = decodeName(Array(rawName), in: folder), DropNames.isCandidate(name) else { return }
            guard let st = Sys.lstatAt(dirFD, rawName) else { return }
            observe(folder, name, FileIdentity(st), serial: serial)
        }

        if let error {
            if error.code == ENOENT || error.code == ENOTDIR {
                if isRoot { lostRoot(reason: "\(error)") } else { removeFolder(folder, reason: "\(error)") }
            } else if !folder.failing {
                folder.failing = true
                logger.warning("inbox.scan-failed", metadata: ["inbox.path": "\(folder.path)", "error": "\(error)"])
            }
            return
        }
        if folder.failing {
            folder.failing = false
            logger.info("inbox.scan-recovered", metadata: ["inbox.path": "\(folder.path)"])
        }
        // A complete listing: forget what is gone.
        folder.emitted = folder.emitted.filter { $0.value.seen == serial }
        if isRoot {
            for q in Array(folders.values) where q.queue != nil && !seenQueues.contains(q.queue!) {
                removeFolder(q, reason: "no longer in the inbox")
            }
            for name in newQueues { considerQueue(name) }
        }
    }

    private func observe(_ folder: Folder, _ name: String, _ identity: FileIdentity, serial: UInt64) {
        if var record = folder.emitted[name] {
            if record.identity == identity {
                if record.generation == generation {
                    record.seen = serial
                    folder.emitted[name] = record
                } else {
                    // Judged complete before and unchanged: emit again now (new generation).
                    emit(folder, name, cause: .scan, identity: identity)
                }
                return
            }
            folder.emitted[name] = nil  // replaced or changed since: judge it afresh
        }
        if !identity.isRegular {
            emit(folder, name, cause: .scan, identity: identity)
            return
        }
        if folder.settling[name] == nil && hasRoom() { startSettling(folder, name, identity) }
    }

    /// Whether one more file may be taken up (settled or emitted) without overfilling the
    /// mailbox. When not, the file is left where it is, unrecorded, and the mailbox asks for
    /// a rescan once the consumer has made room (BatchMailbox): the watcher's memory stays
    /// bounded by the mailbox's capacity whatever the backlog in the inbox.
    private func hasRoom() -> Bool {
        let taken = batch.count + (settleQueue.count - settleHead)
        if taken < config.mailbox.room { return true }
        config.mailbox.refuse()
        return false
    }

    // MARK: - Settling

    private func startSettling(_ folder: Folder, _ name: String, _ identity: FileIdentity) {
        tokenSerial += 1
        folder.settling[name] = Settling(identity: identity, token: tokenSerial)
        settleQueue.append(SettleItem(due: settleDue(), folder: folder.path, name: name, token: tokenSerial))
    }

    /// now + settle, rounded up to a 50 ms step: the checks of the many files of one scan fall
    /// due together (one round, one batch) and never early. Nondecreasing, so the queue stays
    /// in order.
    private func settleDue() -> Instant {
        let step: Int64 = 50_000_000
        let (s, a) = (clock.now + settings.settle - epoch).components
        let ns = s * 1_000_000_000 + a / 1_000_000_000
        return epoch + .nanoseconds((ns + step - 1) / step * step)
    }

    private func checkSettled(_ item: SettleItem) {
        guard let folder = folders[item.folder], let pending = folder.settling[item.name],
              pending.token == item.token else { return }
        switch Sys.lstatEntry(Sys.join(folder.path, item.name)) {
        case .failure:
            folder.settling[item.name] = nil
        case .success(let (identity, _)):
            if identity == pending.identity {
                emit(folder, item.name, cause: .scan, identity: identity)
            } else {
                startSettling(folder, item.name, identity)
            }
        }
    }

    // MARK: - Emitting

    private func emit(_ folder: Folder, _ name: String, cause: DropCandidate.Cause, identity: FileIdentity?) {
        folder.settling[name] = nil
        guard hasRoom() else {
            folder.emitted[name] = nil   // judged afresh at the rescan that room brings
            return
        }
        let path = Sys.join(folder.path, name)
        var id = identity
        if id == nil {
            switch Sys.lstatEntry(path) {
            case .success(let (i, _)): id = i
            case .failure(let e) where e.code == ENOENT:
                folder.emitted[name] = nil
                return  // renamed away or removed already: nothing to hand over
            case .failure: break
            }
        }
        if let id {
            folder.emitted[name] = Emitted(identity: id, generation: generation, seen: scanSerial)
        } else {
            folder.emitted[name] = nil
        }
        if batchPaths.insert(path).inserted {
            batch.append(DropCandidate(folder: folder.path, queue: folder.queue, name: name, cause: cause))
            if batch.count >= settings.maxBatch { flush() }
        }
    }

    private func forget(_ folder: Folder, _ name: String) {
        folder.emitted[name] = nil
        folder.settling[name] = nil
    }

    // MARK: - Names

    /// Ends in `.yaml`/`.yml` and does not start with `.` — the byte test before decoding.
    private func looksLikeCandidate(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = name.first, first != UInt8(ascii: ".") else { return false }
        let yaml: [UInt8] = Array(".yaml".utf8), yml: [UInt8] = Array(".yml".utf8)
        return (name.count > yaml.count && name.suffix(yaml.count).elementsEqual(yaml))
            || (name.count > yml.count && name.suffix(yml.count).elementsEqual(yml))
    }

    /// The name as a String, or nil (logged once) when it is not UTF-8: such a name cannot
    /// be handed over as a path String, so it stays where it is.
    private func decodeName(_ bytes: [UInt8], in folder: Folder) -> String? {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        let lossy = String(decoding: bytes, as: UTF8.self)
        if DropNames.isCandidate(lossy), loggedBadNames.count < 1000, loggedBadNames.insert(bytes).inserted {
            logger.warning("inbox.name-not-utf8", metadata: ["inbox.path": "\(folder.path)", "name": "\(lossy)"])
        }
        return nil
    }

    private func readProcNumber(_ path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return nil }
        return Int(String(decoding: buf[0..<n], as: UTF8.self).trimmingSpaces)
    }
}

private extension String {
    var trimmingSpaces: String {
        String(self.filter { !$0.isWhitespace })
    }
}
