// FileOps+NoReplace — "rename, but never over an existing name", on every filesystem a spool
// lives on.
//
// Local filesystems have renameat2(2) with RENAME_NOREPLACE. NFS, SMB and FUSE (bindfs, sshfs,
// gcsfuse) answer EINVAL (or ENOSYS, EOPNOTSUPP): there the same promise is kept as Maildir
// keeps it on NFS —
//   * a file, FIFO, socket, device or symlink: link(2) the new name (atomic, fails with EEXIST
//     when the name is taken, never follows a symlink), then unlink(2) the old one. On NFS a
//     retransmitted link can answer EEXIST although it worked: a `to` that is the very inode of
//     `from` counts as done. Should the machine stop between the two calls, the entry has both
//     names (never none): the old name is examined again, which for a rejected file means a
//     second copy in rejected/, never a lost one.
//   * a directory: mkdir(2) the new name (atomic, EEXIST when taken), then rename(2) over that
//     empty directory, which rename is allowed to replace.
//   * where link(2) is refused too (EPERM on SMB without Unix extensions, or protected_hardlinks
//     for a file the daemon neither owns nor may write): a checked rename — the name is looked
//     up, then renamed — which leaves a window of a few microseconds in which a writer on
//     another host could lose a file it created at that very name.
// Each fallback is reported once, at first use, through `FallbackLog`.
import CHopperSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension FileOps {
    /// renameat2(2) with RENAME_NOREPLACE of `from` to `to` (relative names resolve against
    /// `fromDir` and `toDir`): fails with EEXIST instead of replacing `to`. Falls back where the
    /// filesystem lacks the flag (see the file header). `path` names the move in errors.
    public static func renameNoReplace(_ from: String, fromDir: Int32 = AT_FDCWD,
                                       to: String, toDir: Int32 = AT_FDCWD, path: String? = nil) throws(SystemError) {
        let shown = path ?? "\(from) -> \(to)"
        if hopper_renameat2(fromDir, from, toDir, to, UInt32(HOPPER_RENAME_NOREPLACE)) == 0 { return }
        let e = Glibc.errno
        guard e == EINVAL || e == ENOSYS || e == EOPNOTSUPP else { throw SystemError("renameat2", path: shown, errno: e) }
        var st = stat()
        if fstatat(fromDir, from, &st, AT_SYMLINK_NOFOLLOW) != 0 { throw SystemError("renameat2", path: shown) }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            FallbackLog.note("rename_noreplace.mkdir", "renameat2(RENAME_NOREPLACE) is not supported here (\(String(cString: strerror(e)))): directories are moved by mkdir(2) of the new name, then rename(2) over it")
            try moveDirectoryNoReplace(from, at: fromDir, to: to, at: toDir, shown: shown)
            return
        }
        FallbackLog.note("rename_noreplace.link", "renameat2(RENAME_NOREPLACE) is not supported here (\(String(cString: strerror(e)))): files are moved by link(2), then unlink(2), as Maildir does on NFS")
        if Glibc.linkat(fromDir, from, toDir, to, 0) != 0 {
            let le = Glibc.errno
            if le == EEXIST {
                // NFS: a retransmitted LINK answers EEXIST though the first one worked.
                var target = stat()
                guard fstatat(toDir, to, &target, AT_SYMLINK_NOFOLLOW) == 0,
                      target.st_ino == st.st_ino, target.st_dev == st.st_dev else {
                    throw SystemError("linkat", path: shown, errno: EEXIST)
                }
            } else if le == EPERM || le == EOPNOTSUPP || le == EMLINK || le == ENOSYS {
                FallbackLog.note("rename_noreplace.checked", "neither renameat2(RENAME_NOREPLACE) nor link(2) works here (\(String(cString: strerror(le)))): files are moved by a checked rename(2), which a writer on another host could race")
                try checkedRename(from, at: fromDir, to: to, at: toDir, shown: shown)
                return
            } else {
                throw SystemError("linkat", path: shown, errno: le)
            }
        }
        if Glibc.unlinkat(fromDir, from, 0) != 0 {
            let ue = Glibc.errno
            if ue == ENOENT { return }   // already gone (another remover); the new name holds the file
            // Not ours to remove (a sticky folder, another user's file): take the new name back,
            // so the file stays in exactly one place, and answer as rename(2) would have.
            _ = Glibc.unlinkat(toDir, to, 0)
            throw SystemError("unlinkat", path: shown, errno: ue)
        }
    }

    /// mkdir(2) of `to` (claims the name, EEXIST if taken), then rename(2) of the directory over it.
    private static func moveDirectoryNoReplace(_ from: String, at fromDir: Int32, to: String, at toDir: Int32, shown: String) throws(SystemError) {
        if Glibc.mkdirat(toDir, to, 0o700) != 0 { throw SystemError("mkdirat", path: shown) }
        if Glibc.renameat(fromDir, from, toDir, to) != 0 {
            let e = SystemError("renameat", path: shown)
            _ = Glibc.unlinkat(toDir, to, AT_REMOVEDIR)
            throw e
        }
    }

    /// Looks the name up, then rename(2): the last resort where link(2) is refused.
    private static func checkedRename(_ from: String, at fromDir: Int32, to: String, at toDir: Int32, shown: String) throws(SystemError) {
        var target = stat()
        if fstatat(toDir, to, &target, AT_SYMLINK_NOFOLLOW) == 0 { throw SystemError("rename", path: shown, errno: EEXIST) }
        if Glibc.renameat(fromDir, from, toDir, to) != 0 { throw SystemError("renameat", path: shown) }
    }
}

/// The fallbacks taken because a filesystem lacks a call (RENAME_NOREPLACE, syncfs, …): each is
/// reported once, at its first use, to the reporter the daemon installs (a log line). Notes
/// made before a reporter is installed are handed to it when it is.
public enum FallbackLog {
    public typealias Reporter = @Sendable (_ key: String, _ message: String) -> Void

    private struct State {
        var seen: Set<String> = []
        var pending: [(String, String)] = []
        var reporter: Reporter?
    }
    private static let state = Mutex(State())

    /// Installs the reporter (replacing any) and hands it the notes made so far.
    public static func install(_ reporter: @escaping Reporter) {
        let pending = state.withLock { s -> [(String, String)] in
            s.reporter = reporter
            defer { s.pending = [] }
            return s.pending
        }
        for (key, message) in pending { reporter(key, message) }
    }

    /// Records that the fallback `key` was taken; reports it the first time only.
    public static func note(_ key: String, _ message: String) {
        let reporter = state.withLock { s -> Reporter? in
            guard s.seen.insert(key).inserted else { return nil }
            if s.reporter == nil { s.pending.append((key, message)) }
            return s.reporter
        }
        reporter?(key, message)
    }

    /// The fallbacks taken so far in this process (for tests and `hopper system`).
    public static var taken: Set<String> { state.withLock { $0.seen } }
}
