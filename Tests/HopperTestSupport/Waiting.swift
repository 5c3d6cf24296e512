// Waiting for a condition, and temporary folders: shared by every test target.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass. Returns whether it held.
public func eventually(timeout: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// Like `eventually`, without blocking a thread of the concurrency pool.
@discardableResult
public func waitUntil(_ timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while clock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))   // silent: a cancelled test ends at the next check
    }
    return await condition()
}

/// A new folder made with mkdtemp(3) from `template` (ending in XXXXXX); nil when it cannot be made.
public func makeTemporaryDirectory(_ template: String = "/tmp/hopper-test-XXXXXX") -> String? {
    var buffer = Array(template.utf8CString)
    return buffer.withUnsafeMutableBufferPointer { buffer in
        mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
    }
}
