// NAME
//      InboxWatcher — notice manifests dropped into an inbox
//
// SYNOPSIS
//      let watcher = InboxWatcher(inbox: "/srv/hopper/inbox", settings: WatchSettings(), logger: logger)
//      await watcher.start()
//      for await batch in watcher.batches { for candidate in batch { intake(candidate.path) } }
//      watcher.stop()
//
// DESCRIPTION
//      Watches the inbox root and each immediate sub-folder (a queue, `inbox/<queue>/`),
//      including queues created or moved in later, and yields batches of DropCandidate: names
//      that DropNames classifies as manifests and that are complete by the rules of SPEC §2.
//
//      Per folder the mode is inotify or polling. With `mode: auto`, folders on network and
//      FUSE filesystems (FileSystemKind.needsPolling) are polled, since inotify does not see
//      writes made by other machines; where inotify fails (watch limit, no instance left) the
//      folder is polled instead, with a warning, and inotify is tried again at each rescan.
//
//      inotify: IN_CLOSE_WRITE and IN_MOVED_TO emit at once; IN_CREATE of an entry that is not
//      a regular file, or of a hard link, emits at once; a plain IN_CREATE waits for its close
//      (with a settle check as safety net). Scans — at start, in each poll round, after an
//      event queue overflow, at the safety rescan (every `rescanInterval`, all folders), on
//      rescanNow(), and for a folder just added — emit a regular file only once its inode,
//      size and mtime stayed the same across `settle`, and any other entry at once. A scan is
//      opendir/readdir + fstatat: 20,000 files in a folder are fine.
//
//      An unchanged file is not emitted again by later poll rounds; a new generation (safety
//      rescan, rescanNow) emits files that are still there again, because the consumer removes
//      what it handles. Duplicates are possible and harmless; the consumer must tolerate a
//      path that is gone or was handled already. Missing a file is what this avoids.
//
//      Batches form at the consumer's pace, never by waiting: whatever was found while the
//      consumer was busy comes as one batch (up to `maxBatch`, a path at most once), and a
//      single drop reaches a waiting consumer as soon as its event is read (BatchMailbox).
//
//      All watchers of a process share one dedicated thread that owns libinotifytools (global
//      state); see WatchHub.swift and Inotify.swift. The thread starts with the first watcher
//      and ends when the last one is stopped.
//
//      A sub-folder whose name is not a valid queue name (Names.isValid), and a folder inside a
//      queue, is watched as a misplaced folder: its candidates carry the reason
//      (DropCandidate.misplaced) and intake rejects them saying where to drop instead;
//      problems() lists such folders. A directory named `*.yaml`/`*.yml` is not a queue but a
//      candidate (it will be rejected); hidden and deeper folders are ignored. Misnamed
//      manifests (`RUN.YAML`, `run.yaml.txt`: DropNames) are candidates too. A folder that disappears (deleted,
//      unmounted) is logged and watched again when it is back (the root is retried every
//      `pollInterval`, queues at the next scan of the root).
//
// SECURITY
//      Dropped entries are never opened, read or followed: only readdir(3) and
//      lstat(2)/fstatat(2) with AT_SYMLINK_NOFOLLOW, so a FIFO or a symlink to /dev/zero
//      cannot block or mislead the watcher. Queue folders are opened O_DIRECTORY|O_NOFOLLOW
//      and watched with IN_DONT_FOLLOW; a symlink in the inbox is never a queue. Every
//      descriptor is close-on-exec, including libinotifytools' inotify descriptor, which the
//      library opens without it. Entry names that are not UTF-8 cannot be handed over as
//      paths; they are logged once and left in place.
//
// DIAGNOSTICS
//      Messages (swift-log, fixed text, metadata `inbox.root` on all):
//      info     inbox.watch           a folder is watched: inbox.path, watch.mode (inotify|poll)
//      info     inbox.unwatch         a folder is no longer watched: inbox.path, reason
//      info     inbox.not-a-queue     a sub-folder with an invalid queue name: inbox.path
//      info     inbox.nested          a folder inside a queue (its manifests are rejected): inbox.path
//      info     inbox.scan-recovered  a folder that failed to list lists again
//      warning  inbox.fallback        inotify failed for a folder (watch limit, no instance,
//                                     read error), polling it until a rescan: inbox.path, reason
//      warning  inbox.missing         the inbox root is missing or went away: inbox.path, reason
//      warning  inbox.overflow        the kernel event queue overflowed; everything is rescanned
//      warning  inbox.scan-failed     listing a folder failed (EACCES, ESTALE, EIO): error
//      warning  inbox.fstype-unknown  statfs failed; the folder is polled
//      warning  inbox.name-not-utf8   a manifest-like name that is not UTF-8 is left alone
//      error    inbox.thread-failed   the watch thread could not be started; the stream ends
//
// CONFIGURATION
//      WatchSettings (WatchSettings.swift): mode (auto), pollInterval (2 s, 100 ms..1 h),
//      settle (1 s, 0..10 min), rescanInterval (60 s, 1 s..1 day), maxBatch (512, 1..65536).
//      HOPPER_FAKE_FSTYPE (tests): make a path prefix look like nfs, fuse... to `auto`
//      (see HopperCore/FileSystemKind.swift).
//
// SEE ALSO
//      WatchEngine.swift (the rules), WatchHub.swift (the thread), Inotify.swift
//      (libinotifytools), HopperCore/DropNames.swift, HopperCore/FileSystemKind.swift.

import HopperCore
import Logging
import Synchronization

public final class InboxWatcher: Sendable {
    /// The inbox root, absolute.
    public let inbox: String
    public let settings: WatchSettings
    /// Batches of candidates, for one consumer. A batch holds what was found since the
    /// consumer last asked (up to `maxBatch`), so it grows when the consumer is busy and a
    /// single drop is not delayed. Finishes after `stop()`, or when the consumer's task is
    /// cancelled (which stops the watcher).
    public let batches: AsyncStream<[DropCandidate]>

    private let mailbox: BatchMailbox
    private let id: UInt64
    private let logger: Logger
    private let shared: WatcherShared
    private let fileSystemKind: @Sendable (String) throws -> FileSystemKind

    private static let nextID = Atomic<UInt64>(1)

    /// - Parameters:
    ///   - inbox: the inbox root (made absolute against the working directory; may be a
    ///     symbolic link; need not exist yet).
    public convenience init(inbox: String, settings: WatchSettings = WatchSettings(), logger: Logger) {
        self.init(inbox: inbox, settings: settings, logger: logger,
                  fileSystemKind: { try FileSystemKind.of(path: $0) })
    }

    /// `fileSystemKind` is the seam tests use to pretend a folder is on NFS.
    init(inbox: String, settings: WatchSettings, logger: Logger,
         fileSystemKind: @escaping @Sendable (String) throws -> FileSystemKind) {
        self.inbox = Sys.absolutePath(inbox)
        self.settings = settings.clamped()
        self.logger = logger
        self.fileSystemKind = fileSystemKind
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let shared = WatcherShared()
        self.shared = shared
        let mailbox = BatchMailbox(maxBatch: self.settings.maxBatch)
        self.mailbox = mailbox
        let id = self.id
        mailbox.whenRoom {
            if shared.isRunning { WatchHub.shared.submit(.rescan(id)) }
        }
        batches = AsyncStream(unfolding: { await mailbox.next() }, onCancel: {
            // The consumer went away: stop watching (no-op when stop() ran already).
            switch shared.markStopped() {
            case .idle: mailbox.finish()
            case .started: WatchHub.shared.submit(.stop(id))
            case .stopped: break
            }
        })
    }

    deinit { stop() }

    /// Sets up the watches and scans everything once (files already there are emitted after
    /// `settle`). Returns when the watches are in place. Calling it again does nothing.
    public func start() async {
        guard shared.markStarted() else { return }
        let config = EngineConfig(id: id, root: inbox, settings: settings, logger: logger,
                                  mailbox: mailbox, shared: shared, fileSystemKind: fileSystemKind)
        await withCheckedContinuation { (ready: CheckedContinuation<Void, Never>) in
            WatchHub.shared.submit(.start(config, ready: ready))
        }
    }

    /// Stops watching; `batches` finishes once the watch thread has let go of the watches
    /// (promptly: the thread is woken). Does not wait.
    public func stop() {
        switch shared.markStopped() {
        case .idle: mailbox.finish()
        case .started: WatchHub.shared.submit(.stop(id))
        case .stopped: break
        }
    }

    /// Scan every folder now, as a new generation: files still present are emitted again.
    public func rescanNow() {
        if shared.isRunning { WatchHub.shared.submit(.rescan(id)) }
    }

    /// Forget that `path` was emitted: if it is still there it is emitted again after
    /// `settle` (a consumer that could not handle it now asks for it later this way).
    public func reemit(_ path: String) {
        if shared.isRunning { WatchHub.shared.submit(.reemit(id, path)) }
    }

    /// Folders in the inbox where a manifest may be dropped but none is taken from (a folder
    /// whose name is not a queue name, one nested in a queue): the folder (absolute) and why,
    /// saying what to do; sorted by folder. Manifests found in them are rejected with the reason.
    public func problems() -> [(path: String, message: String)] {
        shared.problems.withLock { p in p.map { (path: $0.key, message: $0.value) } }
            .sorted { $0.path < $1.path }
    }

    /// Each inbox folder (the root and the queues; absolute) with its mode, sorted by folder.
    /// Empty before start() and while the inbox is missing.
    public func watchModes() -> [(folder: String, mode: WatchMode)] {
        shared.modes.withLock { modes in modes.map { (folder: $0.key, mode: $0.value) } }
            .sorted { $0.folder < $1.folder }
    }
}

// Test hooks (internal; `@testable import HopperWatch`).
extension InboxWatcher {
    /// Pause or resume the watch thread of the process: while paused it reads no events and
    /// runs no timers, so the kernel's event queue can be made to overflow.
    static func setWatchThreadPausedForTesting(_ paused: Bool) { WatchHub.shared.setPaused(paused) }
    /// The thread has taken the pause: it reads no events until resumed.
    static var isWatchThreadPaused: Bool { WatchHub.shared.isPauseInEffect }
    /// Make inotify_add_watch fail with `code` (ENOSPC: the watch limit), nil to undo.
    static func failAddWatchForTesting(_ code: Int32?) { WatchHub.shared.addWatchError = code }
    /// Is the shared watch thread alive?
    static var isWatchThreadRunning: Bool { WatchHub.shared.isThreadRunning }
}

/// State shared between an InboxWatcher and its engine on the watch thread.
final class WatcherShared: Sendable {
    enum Lifecycle: Sendable { case idle, started, stopped }

    let modes = Mutex<[String: WatchMode]>([:])
    /// Folders manifests are not taken from (path → why and what to do).
    let problems = Mutex<[String: String]>([:])
    private let lifecycle = Mutex<Lifecycle>(.idle)

    /// idle → started; false otherwise.
    func markStarted() -> Bool {
        lifecycle.withLock { l in
            guard l == .idle else { return false }
            l = .started
            return true
        }
    }

    /// → stopped; returns what it was.
    func markStopped() -> Lifecycle {
        lifecycle.withLock { l in
            let was = l
            l = .stopped
            return was
        }
    }

    var isRunning: Bool { lifecycle.withLock { $0 == .started } }
    var isStopped: Bool { lifecycle.withLock { $0 == .stopped } }
}
