// Console — writes to stdout/stderr through write(2) (C's FILE globals are not concurrency-safe).
#if canImport(Glibc)
import Glibc
#endif

public enum Console {
    public static func out(_ text: String) { emit(1, Array(text.utf8)) }
    public static func out(bytes: [UInt8]) { emit(1, bytes) }
    public static func err(_ text: String) { emit(2, Array(text.utf8)) }

    static func emit(_ fd: Int32, _ bytes: [UInt8]) {
        try? FileOps.writeAll(fd, bytes, path: fd == 1 ? "stdout" : "stderr")
    }
}
