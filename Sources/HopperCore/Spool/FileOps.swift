// FileOps — thin wrappers over the POSIX calls the spool is built on; each says which call it wraps.
//
// Every state change of a job is a rename(2) inside one filesystem (qmail/Maildir): write a
// temporary file, fsync it, rename it into place, fsync the directory. Descriptors are closed
// on every path.
import CHopperSys
#if canImport(Glibc)
import Glibc
#endif

public enum FileOps {
    /// open(2) with O_CLOEXEC added.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, at dirFD: Int32 = AT_FDCWD) throws(SystemError) -> Int32 {
        let fd = Glibc.openat(dirFD, path, flags | O_CLOEXEC, mode)
        if fd < 0 { throw SystemError("openat", path: path) }
        return fd
    }

    /// Runs `body` with an open descriptor and closes it on every path.
    public static func withFD<T>(_ path: String, _ flags: Int32, at dirFD: Int32 = AT_FDCWD,
                                 _ body: (Int32) throws -> T) throws -> T {
        let fd = try open(path, flags, at: dirFD)
        defer { Glibc.close(fd) }
        return try body(fd)
    }

    /// write(2) until all bytes are written.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Glibc.write(fd, buf.baseAddress! + offset, bytes.count - offset)
            }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemError("write", path: path)
            }
            offset += n
        }
    }

    /// read(2) up to `limit` bytes (stops at EOF). Returns the bytes read.
    public static func readUpTo(_ fd: Int32, limit: Int, path: String) throws(SystemError) -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let want = min(chunk.count, limit - out.count)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, want) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Reads a whole regular file (up to `limit` bytes), refusing to follow a symlink.
    public static func readFile(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        let fd = try open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        defer { Glibc.close(fd) }
        return try readUpTo(fd, limit: limit, path: path)
    }

    /// fsync(2).
    public static func fsync(_ fd: Int32, path: String) throws(SystemError) {
        if Glibc.fsync(fd) != 0 { throw SystemError("fsync", path: path) }
    }

    /// Opens a directory and fsyncs it, making renames and creations inside it durable.
    public static func fsyncDirectory(_ path: String) throws(SystemError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        try fsync(fd, path: path)
    }

    /// syncfs(2): one call that makes everything written to the filesystem holding `path` durable.
    public static func syncFileSystem(of path: String) throws(SystemError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        if hopper_syncfs(fd) != 0 { throw SystemError("syncfs", path: path) }
    }

    /// Writes `bytes` to `path` atomically: `.<name>.tmp`, optional fsync, rename(2) over `path`.
    /// A reader sees the old file or the new one, never a half-written one.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws(SystemError) {
        let (fd, tmp) = try writeTemporary(for: path, bytes, mode: mode)
        if durable {
            do { try fsync(fd, path: tmp) } catch {
                Glibc.close(fd)
                Glibc.unlink(tmp)
                throw error
            }
        }
        Glibc.close(fd)
        try renameTemporary(tmp, to: path)
    }

    /// The first half of an atomic write: `bytes` in a fresh `.<name>.tmp` beside `path`, left
    /// open (not fsynced) for the caller to fsync, close and `renameTemporary`. Never written
    /// through a link someone else put at that name (a job's owner owns its outbox folder
    /// under run_as: owner): a fresh file or nothing. On failure nothing is left behind.
    public static func writeTemporary(for path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) -> (fd: Int32, tmp: String) {
        let (dir, name) = split(path)
        let tmp = dir + "/." + name + ".tmp"
        Glibc.unlink(tmp)
        let fd = try open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
        do {
            try writeAll(fd, bytes, path: tmp)
        } catch {
            Glibc.close(fd)
            Glibc.unlink(tmp)
            throw error
        }
        return (fd, tmp)
    }

    /// The second half: rename(2) of the closed temporary over `path`; removed if that fails.
    public static func renameTemporary(_ tmp: String, to path: String) throws(SystemError) {
        if Glibc.rename(tmp, path) != 0 {
            let e = SystemError("rename", path: path)
            Glibc.unlink(tmp)
            throw e
        }
    }

    /// Creates (or truncates) a file with `bytes`, no fsync; for files written inside a staging
    /// directory that a later syncfs makes durable in one go.
    public static func writeNew(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let fd = try open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, mode: mode)
        defer { Glibc.close(fd) }
        try writeAll(fd, bytes, path: path)
    }

    /// Appends one line with O_APPEND (single write(2), so concurrent appenders do not interleave).
    /// Refuses a symlink, and never waits on a FIFO.
    public static func appendLine(_ path: String, _ bytes: [UInt8], durable: Bool = false) throws(SystemError) {
        let fd = try open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK, mode: 0o644)
        defer { Glibc.close(fd) }
        try writeAll(fd, bytes, path: path)
        if durable { try fsync(fd, path: path) }
    }

    /// rename(2).
    public static func rename(_ from: String, _ to: String) throws(SystemError) {
        if Glibc.rename(from, to) != 0 { throw SystemError("rename", path: "\(from) -> \(to)") }
    }

    /// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing `to`; with a
    /// fallback where the filesystem lacks the flag (FileOps+NoReplace.swift).
    public static func renameNoReplace(_ from: String, _ to: String) throws(SystemError) {
        try renameNoReplace(from, to: to)
    }

    /// mkdir(2); an existing directory is fine.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if Glibc.mkdir(path, mode) != 0 && Glibc.errno != EEXIST { throw SystemError("mkdir", path: path) }
    }

    /// mkdir -p.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            try makeDirectory(current, mode: mode)
        }
    }

    /// lstat(2); nil when the path does not exist.
    public static func lstat(_ path: String) throws(SystemError) -> stat? {
        var st = stat()
        if Glibc.lstat(path, &st) != 0 {
            if Glibc.errno == ENOENT || Glibc.errno == ENOTDIR { return nil }
            throw SystemError("lstat", path: path)
        }
        return st
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return Glibc.lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in a directory (readdir(3)), without `.` and `..`.
    public static func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }

    /// rm -r, never following symlinks.
    public static func removeTree(_ path: String) throws(SystemError) {
        guard let st = try lstat(path) else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            if Glibc.rmdir(path) != 0 && Glibc.errno != ENOENT { throw SystemError("rmdir", path: path) }
        } else if Glibc.unlink(path) != 0 && Glibc.errno != ENOENT {
            throw SystemError("unlink", path: path)
        }
    }

    /// (directory, last component) of a path.
    public static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    /// An absolute, `.`/`..`-free form of `path` (no symlink resolution).
    /// `path` as a manifest means it: absolute as written, or relative to `root` (the spool
    /// root, for inputs and wait_for paths).
    public static func resolve(_ path: String, against root: String) -> String {
        path.hasPrefix("/") ? path : absolute(root + "/" + path)
    }

    public static func absolute(_ path: String) -> String {
        var base: String
        if path.hasPrefix("/") {
            base = path
        } else {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
            let cwd = getcwd(&buf, buf.count) != nil
                ? String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
            base = cwd + "/" + path
        }
        var parts: [Substring] = []
        for part in base.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}
