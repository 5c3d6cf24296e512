// WatchEngine+Scan — listing folders, settling files whose writer gives no sign of being done,
// and emitting candidates into the mailbox (within its room).
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension WatchEngine {
    // MARK: - Scans

    /// A new generation, then every folder: the root first (it adds and removes queues).
    func fullRescan() {
        generation += 1
        if !rootPresent {
            setUpRoot()
            return
        }
        for folder in folders.values where folder.fallback && settings.mode != .poll {
            if case .success(let wd) = registry.addWatch(engine: config.id, folder: folder.path, followSymlinks: folder.isRoot) {
                folder.wd = wd
                folder.mode = .inotify
                folder.fallback = false
                logger.info("inbox.watch", metadata: ["inbox.path": "\(folder.path)", "watch.mode": "inotify"])
                publishModes()
            }
        }
        scanAll(onlyInotify: false)
    }

    func scanAll(onlyInotify: Bool) {
        let pass = scanSerial
        guard let r = folders[root] else { return }
        scan(r)
        for folder in Array(folders.values) where folder.lastScan <= pass {
            guard folders[folder.path] === folder else { continue }
            if onlyInotify && folder.mode != .inotify { continue }
            scan(folder)
        }
    }

    func scan(_ folder: Folder) {
        scanSerial += 1
        let serial = scanSerial
        folder.lastScan = serial
        let isRoot = folder.isRoot
        let hasSubfolders = folder.hasSubfolders
        if folder.mode == .poll { folder.nextPoll = clock.now + settings.pollInterval }

        var seenFolders = Set<String>()
        var newFolders: [String] = []
        let badBefore = folder.badNames
        folder.badNames = []
        scanning = true
        let error = Sys.readDirectory(folder.path, followSymlinks: isRoot) { dirFD, rawName, type in
            if rawName.count <= 2 && rawName.allSatisfy({ $0 == UInt8(ascii: ".") }) { return }
            if hasSubfolders && (type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN)) {
                if let name = String(validating: rawName, as: UTF8.self), !DropNames.isPlausible(name) {
                    if type == UInt8(DT_UNKNOWN) {
                        guard let st = Sys.lstatAt(dirFD, rawName),
                              UInt32(st.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) else { return }
                    }
                    if !name.hasPrefix(".") {
                        seenFolders.insert(name)
                        if folders[Sys.join(folder.path, name)] == nil { newFolders.append(name) }
                    }
                    return
                }
            }
            // Cheap test on bytes first: most names in a busy folder are not manifests.
            guard looksLikeCandidate(rawName) else { return }
            guard let name = decodeName(Array(rawName), in: folder), DropNames.isPlausible(name) else { return }
            guard let st = Sys.lstatAt(dirFD, rawName) else { return }
            observe(folder, name, FileIdentity(st), serial: serial)
        }

        scanning = false
        if let error {
            folder.badNames.formUnion(badBefore)   // an incomplete listing forgets nothing
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
        if folder.badNames != badBefore { publishModes() }
        if hasSubfolders {
            for q in Array(folders.values) where q.parent == folder.path && !seenFolders.contains(Sys.split(q.path).1) {
                removeFolder(q, reason: "no longer in the inbox")
            }
            for name in newFolders { considerSubfolder(name, in: folder) }
        }
    }

    func observe(_ folder: Folder, _ name: String, _ identity: FileIdentity, serial: UInt64) {
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
    func hasRoom() -> Bool {
        let taken = batch.count + (settleQueue.count - settleHead)
        if taken < config.mailbox.room { return true }
        config.mailbox.refuse()
        return false
    }

    // MARK: - Settling

    func startSettling(_ folder: Folder, _ name: String, _ identity: FileIdentity) {
        tokenSerial += 1
        folder.settling[name] = Settling(identity: identity, token: tokenSerial)
        settleQueue.append(SettleItem(due: settleDue(), folder: folder.path, name: name, token: tokenSerial))
    }

    /// now + settle, rounded up to a 50 ms step: the checks of the many files of one scan fall
    /// due together (one round, one batch) and never early. Nondecreasing, so the queue stays
    /// in order.
    func settleDue() -> Instant {
        let step: Int64 = 50_000_000
        let (s, a) = (clock.now + settings.settle - epoch).components
        let ns = s * 1_000_000_000 + a / 1_000_000_000
        return epoch + .nanoseconds((ns + step - 1) / step * step)
    }

    func checkSettled(_ item: SettleItem) {
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

    func emit(_ folder: Folder, _ name: String, cause: DropCandidate.Cause, identity: FileIdentity?) {
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
            batch.append(DropCandidate(folder: folder.path, queue: folder.queue, name: name, cause: cause, misplaced: folder.problem))
            if batch.count >= settings.maxBatch { flush() }
        }
    }

    func forget(_ folder: Folder, _ name: String) {
        folder.emitted[name] = nil
        folder.settling[name] = nil
    }

    // MARK: - Names

    /// Ends in `.yaml`, `.yml` or `.txt` in any case and does not start with `.` — the byte
    /// test before decoding (DropNames decides).
    func looksLikeCandidate(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = name.first, first != UInt8(ascii: "."), name.count > 4 else { return false }
        let tail = name.suffix(5).map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        return tail.elementsEqual(".yaml".utf8) || tail.dropFirst().elementsEqual(".yml".utf8)
            || tail.dropFirst().elementsEqual(".txt".utf8)
    }

    /// The name as a String, or nil (logged once) when it is not UTF-8: such a name cannot
    /// be handed over as a path String, so it stays where it is.
    func decodeName(_ bytes: [UInt8], in folder: Folder) -> String? {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        let lossy = String(decoding: bytes, as: UTF8.self)
        guard DropNames.isPlausible(lossy) else { return nil }
        if loggedBadNames.count < 1000, loggedBadNames.insert(bytes).inserted {
            logger.warning("inbox.name-not-utf8", metadata: ["inbox.path": "\(folder.path)", "name": "\(lossy)"])
        }
        if folder.badNames.count < 1000, folder.badNames.insert(lossy).inserted, !scanning { publishModes() }
        return nil
    }

    func readProcNumber(_ path: String) -> Int? {
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
