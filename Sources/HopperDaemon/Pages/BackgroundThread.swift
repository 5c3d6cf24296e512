// BackgroundThread — one thread of its own at a lower CPU priority (nice 10 above the
// daemon's) that runs work one piece at a time: work people look at but jobs must not wait
// for (the pages). When the cores are busy with jobs it gets a small share of them (the
// scheduler weighs nice 10 at a tenth of nice 0); when they are idle, all it needs. On Linux
// a nice value is a thread's, so the rest of the daemon keeps its own.
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class BackgroundThread: Sendable {
    private final class Queue: Sendable {
        let work = Mutex<(pieces: [@Sendable () -> Void], done: Bool)>(([], false))
        let wake = DispatchSemaphore(value: 0)
    }
    private let queue = Queue()

    init(name: String, nice: Int32 = 10) {
        let thread = Thread { [queue] in
            // who 0: the calling thread. Failing (a seccomp filter) leaves it at the daemon's priority.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
            while true {
                queue.wake.wait()
                let (pieces, done) = queue.work.withLock { w in
                    defer { w.pieces.removeAll() }
                    return (w.pieces, w.done)
                }
                for piece in pieces { piece() }
                if done { return }
            }
        }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { cont in
            queue.work.withLock { $0.pieces.append { cont.resume(returning: body()) } }
            queue.wake.signal()
        }
    }

    /// The thread ends once the work already given is done.
    func finish() {
        queue.work.withLock { $0.done = true }
        queue.wake.signal()
    }
}
