// PendingQueue — the pending jobs the scheduler chooses from, with memory bounded by design.
//
// Jobs are grouped in buckets by (priority, owner); within a bucket they start in the order
// they were queued. To choose the next job the scheduler needs only the head of each bucket,
// so each bucket keeps at most `window` jobs in memory and knows whether the store holds more
// (`more`); an emptied window is refilled from the store (one indexed query). A backlog of a
// million jobs costs a few buckets, not a million entries. A job the store may not hold (its
// insert failed) is always kept in memory, whatever the window.
//
// One deviation from a queue held whole: a job blocked by its queue's cap lets a later job of
// another queue go only among the jobs in its bucket's window.

struct QueuedJob {
    let id: String
    let owner: String
    let queue: String
    let priority: Int
    let seq: Int
}

struct PendingQueue {
    struct Bucket {
        var jobs: [QueuedJob] = []
        /// The store holds pending jobs of this bucket that are not in `jobs`.
        var more = false
    }

    /// At most this many jobs of one bucket in memory (more only for jobs not in the store).
    let window: Int
    private(set) var buckets: [Int: [String: Bucket]] = [:]
    /// The ids in memory.
    private(set) var ids: Set<String> = []
    /// Pending jobs in all, in memory or only in the store (for the heartbeat and logs).
    private(set) var total = 0

    init(window: Int = 64) { self.window = window }

    func contains(_ id: String) -> Bool { ids.contains(id) }

    /// A job that became pending. `inStore`: the store holds it as pending (then it may wait
    /// there, out of memory, behind a full window).
    mutating func add(_ job: QueuedJob, inStore: Bool) {
        guard !ids.contains(job.id) else { return }
        total += 1
        var bucket = buckets[job.priority, default: [:]][job.owner, default: Bucket()]
        if inStore && (bucket.more || bucket.jobs.count >= window) {
            bucket.more = true
        } else {
            bucket.jobs.append(job)
            ids.insert(job.id)
        }
        buckets[job.priority, default: [:]][job.owner] = bucket
    }

    /// Start-up: `count` pending jobs of a bucket are in the store, none in memory yet.
    mutating func addStored(priority: Int, owner: String, count: Int) {
        guard count > 0 else { return }
        total += count
        buckets[priority, default: [:]][owner, default: Bucket()].more = true
    }

    /// A job that no longer waits: taken from memory (returned), or, when only the store held
    /// it (`stored`), just no longer counted.
    @discardableResult
    mutating func remove(_ id: String, stored: Bool = false) -> QueuedJob? {
        guard ids.remove(id) != nil else {
            if stored { total = max(0, total - 1) }
            return nil
        }
        total = max(0, total - 1)
        var found: (priority: Int, owner: String, index: Int)?
        search: for (priority, owners) in buckets {
            for (owner, bucket) in owners {
                if let i = bucket.jobs.firstIndex(where: { $0.id == id }) { found = (priority, owner, i); break search }
            }
        }
        guard let (priority, owner, index) = found else { return nil }
        let job = buckets[priority]![owner]!.jobs.remove(at: index)
        prune(priority, owner)
        return job
    }

    /// Puts the refilled jobs of a bucket in its window; `exhausted`: the store has no more.
    mutating func refill(priority: Int, owner: String, with jobs: [QueuedJob], exhausted: Bool) {
        guard var bucket = buckets[priority]?[owner] else { return }
        for job in jobs where !ids.contains(job.id) {
            bucket.jobs.append(job)
            ids.insert(job.id)
        }
        bucket.more = !exhausted
        buckets[priority]![owner] = bucket
        prune(priority, owner)
    }

    /// The store turned out to hold fewer than counted (a job it listed was not pending after all).
    mutating func discount(_ n: Int) { total = max(0, total - n) }

    private mutating func prune(_ priority: Int, _ owner: String) {
        guard let bucket = buckets[priority]?[owner], bucket.jobs.isEmpty, !bucket.more else { return }
        buckets[priority]![owner] = nil
        if buckets[priority]!.isEmpty { buckets[priority] = nil }
    }
}
