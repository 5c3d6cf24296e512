// WatchEngine+Folders — which folders are watched (the inbox root, its queues, and the folders
// where a manifest may be misplaced), each by inotify or by polling.
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension WatchEngine {
    // MARK: - Folders

    func setUpRoot() {
        switch Sys.isDirectory(root, followSymlinks: true) {
        case .success(true):
            rootPresent = true
            rootMissingLogged = false
            addFolder(path: root, queue: nil, parent: nil, problem: nil)
        case .success(false), .failure:
            rootPresent = false
            nextRootRetry = clock.now + settings.pollInterval
            if !rootMissingLogged {
                rootMissingLogged = true
                logger.warning("inbox.missing", metadata: ["inbox.path": "\(root)"])
            }
        }
    }

    func lostRoot(reason: String) {
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

    /// A folder in the root (a queue, or a folder that is not one) or in a queue (nested too deep).
    func considerSubfolder(_ name: String, in parent: Folder) {
        let path = Sys.join(parent.path, name)
        guard folders[path] == nil, parent.hasSubfolders, !name.hasPrefix(".") else { return }
        guard case .success(true) = Sys.isDirectory(path, followSymlinks: false) else { return }
        if parent.isRoot && Names.isValid(name) {
            addFolder(path: path, queue: name, parent: parent.path, problem: nil)
            return
        }
        let problem: String
        if parent.isRoot {
            problem = Self.notAQueue(name, inbox: Sys.split(root).1)
            if loggedNotQueues.count < 1000, loggedNotQueues.insert(name).inserted {
                logger.info("inbox.not-a-queue", metadata: ["inbox.path": "\(path)"])
            }
        } else {
            problem = Self.nested(name, queue: parent.queue ?? Sys.split(parent.path).1, inbox: Sys.split(root).1)
            logger.info("inbox.nested", metadata: ["inbox.path": "\(path)"])
        }
        addFolder(path: path, queue: nil, parent: parent.path, problem: problem)
    }

    /// `inbox/My Queue/ is not a queue: …` — the reason a manifest dropped there is rejected.
    static func notAQueue(_ name: String, inbox: String) -> String {
        "\(inbox)/\(name)/ is not a queue (queue names must match \(Names.idRule)): "
            + "put the manifest in \(inbox)/ or in a queue folder, or rename the folder, e.g. to \(inbox)/\(queueName(like: name))/"
    }

    /// `inbox/seqA/sub/ is nested too deep: …`
    static func nested(_ name: String, queue: String, inbox: String) -> String {
        "\(inbox)/\(queue)/\(name)/ is nested too deep: manifests are taken only from \(inbox)/ and \(inbox)/<queue>/; "
            + "move the manifest to \(inbox)/\(queue)/"
    }

    static let notUTF8 = "the file name is not UTF-8 (it was written in another encoding), so the daemon cannot take it: rename it with letters, digits, '.', '_' and '-' only"

    /// A valid queue name close to `name`: `My Queue` → `My_Queue`.
    static func queueName(like name: String) -> String {
        var out = ""
        for ch in name.unicodeScalars.prefix(128) {
            let ok = ch.isASCII && (ch.properties.isAlphabetic || ("0"..."9").contains(ch) || ch == "." || ch == "_" || ch == "-")
            out.unicodeScalars.append(ok ? ch : "_")
        }
        if !Names.isValid(out) { out = String(("q" + out).prefix(128)) }
        return Names.isValid(out) ? out : "queue1"
    }

    func addFolder(path: String, queue: String?, parent: String?, problem: String?) {
        var mode = chooseMode(path)
        var fallback = false
        var wd: Int32?
        if mode == .inotify {
            switch registry.addWatch(engine: config.id, folder: path, followSymlinks: parent == nil) {
            case .success(let w):
                wd = w
            case .failure(let failure):
                if let e = failure.errno, e.code == ENOENT || e.code == ENOTDIR {
                    if parent == nil { lostRoot(reason: "\(e)") }
                    return
                }
                logger.warning("inbox.fallback", metadata: [
                    "inbox.path": "\(path)", "watch.mode": "poll", "reason": "\(failure.reason)",
                ])
                mode = .poll
                fallback = true
            }
        }
        let folder = Folder(path: path, queue: queue, parent: parent, problem: problem, mode: mode,
                            nextPoll: clock.now + settings.pollInterval)
        folder.wd = wd
        folder.fallback = fallback
        folders[path] = folder
        logger.info("inbox.watch", metadata: ["inbox.path": "\(path)", "watch.mode": "\(mode.rawValue)"])
        publishModes()
        scan(folder)  // after the watch is in place: nothing falls between
    }

    func chooseMode(_ path: String) -> WatchMode {
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

    func removeFolder(_ folder: Folder, reason: String) {
        guard folders[folder.path] === folder else { return }
        for child in Array(folders.values) where child.parent == folder.path { removeFolder(child, reason: reason) }
        unwatch(folder)
        folders[folder.path] = nil
        logger.info("inbox.unwatch", metadata: ["inbox.path": "\(folder.path)", "reason": "\(reason)"])
        publishModes()
    }

    func unwatch(_ folder: Folder) {
        if let wd = folder.wd {
            registry.removeWatch(engine: config.id, wd: wd, folder: folder.path)
            folder.wd = nil
        }
    }

    /// The inbox folders' modes, and the folders' problems, for the heartbeat.
    func publishModes() {
        let modes = folders.filter { $0.value.problem == nil }.mapValues(\.mode)
        config.shared.modes.withLock { $0 = modes }
        var problems = folders.compactMapValues(\.problem)
        for folder in folders.values {
            for name in folder.badNames {
                problems[Sys.join(folder.path, name)] = Self.notUTF8
            }
        }
        config.shared.problems.withLock { $0 = problems }
    }
}
