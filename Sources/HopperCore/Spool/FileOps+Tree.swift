// FileOps+Tree — descriptor-relative wrappers for walking and publishing from a tree that a
// user controls (a job's workspace) without ever following a symlink: each directory is
// opened with openat(2) + O_DIRECTORY | O_NOFOLLOW relative to its parent's descriptor, so a
// symlink swapped in anywhere on the way makes the call fail (ELOOP/ENOTDIR) instead of
// leading outside. Each wrapper says which call it wraps; descriptors it returns are the
// caller's to close.
#if canImport(Glibc)
import Glibc
#endif

extension FileOps {
    /// One directory entry: the raw name bytes (a Linux name need not be UTF-8) and the name
    /// as a String when the bytes are valid UTF-8.
    public struct DirectoryEntry: Sendable, Equatable {
        public var bytes: [UInt8]
        public var name: String?

        public init(bytes: [UInt8]) {
            self.bytes = bytes
            self.name = String(validating: bytes, as: UTF8.self)
        }

        /// The name for matching and messages: invalid UTF-8 replaced by U+FFFD.
        public var displayName: String { name ?? String(decoding: bytes, as: UTF8.self) }
    }

    /// openat(2) of a directory with O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC: fails with ELOOP or
    /// ENOTDIR when `name` is a symlink. `path` names it in errors.
    public static func openDirectory(_ name: String, at dirFD: Int32, path: String) throws(SystemError) -> Int32 {
        try open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, at: dirFD, path: path)
    }

    /// openat(2) with O_CLOEXEC added, naming `path` (not `name`) in errors.
    public static func open(_ name: String, _ flags: Int32, mode: mode_t = 0o644, at dirFD: Int32, path: String) throws(SystemError) -> Int32 {
        while true {
            let fd = Glibc.openat(dirFD, name, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if Glibc.errno == EINTR { continue }
            throw SystemError("openat", path: path)
        }
    }

    /// readdir(3) over a fresh descriptor of the directory open as `fd` (openat(fd, ".") +
    /// fdopendir(3)), so `fd`'s own offset is untouched; without `.` and `..`.
    public static func listDirectory(fd: Int32, path: String) throws(SystemError) -> [DirectoryEntry] {
        let own = try open(".", O_RDONLY | O_DIRECTORY, at: fd, path: path)
        guard let dir = fdopendir(own) else {
            let e = SystemError("fdopendir", path: path)
            Glibc.close(own)
            throw e
        }
        defer { closedir(dir) }
        var entries: [DirectoryEntry] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(dir) else {
                if Glibc.errno != 0 { throw SystemError("readdir", path: path) }
                break
            }
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            entries.append(DirectoryEntry(bytes: bytes))
        }
        return entries
    }

    /// fstatat(2) with AT_SYMLINK_NOFOLLOW; nil when `name` does not exist (ENOENT, ENOTDIR).
    public static func lstat(_ name: String, at dirFD: Int32, path: String) throws(SystemError) -> stat? {
        var st = Glibc.stat()
        if Glibc.fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            if Glibc.errno == ENOENT || Glibc.errno == ENOTDIR { return nil }
            throw SystemError("fstatat", path: path)
        }
        return st
    }

    /// fstat(2).
    public static func fstat(_ fd: Int32, path: String) throws(SystemError) -> stat {
        var st = Glibc.stat()
        if Glibc.fstat(fd, &st) != 0 { throw SystemError("fstat", path: path) }
        return st
    }

    /// stat(2), following symlinks; nil when the path (or a symlink's target) does not exist.
    public static func statFollowing(_ path: String) throws(SystemError) -> stat? {
        var st = Glibc.stat()
        if stat(path, &st) != 0 {
            if Glibc.errno == ENOENT || Glibc.errno == ENOTDIR { return nil }
            throw SystemError("stat", path: path)
        }
        return st
    }

    /// realpath(3): the absolute path with every symlink, `.` and `..` resolved; nil when a
    /// component is missing, a symlink dangles or loops (ENOENT, ENOTDIR, ELOOP).
    public static func realpath(_ path: String) throws(SystemError) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else {
            if Glibc.errno == ENOENT || Glibc.errno == ENOTDIR || Glibc.errno == ELOOP { return nil }
            throw SystemError("realpath", path: path)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Opens the directory holding `relative` (a `/`-separated path below `rootFD`), one
    /// component at a time with O_NOFOLLOW, and returns its descriptor and the last component.
    /// `display` prefixes paths in errors. The caller closes `dirFD`.
    public static func openParent(of relative: String, beneath rootFD: Int32, display: String) throws(SystemError) -> (dirFD: Int32, name: String) {
        var parts = relative.split(separator: "/").map(String.init)
        guard let name = parts.popLast() else { throw SystemError("openat", path: display, errno: EINVAL) }
        var fd = try open(".", O_RDONLY | O_DIRECTORY, at: rootFD, path: display)
        var walked = display
        for part in parts {
            walked += "/" + part
            do {
                let next = try openDirectory(part, at: fd, path: walked)
                Glibc.close(fd)
                fd = next
            } catch {
                Glibc.close(fd)
                throw error
            }
        }
        return (fd, name)
    }

    /// mkdir -p below `rootFD` without following symlinks: mkdirat(2) then openat(2) with
    /// O_NOFOLLOW for each component of `relative`'s parent; returns the parent's descriptor
    /// and the last component, as `openParent`. An existing symlink on the way fails (ELOOP).
    public static func makeParents(of relative: String, beneath rootFD: Int32, mode: mode_t = 0o755,
                                   display: String) throws(SystemError) -> (dirFD: Int32, name: String) {
        var parts = relative.split(separator: "/").map(String.init)
        guard let name = parts.popLast() else { throw SystemError("mkdirat", path: display, errno: EINVAL) }
        var fd = try open(".", O_RDONLY | O_DIRECTORY, at: rootFD, path: display)
        var walked = display
        for part in parts {
            walked += "/" + part
            do throws(SystemError) {
                if Glibc.mkdirat(fd, part, mode) != 0 && Glibc.errno != EEXIST { throw SystemError("mkdirat", path: walked) }
                let next = try openDirectory(part, at: fd, path: walked)
                Glibc.close(fd)
                fd = next
            } catch {
                Glibc.close(fd)
                throw error
            }
        }
        return (fd, name)
    }

    /// linkat(2) without AT_SYMLINK_FOLLOW: a new name `to` in `toDir` for the file `from` in
    /// `fromDir` (a symlink at `from` would be linked itself, never its target).
    public static func link(_ from: String, at fromDir: Int32, to: String, at toDir: Int32, path: String) throws(SystemError) {
        if Glibc.linkat(fromDir, from, toDir, to, 0) != 0 { throw SystemError("linkat", path: path) }
    }

    /// renameat(2) inside one directory, replacing `to` atomically.
    public static func rename(_ from: String, to: String, at dirFD: Int32, path: String) throws(SystemError) {
        if Glibc.renameat(dirFD, from, dirFD, to) != 0 { throw SystemError("renameat", path: path) }
    }

    /// unlinkat(2) of a non-directory; a missing name is fine.
    public static func unlink(_ name: String, at dirFD: Int32, path: String) throws(SystemError) {
        if Glibc.unlinkat(dirFD, name, 0) != 0 && Glibc.errno != ENOENT { throw SystemError("unlinkat", path: path) }
    }

    /// read(2) into `buffer`, retrying on EINTR; 0 at end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(SystemError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return n }
            if Glibc.errno == EINTR { continue }
            throw SystemError("read", path: path)
        }
    }

    /// write(2) until all of `bytes` is written.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemError("write", path: path)
            }
            offset += n
        }
    }
}
