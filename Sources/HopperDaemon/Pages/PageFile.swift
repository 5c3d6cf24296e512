// PageFile — writes a page atomically (a fresh `.<name>.tmp`, never through a link, renamed
// over the page), only when its bytes differ from what this daemon last wrote there. Under
// run_as: owner (the daemon is root) a job's page takes the owner, group and mode of the
// job's status.json, so it is readable by exactly those who can read the job.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

struct PageFile {
    /// What was last written to each page: its size and hash (this process's Hasher).
    private var written: [String: Int] = [:]

    /// Writes `bytes` to `path` unless it already holds them. `like`: a file whose owner and
    /// mode the page takes (when the daemon runs as root). `remember`: keep its hash (the
    /// spool's and rejected pages; not each job's, written only when told the job changed,
    /// so that memory does not grow with the number of jobs). Returns whether it wrote.
    @discardableResult
    mutating func write(_ path: String, _ bytes: [UInt8], like: String? = nil, remember: Bool = true) throws(SystemError) -> Bool {
        var digest = 0
        if remember {
            var hasher = Hasher()
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }   // all at once, not byte by byte
            digest = hasher.finalize()
            if written[path] == digest { return false }
        }
        var mode: mode_t = 0o644
        var owner: (uid_t, gid_t)?
        if let like, let st = try FileOps.lstat(like) {
            mode = st.st_mode & 0o666
            if geteuid() == 0 { owner = (st.st_uid, st.st_gid) }
        }
        let (fd, tmp) = try FileOps.writeTemporary(for: path, bytes, mode: mode)
        let chownFailed = owner.map { fchown(fd, $0.0, $0.1) != 0 } ?? false
        if chownFailed || (like != nil && fchmod(fd, mode) != 0) {
            let e = SystemError(chownFailed ? "fchown" : "fchmod", path: tmp)
            Glibc.close(fd)
            Glibc.unlink(tmp)
            throw e
        }
        Glibc.close(fd)
        try FileOps.renameTemporary(tmp, to: path)
        if remember { written[path] = digest }
        return true
    }

    /// Forgets a page (its job is gone).
    mutating func forget(_ path: String) { written[path] = nil }
}
