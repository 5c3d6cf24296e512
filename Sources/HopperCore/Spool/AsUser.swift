// AsUser — filesystem work done with a job owner's identity (run_as: owner).
//
// With `run_as: owner` a job's workspace and outbox folder belong to its owner, who can put
// anything there: symlinks to /etc, FIFOs, hard links. The daemon, running as root, must never
// follow them with root's rights. So what it does in those folders (staging inputs, creating
// logs/, publishing results, removing a workspace) runs on a thread of its own whose
// filesystem identity — fsuid, fsgid, supplementary groups, switched with raw per-thread
// syscalls — is the owner's: the kernel checks every open, mkdir, link and unlink as if the
// owner did it, so the worst a planted symlink can do is what the owner could do anyway.
// (Postfix's local(8) delivers mail as the recipient for the same reason.) The thread exits
// afterwards, so no other work ever runs with a borrowed identity.
import CHopperSys
#if canImport(Glibc)
import Glibc
#endif

/// Whose rights filesystem work is done with: a user, their primary group and every group
/// they belong to (as `initgroups(3)` would set them).
public struct FileIdentity: Sendable, Equatable, Hashable {
    public var uid: uid_t
    public var gid: gid_t
    public var groups: [gid_t]
    public var name: String
    public var home: String

    public init(uid: uid_t, gid: gid_t, groups: [gid_t], name: String, home: String) {
        self.uid = uid; self.gid = gid; self.groups = groups; self.name = name; self.home = home
    }

    /// The identity of the account `uid` from the passwd and group databases; nil when the uid
    /// has no account.
    public static func of(uid: uid_t) -> FileIdentity? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pwd, &buf, buf.count, &result) == 0, let r = result, let namePtr = r.pointee.pw_name else {
            return nil
        }
        let name = String(cString: namePtr)
        let home = r.pointee.pw_dir.map { String(cString: $0) } ?? "/"
        let gid = r.pointee.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count) + 64)
            count = Int32(groups.count)
        }
        return FileIdentity(uid: uid, gid: gid, groups: Array(groups.prefix(Int(count))), name: name, home: home)
    }

    /// `uid:gid:g1,g2,…` — how hopper-supervise is told whom to become.
    public var argument: String {
        "\(uid):\(gid):" + groups.map(String.init).joined(separator: ",")
    }
}

public struct IdentityError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

public enum AsUser {
    /// Runs `body` on a new thread with the filesystem identity `who`; nil runs it as the daemon
    /// through BlockingIO. Throws IdentityError when the switch fails (body never runs).
    public static func run<T: Sendable>(_ who: FileIdentity?, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard let who else { return try await BlockingIO.run(body) }
        return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            let work = {
                let rc = who.groups.withUnsafeBufferPointer { g in
                    hopper_thread_become(who.uid, who.gid, g.count, g.baseAddress)
                }
                guard rc == 0 else {
                    cont.resume(throwing: IdentityError(description: "cannot take the identity of \(who.name) (uid \(who.uid)): \(String(cString: strerror(errno)))"))
                    return
                }
                cont.resume(with: Result { try body() })
            }
            if !spawnThread(work) {
                cont.resume(throwing: IdentityError(description: "cannot start a thread: \(String(cString: strerror(errno)))"))
            }
        }
    }

    /// The same for work that cannot fail; a failed switch is returned as nil.
    public static func run<T: Sendable>(_ who: FileIdentity?, _ body: @escaping @Sendable () -> T) async -> T? {
        try? await run(who) { () throws -> T in body() }
    }

    /// rm -r of a folder that may belong to a job's owner (its workspace, its outbox folder):
    /// the contents are removed with the rights of the folder's owner — a link swapped in while
    /// the tree is walked leads nowhere root could be tricked into — and the folder itself, whose
    /// parent is the daemon's, by the daemon.
    public static func removeTree(_ path: String) async throws {
        guard let st = try FileOps.lstat(path) else { return }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink", path: path) }
            return
        }
        var who: FileIdentity? = nil
        if geteuid() == 0 && st.st_uid != 0 {
            who = FileIdentity.of(uid: st.st_uid)
                ?? FileIdentity(uid: st.st_uid, gid: st.st_gid, groups: [st.st_gid], name: String(st.st_uid), home: "/")
        }
        try await run(who) { () throws -> Void in
            for name in try FileOps.listDirectory(path) { try FileOps.removeTree(path + "/" + name) }
        }
        if rmdir(path) != 0 && errno != ENOENT { throw SystemError("rmdir", path: path) }
    }

    /// A detached pthread that runs `work` once and exits. False (work not run) when none starts.
    static func spawnThread(_ work: @escaping () -> Void) -> Bool {
        final class Box { let work: () -> Void; init(_ w: @escaping () -> Void) { work = w } }
        let box = Unmanaged.passRetained(Box(work)).toOpaque()
        var thread = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        let rc = pthread_create(&thread, &attr, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.work()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            errno = rc
            return false
        }
        return true
    }
}
