// BlockingIO — runs blocking file work (fsync, directory trees, hashing) on threads of its own,
// never on the Swift concurrency pool, whose few threads (one per core) must not wait on disks.
import Dispatch

public enum BlockingIO {
    static let queue = DispatchQueue(label: "hopper.io", qos: .utility, attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            queue.async { cont.resume(with: Result { try body() }) }
        }
    }

    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { cont in
            queue.async { cont.resume(returning: body()) }
        }
    }
}
