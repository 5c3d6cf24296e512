// BatchMailbox — where the watch thread leaves candidates and the consumer takes them.
//
// Batching happens at the consumer's pace, without any waiting: the thread posts what it
// has at the end of each round; a consumer that is waiting gets it at once, and a consumer
// that is busy finds everything posted meanwhile in one batch (up to `maxBatch`) when it asks
// again. A path already waiting is not added twice, so the backlog is bounded by the number
// of distinct files even when the consumer falls behind.
//
// `InboxWatcher.batches` is `AsyncStream(unfolding: mailbox.next)`.

import Synchronization

final class BatchMailbox: Sendable {
    private struct State {
        var pending: [DropCandidate] = []
        var pendingPaths: Set<String> = []
        var waiter: CheckedContinuation<[DropCandidate]?, Never>?
        var finished = false

        mutating func take(_ limit: Int) -> [DropCandidate] {
            let n = min(limit, pending.count)
            let taken = Array(pending[0..<n])
            pending.removeFirst(n)
            for c in taken { pendingPaths.remove(c.path) }
            return taken
        }
    }

    private let state = Mutex(State())
    private let maxBatch: Int

    init(maxBatch: Int) { self.maxBatch = max(1, maxBatch) }

    /// On the watch thread: hand over candidates (a waiting consumer is resumed at once).
    func post(_ candidates: [DropCandidate]) {
        guard !candidates.isEmpty else { return }
        let limit = maxBatch
        let (waiter, batch) = state.withLock { s -> (CheckedContinuation<[DropCandidate]?, Never>?, [DropCandidate]) in
            guard !s.finished else { return (nil, []) }
            for c in candidates where s.pendingPaths.insert(c.path).inserted { s.pending.append(c) }
            guard let w = s.waiter, !s.pending.isEmpty else { return (nil, []) }
            s.waiter = nil
            return (w, s.take(limit))
        }
        waiter?.resume(returning: batch)
    }

    /// No more posts. What is pending is still handed out, then the stream ends.
    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<[DropCandidate]?, Never>? in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: nil)  // a waiter exists only while nothing is pending
    }

    /// The consumer: the next batch, waiting for one if needed; nil at the end or when the
    /// consumer's task is cancelled.
    func next() async -> [DropCandidate]? {
        let limit = maxBatch
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[DropCandidate]?, Never>) in
                let ready = state.withLock { s -> [DropCandidate]?? in
                    if !s.pending.isEmpty { return .some(s.take(limit)) }
                    if s.finished || Task.isCancelled { return .some(nil) }
                    s.waiter = c
                    return .none
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<[DropCandidate]?, Never>? in
                let w = s.waiter
                s.waiter = nil
                return w
            }
            waiter?.resume(returning: nil)
        }
    }
}
