// SystemError — a failed system call, naming the call, the path and errno (after NIOFS's FileSystemError).
#if canImport(Glibc)
import Glibc
#endif

public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The C call that failed, e.g. `openat`, `renameat2`.
    public var call: String
    public var path: String
    public var errno: Int32

    public init(_ call: String, path: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var message: String { String(cString: strerror(errno)) }

    public var description: String { "\(call)(\(path)): \(message) (errno \(errno))" }
}
