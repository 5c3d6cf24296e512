// ProcessEnvironment — getenv(3) as a Swift String.
#if canImport(Glibc)
import Glibc
#endif

public enum ProcessEnvironment {
    /// The variable's value, or nil when it is not set.
    public static func value(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: v, count: strlen(v)), as: UTF8.self)
    }
}
