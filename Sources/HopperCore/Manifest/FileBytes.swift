// FileBytes — reading a whole small file without blocking or following surprises.
//
// Wraps open(2) with O_NONBLOCK (a FIFO cannot stall the caller), fstat(2) (only regular
// files), read(2) to the end, and close(2) on every path.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// read(2), named apart from `FileBytes.read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

struct FileBytesError: Error, Sendable, Equatable {
    var message: String
}

enum FileBytes {
    /// The file's bytes; fails on anything but a regular file of at most `maxBytes`.
    static func read(_ path: String, maxBytes: Int) throws(FileBytesError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileBytesError(message: "cannot open \(path): \(errnoText(errno))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileBytesError(message: "cannot stat \(path): \(errnoText(errno))") }
        guard st.st_mode & S_IFMT == S_IFREG else { throw FileBytesError(message: "\(path) is not a regular file") }
        guard Int(st.st_size) <= maxBytes else {
            throw FileBytesError(message: "\(path) is larger than \(ByteSize(bytes: Int64(maxBytes)))")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                guard count <= maxBytes else {
                    throw FileBytesError(message: "\(path) is larger than \(ByteSize(bytes: Int64(maxBytes)))")
                }
                bytes.append(contentsOf: repeatElement(0, count: 4096))
            }
            let n = bytes.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileBytesError(message: "cannot read \(path): \(errnoText(errno))")
            }
            if n == 0 { break }
            count += n
        }
        bytes.removeSubrange(count...)
        return bytes
    }

    /// The file's identity for cache checks: mtime (ns), size, inode; nil if it cannot be stat'ed.
    static func stamp(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                         size: Int64(st.st_size), inode: UInt64(st.st_ino))
    }

    static func errnoText(_ code: Int32) -> String {
        String(cString: strerror(code)) + " (errno \(code))"
    }
}

struct FileStamp: Sendable, Equatable {
    var mtime: Int64
    var size: Int64
    var inode: UInt64
}
