// BatchMailbox — where the watch thread leaves candidates and the consumer takes them.
//
// Batching happens at the consumer's pace, without any waiting: the thread posts what it
// has at the end of each round; a consumer that is waiting gets it at once, and a consumer
// that is busy finds everything posted meanwhile in one batch (up to `maxBatch`) when it asks
// again. A path already waiting is not added twice.
//
// Memory is bounded whatever the backlog: at most `capacity` candidates wait here. Beyond it a
// candidate is refused (the file stays in the inbox, recorded by the watch engine as judged
// complete), and once the consumer has taken the waiting ones down to half the capacity,
// `onRoom` asks the engine for a rescan, which emits the files still there again at once.
// 100,000 manifests dropped at once cost `capacity` candidates here, not 100,000.
//
// `InboxWatcher.batches` is `AsyncStream(unfolding: mailbox.next)`.

import Synchronization

final class BatchMailbox: Sendable {
    private struct State {
        var pending: [DropCandidate] = []
        var pendingPaths: Set<String> = []
        var waiter: CheckedContinuation<[DropCandidate]?, Never>?
        var finished = false
        /// Candidates were refused since the last `onRoom`.
        var refused = false

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
    /// Candidates waiting at most.
    let capacity: Int
    /// Called (on the consumer's task) when refused candidates can be taken again.
    private let onRoom: Mutex<(@Sendable () -> Void)?> = Mutex(nil)

    init(maxBatch: Int, capacity: Int? = nil) {
        self.maxBatch = max(1, maxBatch)
        self.capacity = max(capacity ?? 16 * self.maxBatch, self.maxBatch)
    }

    /// Who hears that there is room again after candidates were refused (the watch engine's rescan).
    func whenRoom(_ action: @escaping @Sendable () -> Void) {
        onRoom.withLock { $0 = action }
    }

    /// Candidates waiting now (for tests).
    var count: Int { state.withLock { $0.pending.count } }

    /// How many more candidates would be taken now.
    var room: Int { state.withLock { capacity - $0.pending.count } }

    /// The engine left files aside for want of room: `onRoom` is called once there is room.
    func refuse() { state.withLock { $0.refused = true } }

    /// On the watch thread: hand over candidates (a waiting consumer is resumed at once).
    func post(_ candidates: [DropCandidate]) {
        guard !candidates.isEmpty else { return }
        let limit = maxBatch
        let capacity = self.capacity
        let (waiter, batch) = state.withLock { s -> (CheckedContinuation<[DropCandidate]?, Never>?, [DropCandidate]) in
            guard !s.finished else { return (nil, []) }
            for c in candidates {
                guard s.pending.count < capacity else { s.refused = true; break }
                if s.pendingPaths.insert(c.path).inserted { s.pending.append(c) }
            }
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
        let batch = await withTaskCancellationHandler {
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
        // Room again after refusals: the engine rescans (what is still in the inbox comes back).
        let half = capacity / 2
        let room = state.withLock { s -> Bool in
            guard s.refused, !s.finished, s.pending.count <= half else { return false }
            s.refused = false
            return true
        }
        if room, let action = onRoom.withLock({ $0 }) { action() }
        return batch
    }
}
