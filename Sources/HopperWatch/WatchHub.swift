// WatchHub — the one watch thread of the process, and the inotify session it owns.
//
// libinotifytools has global state, so every watcher in the process shares one dedicated
// thread ("hopper-watch", a pthread — never the Swift concurrency pool). Each InboxWatcher is
// an engine on that thread; they talk to it only through commands (a Mutex-protected list
// plus a wakeup socket). The thread starts with the first watcher and ends, after closing the
// inotify descriptor, when the last one stops.
//
// One round of the loop: take commands; read every inotify event that is ready now (up to
// 4096, then come back at once) and hand each to the engines subscribed to its watch
// descriptor; run the engines' timers (settle checks, poll rounds, rescans); flush their
// batches; then block in poll(2) on the inotify descriptor and the wakeup socket until the
// earliest timer (at most 1 s).

import HopperCore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What an engine needs, built by InboxWatcher (Sendable: it crosses into the thread).
struct EngineConfig: Sendable {
    let id: UInt64
    let root: String
    let settings: WatchSettings
    let logger: Logger
    let mailbox: BatchMailbox
    let shared: WatcherShared
    let fileSystemKind: @Sendable (String) throws -> FileSystemKind
}

enum HubCommand: Sendable {
    case start(EngineConfig, ready: CheckedContinuation<Void, Never>)
    case stop(UInt64)
    case rescan(UInt64)
    case reemit(UInt64, String)
}

final class WatchHub: Sendable {
    static let shared = WatchHub()

    private struct State {
        var commands: [HubCommand] = []
        var running = false
        var paused = false
        /// The thread has seen `paused` and reads no events until it looks again.
        var pauseInEffect = false
        /// Test hook: inotify_add_watch fails with this errno.
        var addWatchError: Int32?
    }

    private let state = Mutex(State())
    let wake = WakeSignal()

    func submit(_ command: HubCommand) {
        let spawn = state.withLock { s -> Bool in
            s.commands.append(command)
            if s.running { return false }
            s.running = true
            return true
        }
        if spawn {
            if !spawnThread() { failQueuedCommands() }
        } else {
            wake.signal()
        }
    }

    /// Is the watch thread alive? (Tests check that it ends after the last stop.)
    var isThreadRunning: Bool { state.withLock { $0.running } }

    /// Test hook: while paused the thread reads no events and runs no timers (so the kernel
    /// queue can be made to overflow). Commands are still taken.
    func setPaused(_ paused: Bool) {
        state.withLock { $0.paused = paused }
        wake.signal()
    }

    var isPauseInEffect: Bool { state.withLock { $0.pauseInEffect } }

    /// Test hook: make inotify_add_watch fail with `code` (nil: normal again).
    var addWatchError: Int32? {
        get { state.withLock { $0.addWatchError } }
        set { state.withLock { $0.addWatchError = newValue } }
    }

    /// On the thread: the queued commands, or nil when the thread must end (it is idle and
    /// nothing is queued; `running` is cleared under the same lock, so the next submit starts
    /// a new thread).
    fileprivate func takeCommands(idle: Bool) -> (commands: [HubCommand], paused: Bool)? {
        state.withLock { s -> (commands: [HubCommand], paused: Bool)? in
            if s.commands.isEmpty && idle {
                s.running = false
                return nil
            }
            let taken = s.commands
            s.commands = []
            s.pauseInEffect = s.paused
            return (taken, s.paused)
        }
    }

    private func spawnThread() -> Bool {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { _ in
            WatchHub.shared.threadMain()
            return nil
        }, nil)
        return rc == 0
    }

    /// pthread_create failed: nobody will run the commands. End the streams so no one waits.
    private func failQueuedCommands() {
        let commands = state.withLock { s -> [HubCommand] in
            s.running = false
            let taken = s.commands
            s.commands = []
            return taken
        }
        for command in commands {
            if case .start(let config, let ready) = command {
                config.logger.error("inbox.thread-failed", metadata: ["inbox.path": "\(config.root)"])
                config.mailbox.finish()
                ready.resume()
            }
        }
    }

    private func threadMain() {
        // pthread_setname_np needs _GNU_SOURCE; /proc/thread-self/comm does the same.
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = write(fd, "hopper-watch", 12)
            close(fd)
        }
        let loop = WatchLoop(hub: self)
        loop.run()
    }
}

/// Where engines add and remove inotify watches (implemented by the loop).
protocol WatchRegistry: AnyObject {
    /// Watch `folder` for the engine; fails with the errno, or `nil` errno when inotify
    /// itself is unavailable (`reason` says why).
    func addWatch(engine: UInt64, folder: String, followSymlinks: Bool) -> Result<Int32, WatchFailure>
    func removeWatch(engine: UInt64, wd: Int32, folder: String)
}

struct WatchFailure: Error, CustomStringConvertible {
    /// The errno of inotify_add_watch, or nil when there is no inotify session at all.
    var errno: Errno?
    var reason: String
    var description: String { reason }
}

/// The thread's state. Created on the thread and never leaves it.
final class WatchLoop: WatchRegistry {
    private let hub: WatchHub
    private var engines: [UInt64: WatchEngine] = [:]
    private var order: [UInt64] = []
    private var session: InotifySession?
    private struct Subscriber: Equatable {
        var engine: UInt64
        var folder: String
    }
    private var subscribers: [Int32: [Subscriber]] = [:]
    private let clock = ContinuousClock()

    init(hub: WatchHub) { self.hub = hub }

    func run() {
        while true {
            if engines.isEmpty, let s = session {
                subscribers = [:]
                s.close()
                session = nil
            }
            hub.wake.drain()
            guard let (commands, paused) = hub.takeCommands(idle: engines.isEmpty) else { return }
            for command in commands { handle(command) }
            if engines.isEmpty { continue }  // close the session and end, without waiting
            if paused {
                wait(timeout: .seconds(1), inotify: false)
                continue
            }
            let more = drainEvents(limit: 4096)
            let now = clock.now
            for id in order { engines[id]?.tick(now: now) }
            for id in order { engines[id]?.flush() }
            if more { continue }
            var deadline = now + .seconds(1)
            for id in order {
                if let d = engines[id]?.nextDeadline(), d < deadline { deadline = d }
            }
            wait(timeout: deadline - clock.now, inotify: true)
        }
    }

    private func handle(_ command: HubCommand) {
        switch command {
        case .start(let config, let ready):
            if config.shared.isStopped {
                config.mailbox.finish()  // stop() raced ahead of start()
            } else if engines[config.id] == nil {
                let engine = WatchEngine(config: config, registry: self)
                engines[config.id] = engine
                order.append(config.id)
                engine.start()
                engine.flush()
            }
            ready.resume()
        case .stop(let id):
            guard let engine = engines.removeValue(forKey: id) else { return }
            order.removeAll { $0 == id }
            engine.shutdown()
        case .rescan(let id):
            engines[id]?.rescanNow()
        case .reemit(let id, let path):
            engines[id]?.reemit(path)
        }
    }

    /// Read what is ready now and dispatch it. True if `limit` was reached (more may wait).
    private func drainEvents(limit: Int) -> Bool {
        guard let session else { return false }
        for _ in 0..<limit {
            let (event, error) = session.next()
            guard let event else {
                if let error, error.code != EINTR {
                    // A broken descriptor would fail on every round: give it up. The engines
                    // poll, and add watches again (on a new session) at their next rescan.
                    subscribers = [:]
                    session.close()
                    self.session = nil
                    for id in order { engines[id]?.inotifyLost(reason: "reading inotify events failed: \(error)") }
                }
                return false
            }
            dispatch(event)
        }
        return true
    }

    private func dispatch(_ event: InotifyEvent) {
        if event.has(InotifyMask.overflow) {
            for id in order { engines[id]?.overflowed() }
            return
        }
        guard let subs = subscribers[event.wd] else { return }
        if event.has(InotifyMask.ignored) { subscribers[event.wd] = nil }
        for sub in subs {
            engines[sub.engine]?.handle(event, folder: sub.folder)
        }
    }

    private func wait(timeout: Duration, inotify: Bool) {
        var fds: [pollfd] = []
        if hub.wake.readFD >= 0 { fds.append(pollfd(fd: hub.wake.readFD, events: Int16(POLLIN), revents: 0)) }
        if inotify, let session { fds.append(pollfd(fd: session.fd, events: Int16(POLLIN), revents: 0)) }
        let (seconds, attoseconds) = max(timeout, .zero).components
        let ms = min(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000, 1000)
        _ = poll(&fds, nfds_t(fds.count), Int32(ms))
    }

    // MARK: WatchRegistry

    func addWatch(engine: UInt64, folder: String, followSymlinks: Bool) -> Result<Int32, WatchFailure> {
        if session == nil {
            switch InotifySession.open() {
            case .success(let s): session = s
            case .failure(let e): return .failure(WatchFailure(errno: nil, reason: e.description))
            }
        }
        guard let session else { return .failure(WatchFailure(errno: nil, reason: "no inotify session")) }
        if let code = hub.addWatchError {
            return .failure(WatchFailure(errno: Errno(code), reason: "inotify_add_watch failed: \(Errno(code)) (test)"))
        }
        let mask = InotifyMask.folder | (followSymlinks ? 0 : InotifyMask.dontFollow)
        switch session.addWatch(folder, mask: mask) {
        case .success(let wd):
            let sub = Subscriber(engine: engine, folder: folder)
            if !(subscribers[wd]?.contains(sub) ?? false) { subscribers[wd, default: []].append(sub) }
            return .success(wd)
        case .failure(let e):
            let why: String
            switch e.code {
            case ENOSPC: why = "inotify watch limit reached (fs.inotify.max_user_watches): \(e)"
            default: why = "inotify_add_watch failed: \(e)"
            }
            return .failure(WatchFailure(errno: e, reason: why))
        }
    }

    func removeWatch(engine: UInt64, wd: Int32, folder: String) {
        guard var subs = subscribers[wd] else { return }
        subs.removeAll { $0 == Subscriber(engine: engine, folder: folder) }
        if subs.isEmpty {
            subscribers[wd] = nil
            session?.removeWatch(wd)
        } else {
            subscribers[wd] = subs
        }
    }
}
