// Helpers for the watcher tests: temporary inboxes under /tmp, a collector for the batches,
// an in-memory log handler, file operations by plain system calls, and waiting for a
// condition with a deadline (never asserting how long something took).

import Glibc
import HopperCore
import HopperTestSupport
@testable import HopperWatch
import Logging
import Synchronization
import Testing

/// Everything a test saw come out of a watcher.
final class Collected: Sendable {
    private let state = Mutex<(candidates: [DropCandidate], batches: Int)>(([], 0))

    func add(_ batch: [DropCandidate]) {
        state.withLock { $0.candidates += batch; $0.batches += 1 }
    }

    var candidates: [DropCandidate] { state.withLock { $0.candidates } }
    var batchCount: Int { state.withLock { $0.batches } }
    var paths: Set<String> { Set(candidates.map(\.path)) }
    func count(of path: String) -> Int { candidates.filter { $0.path == path }.count }
    func first(_ path: String) -> DropCandidate? { candidates.first { $0.path == path } }
}

/// Log messages, for checking diagnostics.
final class LogCapture: Sendable {
    private let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    func record(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        entries.withLock { $0.append((level, message, metadata)) }
    }

    func contains(_ message: String) -> Bool { entries.withLock { $0.contains { $0.message == message } } }
    func count(_ message: String) -> Int { entries.withLock { $0.filter { $0.message == message }.count } }
    func metadata(of message: String) -> [Logger.Metadata] {
        entries.withLock { $0.filter { $0.message == message }.map(\.metadata) }
    }
}

struct CaptureLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    func log(event: LogEvent) {
        capture.record(event.level, event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A temporary directory with an inbox in it, a watcher on the inbox and a task collecting
/// its batches.
final class Harness: Sendable {
    let dir: String
    let inbox: String
    let watcher: InboxWatcher
    let collected = Collected()
    let logs = LogCapture()
    private let consumer = Mutex<Task<Void, Never>?>(nil)

    init(settings: WatchSettings, createInbox: Bool = true,
         fileSystemKind: (@Sendable (String) throws -> FileSystemKind)? = nil) {
        dir = makeTempDir()
        inbox = dir + "/inbox"
        if createInbox { makeDir(inbox) }
        let capture = logs
        let logger = Logger(label: "test.watch") { _ in CaptureLogHandler(capture: capture) }
        if let fileSystemKind {
            watcher = InboxWatcher(inbox: inbox, settings: settings, logger: logger, fileSystemKind: fileSystemKind)
        } else {
            watcher = InboxWatcher(inbox: inbox, settings: settings, logger: logger)
        }
    }

    /// Start the watcher and a consumer that takes `busy` for each batch.
    func start(busy: Duration? = nil) async {
        let watcher = self.watcher, collected = self.collected
        consumer.withLock {
            $0 = Task.detached {
                for await batch in watcher.batches {
                    collected.add(batch)
                    if let busy { try? await Task.sleep(for: busy) }
                }
            }
        }
        await watcher.start()
    }

    /// Stop the watcher, wait for the stream to end (at most 10 s), remove the directory.
    /// True when the stream ended.
    @discardableResult
    func finish() async -> Bool {
        watcher.stop()
        let task = consumer.withLock { $0 }
        let ended = Mutex(false)
        if let task {
            let waiter = Task.detached { await task.value; ended.withLock { $0 = true } }
            _ = await waitUntil(.seconds(10)) { ended.withLock { $0 } }
            waiter.cancel()
        }
        removeTree(dir)
        return ended.withLock { $0 }
    }

    func path(_ name: String) -> String { inbox + "/" + name }
}


// MARK: - Files, by system calls

func makeTempDir() -> String {
    guard let dir = makeTemporaryDirectory("/tmp/hopper-watch-XXXXXX") else { preconditionFailure("mkdtemp failed") }
    return dir
}

func makeDir(_ path: String) {
    precondition(mkdir(path, 0o755) == 0, "mkdir \(path): errno \(errno)")
}

/// open(O_CREAT|O_TRUNC), write, close.
func writeFile(_ path: String, _ text: String = "id: x\n") {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "open \(path): errno \(errno)")
    _ = text.withCString { write(fd, $0, strlen($0)) }
    close(fd)
}

func renameFile(_ from: String, _ to: String) {
    precondition(rename(from, to) == 0, "rename \(from) \(to): errno \(errno)")
}

/// Write `.name.tmp` beside `path`, then rename it to `path` (the safe drop).
func dropFile(_ path: String, _ text: String = "id: x\n") {
    let slash = path.lastIndex(of: "/")!
    let tmp = String(path[..<slash]) + "/." + String(path[path.index(after: slash)...]) + ".tmp"
    writeFile(tmp, text)
    renameFile(tmp, path)
}

func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        if let d = opendir(path) {
            var names: [String] = []
            while let e = readdir(d) {
                let name = withUnsafePointer(to: &e.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(d)
            for n in names { removeTree(path + "/" + n) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Descriptors of this process whose /proc/self/fd link is `anon_inode:inotify`.
func inotifyDescriptors() -> [Int32] {
    var result: [Int32] = []
    guard let d = opendir("/proc/self/fd") else { return [] }
    defer { closedir(d) }
    while let e = readdir(d) {
        let name = withUnsafePointer(to: &e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        guard let fd = Int32(name) else { continue }
        var buf = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/self/fd/\(fd)", &buf, 63)
        if n > 0, String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "anon_inode:inotify" { result.append(fd) }
    }
    return result
}

func readProcInt(_ path: String) -> Int? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 32)
    let n = read(fd, &buf, 32)
    guard n > 0 else { return nil }
    return Int(String(decoding: buf[0..<n], as: UTF8.self).filter { $0.isNumber })
}
