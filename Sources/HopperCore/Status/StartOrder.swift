// StartOrder — the order in which the scheduler starts pending jobs, as one rule for the
// daemon (Scheduler.pickNext) and for `hopper ls` (the queue position of a pending job).
//
// The highest priority first; within a priority, owners take turns: the owner whose last start
// is the oldest goes first (an owner who has not started a job since the daemon started comes
// before all others; ties by name), and each owner's jobs start in the order they were queued.
// A start makes its owner the most recent, so owners with pending jobs of one priority go round
// robin. Caps (per owner, per queue, `max_running`) decide when, not in which order: a job a cap
// holds back lets the next eligible one go, which the position does not foresee.
public enum StartOrder {
    /// Priorities, highest first.
    public static func priorities(_ keys: some Sequence<Int>) -> [Int] {
        keys.sorted(by: >)
    }

    /// Owners, whose turn first: the least recent start (`lastStart`: a counter, larger is
    /// more recent; absent is never), then by name.
    public static func owners(_ names: some Sequence<String>, lastStart: [String: UInt64]) -> [String] {
        names.sorted { a, b in
            let ta: UInt64 = lastStart[a] ?? 0
            let tb: UInt64 = lastStart[b] ?? 0
            return ta != tb ? ta < tb : a < b
        }
    }

    /// The position (1 = next to start) of the pending job that is the `rank`-th (from 0) of
    /// its (priority, owner) bucket, given how many jobs each bucket holds (`counts[priority][owner]`)
    /// and the owners' last starts: as the scheduler would take them, no cap holding any back
    /// and no job arriving.
    public static func position(priority: Int, owner: String, rank: Int, counts: [Int: [String: Int]],
                                lastStart: [String: UInt64]) -> Int {
        var ahead = 0
        var turns = lastStart
        var clock: UInt64 = (lastStart.values.max() ?? 0) + 1
        for p in priorities(counts.keys) where p > priority {
            let level: [String: Int] = counts[p] ?? [:]
            ahead += level.values.reduce(0, +)
            // Round robin: an owner's last start is in round n - 1; within a round, in turn order.
            let order = owners(level.keys, lastStart: turns)
            let finishing = order.enumerated().sorted { a, b in
                let ra: Int = level[a.element] ?? 0
                let rb: Int = level[b.element] ?? 0
                return ra != rb ? ra < rb : a.offset < b.offset
            }
            for entry in finishing where (level[entry.element] ?? 0) > 0 {
                turns[entry.element] = clock
                clock += 1
            }
        }
        let here: [String: Int] = counts[priority] ?? [:]
        // Rounds 0..<rank take one job from each owner who has that many.
        for (_, n) in here { ahead += min(n, rank) }
        // In round `rank`, the owners whose turn comes first.
        for name in owners(here.keys, lastStart: turns) {
            if name == owner { break }
            if (here[name] ?? 0) > rank { ahead += 1 }
        }
        return ahead + 1
    }
}
