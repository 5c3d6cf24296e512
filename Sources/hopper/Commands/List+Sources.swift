// List+Sources — where `hopper ls` gets its rows: the store (or the status files when there is
// none), the caps that say why a pending job waits, the scheduler's order for POSITION.
import ArgumentParser
import HopperCore
import HopperStore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper.List {
    /// What is running, by owner and queue, and the limits the daemon's config sets: why a
    /// pending job has not started. As the scheduler judges (Scheduler.eligible), from the
    /// store and the config the daemon records; a job that no cap holds waits its turn.
    struct Capacity {
        var config: HopperConfig
        var total = 0
        var byOwner: [String: Int] = [:]
        var byQueue: [String: Int] = [:]

        init(_ spool: SpoolOptions.Resolved) {
            config = spool.config
            let states: [JobState] = [.queued, .running]
            // silent: no store here: the outbox has the same answer, more slowly.
            if let store = try? JobStore(readOnlyPath: spool.layout.database), let rows = try? store.counts(states: states) {  // silent: as above
                for row in rows { add(owner: row.owner, queue: row.queue, count: row.count) }
                return
            }
            for job in JobSource(layout: spool.layout).list(Filter(states: states), limit: nil, statuses: false) {
                add(owner: job.record.owner, queue: job.record.queue, count: 1)
            }
        }

        mutating func add(owner: String, queue: String, count: Int) {
            total += count
            byOwner[owner, default: 0] += count
            byQueue[queue, default: 0] += count
        }

        func reason(owner: String, queue: String) -> String {
            let cap = config.perOwnerRunning
            if cap > 0, let n = byOwner[owner], n >= cap { return "owner cap (\(n)/\(cap) running for \(owner))" }
            if let qcap = config.queue(named: queue)?.maxRunning, qcap > 0, let n = byQueue[queue], n >= qcap {
                return "queue cap (\(n)/\(qcap) running in \(queue))"
            }
            if total >= config.maxRunning { return "waiting for a slot (\(total)/\(config.maxRunning) running)" }
            return "next to start"
        }
    }

    /// Where pending jobs stand in the scheduler's order (StartOrder, the rule the scheduler
    /// itself follows): the pending jobs per (priority, owner) from the store, each job's rank
    /// in its bucket, and the owners' turns from the daemon's heartbeat (`owner_turns`).
    enum QueuePositions {
        static func of(_ ids: [String], layout: SpoolLayout) -> [String: Int] {
            var counts: [Int: [String: Int]] = [:]
            var ranks: [String: Int] = [:]
            var priorityOwner: [String: (Int, String)] = [:]
            // silent: no store here (another host, no daemon yet): the outbox has the same answer.
            if let store = try? JobStore(readOnlyPath: layout.database),
               let buckets = try? store.buckets(in: .pending),    // silent: as above
               let found = try? store.pendingRanks(ids: ids),     // silent: as above
               let records = try? ids.compactMap({ try store.job(id: $0) }) {   // silent: as above
                for b in buckets { counts[b.priority, default: [:]][b.owner] = b.count }
                ranks = found
                for r in records { priorityOwner[r.id] = (r.priority, r.owner) }
            } else {
                let all = JobSource(layout: layout).scanOutbox(Filter(states: [.pending]), limit: nil)
                var seen: [Int: [String: Int]] = [:]
                for job in all.reversed() {   // oldest first: the order they were queued
                    let p = job.record.priority, o = job.record.owner
                    let rank: Int = seen[p]?[o] ?? 0
                    ranks[job.record.id] = rank
                    priorityOwner[job.record.id] = (p, o)
                    seen[p, default: [:]][o] = rank + 1
                }
                counts = seen
            }
            var turns: [String: UInt64] = [:]
            for (i, owner) in (readHeartbeat(layout)?.ownerTurns ?? []).enumerated() { turns[owner] = UInt64(i + 1) }
            var out: [String: Int] = [:]
            for id in ids {
                guard let rank = ranks[id], let (priority, owner) = priorityOwner[id] else { continue }
                out[id] = StartOrder.position(priority: priority, owner: owner, rank: rank, counts: counts, lastStart: turns)
            }
            return out
        }
    }

    /// Jobs from the store, or from the outbox when the store is out of reach.
    struct JobSource {
        let layout: SpoolLayout

        struct Job {
            var record: JobRecord
            var status: JobStatus?
            var groupStatus: GroupStatus?
            var state: JobState { status?.state ?? record.state }
        }

        /// With `statuses`, each job's status.json is read too (for the columns the store lacks).
        func list(_ filter: Filter, limit: Int?, statuses: Bool = true) -> [Job] {
            // silent: no store here (another host, no daemon yet): the outbox has the same answer.
            if let store = try? JobStore(readOnlyPath: layout.database),
               let rows = try? store.list(states: filter.states, owner: filter.owner, queue: filter.queue,
                                          since: filter.since, limit: limit, group: filter.group,
                                          topLevel: filter.group == nil && statuses) {   // silent: as above
                let jobs = rows.map { Job(record: $0, status: statuses ? readStatus($0.id) : nil) }
                guard filter.group == nil && statuses else { return jobs }
                // silent: a store without groups (older daemon) lists none.
                let groups = (try? store.groups(owner: filter.owner, queue: filter.queue, since: filter.since, limit: limit)) ?? []
                return merge(jobs, groups.compactMap { groupJob($0, filter) }, limit: limit)
            }
            return scanOutbox(filter, limit: limit)
        }

        /// A group as a line of the list: its record and status stand for a job's.
        func groupJob(_ g: GroupRecord, _ filter: Filter) -> Job? {
            // silent: a group whose status cannot be read is left out until it can.
            guard let bytes = try? FileOps.readFile(layout.status(g.id)), let status = try? JSON.decode(GroupStatus.self, from: bytes) else { return nil }
            if !filter.states.isEmpty && !filter.states.contains(status.state) { return nil }
            let record = JobRecord(id: g.id, state: status.state, queue: g.queue, owner: g.owner, uid: g.uid, priority: status.priority,
                                   workflow: status.workflow, description: status.description, submittedAt: g.submittedAt,
                                   updatedAt: status.updatedAt)
            var job = Job(record: record, status: Hopper.Wait.asJob(status))
            job.groupStatus = status
            return job
        }

        func merge(_ jobs: [Job], _ groups: [Job], limit: Int?) -> [Job] {
            guard !groups.isEmpty else { return jobs }
            let all = (jobs + groups).sorted { ($0.record.submittedAt, $0.record.id) > ($1.record.submittedAt, $1.record.id) }
            return limit.map { Array(all.prefix($0)) } ?? all
        }

        func readStatus(_ id: String) -> JobStatus? {
            // silent: a job removed meanwhile, or a status being replaced: the store's record stands.
            guard let bytes = try? FileOps.readFile(layout.status(id)) else { return nil }
            return try? JSON.decode(JobStatus.self, from: bytes)   // silent: as above
        }

        /// Without the store: every status.json in the outbox (slow with many jobs, but complete).
        func scanOutbox(_ filter: Filter, limit: Int?) -> [Job] {
            var out: [Job] = []
            // silent: an unreadable outbox lists no jobs; `hopper system` tells why.
            for id in (try? FileOps.listDirectory(layout.outbox)) ?? [] where Names.isValid(id) {
                guard let s = readStatus(id), filter.matches(s) else { continue }
                out.append(Job(record: JobRecord(status: s, uid: -1), status: s))
            }
            out.sort { ($0.record.submittedAt, $0.record.id) > ($1.record.submittedAt, $1.record.id) }
            return limit.map { Array(out.prefix($0)) } ?? out
        }
    }
}
