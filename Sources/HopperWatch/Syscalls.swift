// Thin wrappers over the system calls the watcher uses. Each says which call it wraps.
// Descriptors are opened close-on-exec and closed on every path: the daemon spawns children.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What makes an entry "the same file" across a settle interval: lstat(2)'s device, inode,
/// size, mtime and file type. Never follows a symbolic link.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var mtimeSeconds: Int64
    var mtimeNanoseconds: Int64
    var type: UInt32

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        mtimeSeconds = Int64(st.st_mtim.tv_sec)
        mtimeNanoseconds = Int64(st.st_mtim.tv_nsec)
        type = UInt32(st.st_mode) & UInt32(S_IFMT)
    }

    var isRegular: Bool { type == UInt32(S_IFREG) }
}

enum Sys {
    /// lstat(2): the entry's identity and link count, or the errno.
    static func lstatEntry(_ path: String) -> Result<(identity: FileIdentity, links: UInt64), Errno> {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .failure(Errno(errno)) }
        return .success((FileIdentity(st), UInt64(st.st_nlink)))
    }

    /// stat(2) (following symbolic links): is `path` a directory?
    static func isDirectory(_ path: String, followSymlinks: Bool) -> Result<Bool, Errno> {
        var st = stat()
        let rc = followSymlinks ? stat(path, &st) : lstat(path, &st)
        guard rc == 0 else { return .failure(Errno(errno)) }
        return .success(UInt32(st.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR))
    }

    /// open(2) O_DIRECTORY|O_CLOEXEC, fdopendir(3), readdir(3) to the end, closedir(3).
    /// `body` gets the directory's descriptor (for fstatat), the name's bytes (no NUL) and
    /// d_type. Returns 0, or the errno of the failed call (the listing is then incomplete).
    static func readDirectory(
        _ path: String, followSymlinks: Bool,
        _ body: (_ dirFD: Int32, _ name: UnsafeBufferPointer<UInt8>, _ type: UInt8) -> Void
    ) -> Errno? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { return Errno(errno) }
        guard let dir = fdopendir(fd) else {
            let e = errno
            close(fd)
            return Errno(e)
        }
        defer { closedir(dir) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                return errno == 0 ? nil : Errno(errno)
            }
            let raw = UnsafeRawPointer(ent).advanced(by: nameOffset)
            let length = strlen(raw.assumingMemoryBound(to: CChar.self))
            let name = UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt8.self), count: length)
            body(dirfd(dir), name, ent.pointee.d_type)
        }
    }

    /// fstatat(2) with AT_SYMLINK_NOFOLLOW, relative to a directory descriptor.
    static func lstatAt(_ dirFD: Int32, _ name: UnsafeBufferPointer<UInt8>) -> stat? {
        var st = stat()
        var cname = Array(name)
        cname.append(0)
        let rc = cname.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { fstatat(dirFD, $0.baseAddress!, &st, AT_SYMLINK_NOFOLLOW) }
        }
        return rc == 0 ? st : nil
    }

    /// `path` made absolute against getcwd(3), without `//`, `/.`, `..` or a trailing `/`.
    /// Symbolic links are not resolved.
    static func absolutePath(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buf, buf.count) != nil {
                full = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
            } else {
                full = "/" + path
            }
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Path join that keeps "/" + name right.
    static func join(_ folder: String, _ name: String) -> String {
        folder == "/" ? "/" + name : folder + "/" + name
    }

    /// (parent, last component) of an absolute path.
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        return (folder, String(path[path.index(after: slash)...]))
    }
}

/// An errno value with its strerror(3) text.
struct Errno: Error, Equatable, CustomStringConvertible {
    var code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { "\(String(cString: strerror(code))) (errno \(code))" }
}

/// A self-wakeup for the watch thread: one end of a socketpair(2) (SOCK_CLOEXEC,
/// SOCK_NONBLOCK). Any thread may `signal()`; the watch thread polls `readFD` and `drain()`s.
/// (eventfd(2) and pipe2(2) are not visible to Swift without _GNU_SOURCE.)
final class WakeSignal: Sendable {
    let readFD: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        if socketpair(AF_UNIX, type, 0, &fds) == 0 {
            readFD = fds[0]
            writeFD = fds[1]
        } else {
            // Without it the thread still notices commands at its 1 s timeout.
            readFD = -1
            writeFD = -1
        }
    }

    func signal() {
        guard writeFD >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)  // EAGAIN: already full of wakeups, fine
    }

    func drain() {
        guard readFD >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buf, buf.count) > 0 {}
    }
}
