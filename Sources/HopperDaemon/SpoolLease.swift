// SpoolLease — one daemon per spool, across hosts: `system/daemon.lease` in the spool itself.
//
// `state/daemon.lock` (flock) keeps a second daemon off one state directory; but a spool on NFS
// is reachable from many hosts, each with `state/` on its own local disk, and two daemons on one
// spool race for the same manifests and staging folders. The lease lives in the spool, where
// every daemon that could serve it sees it, and uses only what NFS, SMB and FUSE do atomically:
//
//   TAKE     the lease is written complete to a private temporary name, then link(2)ed to
//            `system/daemon.lease` (fails with EEXIST when held; never a half-written lease).
//            Where link(2) is refused, O_CREAT|O_EXCL, then the bytes. A held lease is judged:
//              - by a daemon on this host: alive while its pid runs with the same start time
//                and the host has not rebooted (boot id); else stale at once;
//              - by a daemon on another host: alive while renewed within `lease_timeout` by
//                the holder's clock, or while it changes as we watch it (two renewals), so
//                clocks that disagree cannot make a live lease look dead.
//            A stale lease is renamed away to a private name (only one taker can succeed),
//            checked to be the very lease judged stale (else put back), then taken as above.
//   RENEW    every heartbeat: the lease still names us (else another daemon took it: this one
//            stops at once, with a log line saying which), then a new copy renamed over it.
//   RELEASE  on stop: removed if it still names us.
//
// A daemon that finds a live lease refuses to start and says which host, pid and state folder
// hold the spool, and since when.
import HopperCore
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// What `system/daemon.lease` holds.
public struct LeaseRecord: Codable, Sendable, Equatable {
    public var host: String
    public var pid: Int32
    /// The holder's /proc/sys/kernel/random/boot_id: a reboot ends every lease of the host.
    public var bootID: String
    /// The holder's start time in clock ticks since boot (/proc/PID/stat): a reused pid is not the holder.
    public var pidStart: UInt64
    public var state: String
    public var startedAt: String
    public var renewedAt: String
    /// Seconds since the epoch of the last renewal, by the holder's clock.
    public var renewed: Double
    /// Unique per taking: host, pid and a random part.
    public var token: String

    enum CodingKeys: String, CodingKey {
        case host, pid, state, token, renewed
        case bootID = "boot_id", pidStart = "pid_start", startedAt = "started_at", renewedAt = "renewed_at"
    }
}

public struct LeaseError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

public final class SpoolLease: Sendable {
    public let path: String
    let record: LeaseRecord
    let logger: Logger

    /// Takes the lease of `layout`'s spool, or throws a DaemonError naming the holder.
    /// `timeout`: how long a lease of another host may go unrenewed before it is stale;
    /// `renewEvery`: this daemon's renewal interval (how long a watcher waits to see a change).
    public static func acquire(_ layout: SpoolLayout, timeout: Double, renewEvery: Double, logger: Logger) throws -> SpoolLease {
        let me = LeaseRecord.mine(state: layout.state)
        let path = layout.lease
        for _ in 0..<8 {
            if try create(path, me) { return SpoolLease(path: path, record: me, logger: logger) }
            guard let held = read(path) else {
                // Vanished (released or renamed away), written right now by a taker without
                // link(2), or emptied by a power cut: stale unless it changes while watched.
                guard FileOps.exists(path) else { continue }
                if try unreadableLeaseChanges(path, renewEvery: renewEvery) { continue }
                try takeOver(path, judged: nil, logger: logger)
                continue
            }
            if held.host == me.host && held.bootID == me.bootID && held.pid == me.pid {
                // Ours: this process re-executed itself (SIGHUP reload) without releasing it.
                return SpoolLease(path: path, record: me, logger: logger)
            }
            if try isAlive(held, me: me, path: path, timeout: timeout, renewEvery: renewEvery) {
                throw DaemonError(describeHolder(held, spool: layout.root, timeout: timeout))
            }
            try takeOver(path, judged: held, logger: logger)
        }
        throw DaemonError("cannot take the spool lease \(path): other daemons keep taking it")
    }

    init(path: String, record: LeaseRecord, logger: Logger) {
        self.path = path; self.record = record; self.logger = logger
    }

    /// Writes a fresh copy if the lease still names this daemon; throws if another took it.
    public func renew() throws {
        guard let held = Self.read(path) else {
            if !FileOps.exists(path) { throw LeaseError(description: "the spool lease \(path) was removed while this daemon held it; another daemon may be serving the spool: stopping") }
            return   // being rewritten right now (a torn read on a filesystem without atomic rename)
        }
        guard held.token == record.token else {
            throw LeaseError(description: "the spool lease \(path) was taken by host \(held.host) pid \(held.pid) (state \(held.state)); two daemons must not serve one spool: stopping")
        }
        var next = record
        next.renewed = Timestamp.now()
        next.renewedAt = Timestamp.rfc3339()
        // Durable: a rename that reached the disk ahead of its bytes would leave an empty lease
        // after a power cut (which the next start then has to wait out). The new copy is
        // written and fsynced first, and the lease checked again just before the rename, so a
        // taker that came meanwhile is not renamed over.
        let (fd, tmp) = try FileOps.writeTemporary(for: path, try JSON.pretty(next))
        do { try FileOps.fsync(fd, path: tmp) } catch {
            close(fd); unlink(tmp)
            throw error
        }
        close(fd)
        if let now = Self.read(path), now.token != record.token {
            unlink(tmp)
            throw LeaseError(description: "the spool lease \(path) was taken by host \(now.host) pid \(now.pid) (state \(now.state)); two daemons must not serve one spool: stopping")
        }
        try FileOps.renameTemporary(tmp, to: path)
    }

    /// Removes the lease if it still names this daemon.
    public func release() {
        guard let held = Self.read(path), held.token == record.token else { return }
        if unlink(path) != 0 {
            logger.warning("lease.release_failed", metadata: ["path": "\(path)", "error": "\(SystemError("unlink", path: path))"])
        }
    }

    // MARK: - Taking

    /// link(2) of a complete private copy to `path`; false when the name is taken.
    static func create(_ path: String, _ me: LeaseRecord) throws -> Bool {
        let bytes = try JSON.pretty(me)
        let (dir, name) = FileOps.split(path)
        let tmp = "\(dir)/.\(name).\(me.host).\(me.pid).tmp"
        unlink(tmp)
        let fd = try FileOps.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o644)
        defer { unlink(tmp) }
        do {
            try FileOps.writeAll(fd, bytes, path: tmp)
            try FileOps.fsync(fd, path: tmp)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        if link(tmp, path) == 0 {
            try? FileOps.fsyncDirectory(dir)   // silent, best effort: a lease lost to a power cut is taken anew at start
            return true
        }
        let e = errno
        var st = stat()
        if e == EEXIST {
            // NFS: a retransmitted LINK answers EEXIST though it worked (Maildir's check).
            return lstat(tmp, &st) == 0 && st.st_nlink == 2
        }
        guard e == EPERM || e == EOPNOTSUPP || e == ENOSYS || e == EMLINK else { throw SystemError("link", path: path, errno: e) }
        FallbackLog.note("lease.excl", "link(2) is refused here (\(String(cString: strerror(e)))): the spool lease is created with O_EXCL")
        let lfd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if lfd < 0 {
            if errno == EEXIST { return false }
            throw SystemError("open", path: path)
        }
        defer { close(lfd) }
        try FileOps.writeAll(lfd, bytes, path: path)
        try FileOps.fsync(lfd, path: path)
        return true
    }

    /// Renames the stale lease aside (one taker wins), checks it is the one judged stale — a
    /// lease taken meanwhile by a third daemon is put back — and removes it.
    static func takeOver(_ path: String, judged: LeaseRecord?, logger: Logger) throws {
        let aside = "\(path).stale.\(LeaseRecord.currentHost).\(getpid())"
        if rename(path, aside) != 0 {
            if errno == ENOENT { return }
            throw SystemError("rename", path: "\(path) -> \(aside)")
        }
        defer { unlink(aside) }
        let moved = read(aside)
        if moved != judged {
            _ = link(aside, path)   // a live lease caught in between: back where it was, or its holder stops at its next renewal
            return
        }
        logger.warning("lease.taken_over", metadata: [
            "path": "\(path)", "previous.host": "\(judged?.host ?? "?")", "previous.pid": "\(judged.map { "\($0.pid)" } ?? "?")",
            "previous.renewed_at": "\(judged?.renewedAt ?? "?")",
        ])
    }

    // MARK: - Judging

    static func isAlive(_ held: LeaseRecord, me: LeaseRecord, path: String, timeout: Double, renewEvery: Double) throws -> Bool {
        if held.host == me.host {
            guard held.bootID == me.bootID else { return false }
            guard kill(held.pid, 0) == 0 || errno == EPERM else { return false }
            return processStart(held.pid) == held.pidStart
        }
        if Timestamp.now() - held.renewed < timeout { return true }
        // By our clock it is old; the holder's clock may be behind. Watch it for two renewals.
        let deadline = Timestamp.now() + max(1, 2 * renewEvery + 0.5)
        while Timestamp.now() < deadline {
            usleep(250_000)
            if read(path) != held { return true }
        }
        return false
    }

    /// Whether an unreadable lease (inode, size, mtime) changes within two renewals: a live
    /// holder or taker rewrites it; one a power cut emptied stays as it is.
    static func unreadableLeaseChanges(_ path: String, renewEvery: Double) throws -> Bool {
        func look() throws -> [Int64]? {
            guard let st = try FileOps.lstat(path) else { return nil }
            return [Int64(st.st_ino), Int64(st.st_size), Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec)]
        }
        let first = try look()
        let deadline = Timestamp.now() + max(1, 2 * renewEvery + 0.5)
        while Timestamp.now() < deadline {
            usleep(100_000)
            if read(path) != nil { return true }
            if try look() != first { return true }
        }
        return false
    }

    static func describeHolder(_ held: LeaseRecord, spool: String, timeout: Double) -> String {
        let whereText = held.host == LeaseRecord.currentHost ? "on this host (\(held.host))" : "on host \(held.host)"
        return "another hopper daemon (pid \(held.pid)) is already running on \(spool): \(whereText), state \(held.state), since \(held.startedAt), lease renewed \(held.renewedAt) (\(spool)/system/daemon.lease); one spool is served by one daemon. Stop that one first; a lease of a host that is gone is taken over once it is \(Int(timeout))s old (lease_timeout)"
    }

    static func read(_ path: String) -> LeaseRecord? {
        // silent: a lease that is missing or torn is judged by the caller (nil: none, or stale by its age).
        guard let bytes = try? FileOps.readFile(path, limit: 64 << 10) else { return nil }
        return try? JSON.decode(LeaseRecord.self, from: bytes)   // silent: as above
    }

    /// The process's start time in clock ticks since boot; 0 if gone (or a zombie).
    static func processStart(_ pid: Int32) -> UInt64 {
        Procfs.startTime(pid).map { UInt64($0) } ?? 0
    }
}

extension LeaseRecord {
    /// Environment variable for tests: the host name this daemon gives in its lease, as if it ran elsewhere.
    public static let fakeHostVariable = "HOPPER_FAKE_HOSTNAME"

    static func mine(state: String) -> LeaseRecord {
        let now = Timestamp.now()
        let host = currentHost
        // silent: without a boot id a reboot is not detected, and the pid check still holds.
        let boot = (try? FileOps.readFile("/proc/sys/kernel/random/boot_id", limit: 64))
            .map { String(decoding: $0, as: UTF8.self).filter { !$0.isWhitespace } } ?? ""
        return LeaseRecord(host: host, pid: getpid(), bootID: boot, pidStart: SpoolLease.processStart(getpid()),
                           state: state, startedAt: Timestamp.rfc3339(), renewedAt: Timestamp.rfc3339(), renewed: now,
                           token: "\(host):\(getpid()):\(UInt64.random(in: 1...UInt64.max))")
    }

    /// This daemon's host name as its lease gives it (HOPPER_FAKE_HOSTNAME in tests).
    static var currentHost: String { ProcessEnvironment.value(fakeHostVariable) ?? Procfs.hostName() }
}

/// Renews the lease every `interval`; a lease lost to another daemon ends the service group
/// with an error, so the daemon stops (and systemd, restarting it, sees it refused).
public final class LeaseService: Service {
    let lease: SpoolLease
    let interval: Duration
    let logger: Logger

    public init(lease: SpoolLease, interval: Duration, logger: Logger) {
        self.lease = lease; self.interval = interval; self.logger = logger
    }

    public func run() async throws {
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try lease.renew()
                if failing { logger.notice("lease.renewed", metadata: ["path": "\(lease.path)"]) }
                failing = false
            } catch let error as LeaseError {
                logger.critical("lease.lost", metadata: ["path": "\(lease.path)", "error": "\(error)"])
                throw error
            } catch {
                // A write that failed (a full disk, an NFS server away): the lease stays ours
                // until it is stale; said once per spell.
                if !failing { logger.error("lease.renew_failed", metadata: ["path": "\(lease.path)", "error": "\(error)"]) }
                failing = true
            }
            // silent: the sleep ends early on shutdown, which the loop condition sees.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }
}
