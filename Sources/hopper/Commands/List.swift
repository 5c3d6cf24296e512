// hopper ls — jobs, newest first, from the daemon's store (fast with 100k jobs); when the store
// is out of reach (another host, no daemon yet) from the outbox's status files.
//
// Filters add up as squeue's do: `--state failed,cancelled` and `--state failed --state
// cancelled` are the same; `--owner`, `--queue`, `--since 2h`. The table shows, per job, the
// time it ran (ELAPSED, squeue's TIME), its progress, and a REASON: for a pending job why it has
// not started (`waiting for a slot (2/2 running)`, `owner cap …`, `queue cap …`), for a waiting
// one its `wait_for`, for a failed one the error; for a pending job its POSITION, where it stands
// in the order the scheduler starts jobs (StartOrder: priority, owners' turns, first queued
// first; caps aside). `--format id,state,reason` picks the columns,
// `--noheader` drops the header line. `--json`: one object per job with every key, null where
// empty. When the default limit (50) cuts the list, a line on stderr says so.
import ArgumentParser
import HopperCore
import HopperStore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List jobs, newest first.",
            discussion: "Fields for --format: \(Field.allCases.map(\.rawValue).joined(separator: ", ")).")

        static let defaultLimit = 50

        @OptionGroup var spoolOptions: SpoolOptions

        @Option(help: ArgumentHelp("Only jobs in these states, comma-separated or repeated (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))).", valueName: "states"),
                completion: Completions.states)
        var state: [String] = []

        @Option(help: ArgumentHelp("Only jobs of this owner.", valueName: "user"))
        var owner: String?

        @Option(help: ArgumentHelp("Only jobs of this queue.", valueName: "queue"), completion: Completions.queues)
        var queue: String?

        @Option(help: ArgumentHelp("The jobs of this group (without it, a group is one line, marked `group` in REASON).", valueName: "group"),
                completion: Completions.jobIDs)
        var group: String?

        @Option(help: ArgumentHelp("Only jobs submitted within this long (e.g. 2h, 7d) or since this time (RFC 3339).", valueName: "when"))
        var since: String?

        @Option(help: ArgumentHelp("At most this many jobs (default \(List.defaultLimit); 0: all).", valueName: "n"))
        var limit: Int?

        @Option(help: ArgumentHelp("The columns, comma-separated (see the fields below).", valueName: "fields"))
        var format: String?

        @Flag(help: "Print no header line.")
        var noheader = false

        @Flag(help: "JSON lines, one object per job, every key present (null where empty).")
        var json = false

        func validate() throws {
            if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
            _ = try states()
            _ = try fields()
            if let since, Self.sinceTimestamp(since) == nil {
                throw ValidationError("--since \(String(reflecting: since)) is neither a duration (2h, 7d) nor a time (2026-11-21T10:00:00Z)")
            }
        }

        /// `--state a,b --state c`, each checked.
        func states() throws -> [JobState] { try JobState.parseList(state) }

        func fields() throws -> [Field] {
            guard let format else { return Field.defaults }
            var out: [Field] = []
            for part in format.split(separator: ",") {
                let name = String(part).trimmedSpaces.lowercased()
                guard let field = Field(rawValue: name) else {
                    throw ValidationError("unknown field \(String(reflecting: name)) in --format; fields are \(Field.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                out.append(field)
            }
            if out.isEmpty { throw ValidationError("--format names no field") }
            return out
        }

        /// RFC 3339 of `now - duration`, or the time given.
        static func sinceTimestamp(_ text: String, now: Double = Timestamp.now()) -> String? {
            if let d = DurationValue(text) { return Timestamp.rfc3339(now - d.seconds) }
            return Timestamp.parse(text).map { Timestamp.rfc3339($0) }
        }

        func run() async throws {
            let spool = try spoolOptions.resolve()
            var filter = Filter(states: try states(), owner: owner, queue: queue,
                                since: since.flatMap { Self.sinceTimestamp($0) })
            filter.group = group
            let wanted = limit ?? Self.defaultLimit
            // One more than shown: whether the limit cut the list.
            let fetch = wanted == 0 ? nil : wanted + 1
            var jobs = JobSource(layout: spool.layout).list(filter, limit: fetch)
            let cut = fetch != nil && jobs.count > wanted
            if cut { jobs.removeLast(jobs.count - wanted) }
            let pending = jobs.filter { $0.state == .pending && $0.groupStatus == nil }.map(\.record.id)
            let capacity = pending.isEmpty ? nil : Capacity(spool)
            let positions = pending.isEmpty ? [:] : QueuePositions.of(pending, layout: spool.layout)
            let rows = jobs.map { job in
                var row = Row(record: job.record, status: job.status, capacity: capacity, position: positions[job.record.id])
                if let g = job.groupStatus {
                    row.isGroup = true
                    row.reason = Row.groupReason(g)
                }
                return row
            }

            if json {
                for row in rows { Console.out(bytes: try JSON.line(row)) }
            } else if rows.isEmpty {
                print("no jobs")
            } else {
                print(table(rows, fields: try fields()), terminator: "")
            }
            if cut && limit == nil {
                Console.err("hopper: showing the newest \(wanted) jobs; more match: --limit 0 shows all, --limit N more\n")
            }
        }

        func table(_ rows: [Row], fields: [Field]) -> String {
            let cells = rows.map { row in fields.map { row.text($0) } }
            var widths = fields.map { $0.header.count }
            for line in cells {
                for (i, cell) in line.enumerated() { widths[i] = max(widths[i], min(cell.count, 40)) }
            }
            var out = ""
            func add(_ line: [String]) {
                var text = ""
                for (i, cell) in line.enumerated() {
                    text += i == line.count - 1 ? cell : cell.padding(widths[i] + 1)
                }
                out += text + "\n"
            }
            if !noheader { add(fields.map(\.header)) }
            for line in cells { add(line) }
            return out
        }
    }
}

extension Hopper.List {
    /// A column of the table (`--format`).
    enum Field: String, CaseIterable {
        case id, state, position, queue, owner, priority, workflow, submitted, started, finished, elapsed, progress, step, reason, description

        static let defaults: [Field] = [.id, .state, .position, .queue, .owner, .submitted, .elapsed, .progress, .workflow, .reason]

        var header: String { rawValue.uppercased() }
    }

    struct Filter {
        var states: [JobState]
        var owner: String?
        var queue: String?
        var since: String?
        var group: String?

        func matches(_ s: JobStatus) -> Bool {
            if let group, s.group != group { return false }
            if !states.isEmpty && !states.contains(s.state) { return false }
            if let owner, s.owner != owner { return false }
            if let queue, s.queue != queue { return false }
            if let since, s.submittedAt < since { return false }
            return true
        }
    }

    /// One job as `ls` shows it; `--json` writes every key, null where empty.
    struct Row: Encodable {
        var record: JobRecord
        var status: JobStatus?
        var reason: String?
        /// A group's line (its children are listed by `--group`).
        var isGroup = false

        /// `group of 24 jobs: 20 completed, 4 running`
        static func groupReason(_ g: GroupStatus) -> String {
            let counts = JobState.allCases.compactMap { s -> String? in
                let n = g.counts[s.rawValue] ?? 0
                return n > 0 ? "\(n) \(s.rawValue)" : nil
            }
            return "group of \(g.children.count) jobs: " + counts.joined(separator: ", ")
        }
        /// A pending job's place in the scheduler's order (1: next); nil otherwise.
        var position: Int?

        init(record: JobRecord, status: JobStatus?, capacity: Capacity?, position: Int? = nil) {
            self.record = record
            self.status = status
            self.reason = Self.reason(record, status, capacity)
            self.position = position
        }

        static func reason(_ r: JobRecord, _ s: JobStatus?, _ capacity: Capacity?) -> String? {
            switch s?.state ?? r.state {
            case .pending: return capacity?.reason(owner: r.owner, queue: r.queue)
            case .waiting:
                guard let first = s?.waitingFor?.first else { return "wait_for" }
                let more = (s?.waitingFor?.count ?? 1) - 1
                let what = first.hasPrefix("after ") ? first : "wait_for \(first)"   // after: names its dependency
                return what + (more > 0 ? " (+\(more))" : "")
            case .failed, .cancelled: return s?.error.map { Hopper.Wait.reason($0) }
            default: return nil
            }
        }

        var elapsed: Double? { status.flatMap { HumanFormat.runSeconds($0) } }
        /// 0…1 once started; nil before.
        var progress: Double? {
            guard let s = status, s.startedAt != nil || s.state == .completed else { return nil }
            return s.state == .completed ? 1 : s.progress
        }

        func text(_ field: Field) -> String {
            switch field {
            case .id: return record.id
            case .state: return (status?.state ?? record.state).rawValue
            case .position: return position.map { String($0) } ?? "-"
            case .queue: return record.queue
            case .owner: return record.owner
            case .priority: return String(record.priority)
            case .workflow: return record.workflow ?? "-"
            case .submitted: return HumanFormat.localTime(record.submittedAt, zone: false)
            case .started: return status?.startedAt.map { HumanFormat.localTime($0, zone: false) } ?? "-"
            case .finished: return status?.finishedAt.map { HumanFormat.localTime($0, zone: false) } ?? "-"
            case .elapsed: return elapsed.map(HumanFormat.elapsed) ?? "-"
            case .progress: return progress.map(Hopper.Wait.percent) ?? "-"
            case .step: return status?.currentStep ?? "-"
            case .reason: return reason ?? "-"
            case .description: return record.description ?? "-"
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, state, position, queue, owner, uid, priority, workflow, description
            case submittedAt = "submitted_at", updatedAt = "updated_at", startedAt = "started_at", finishedAt = "finished_at"
            case elapsedSeconds = "elapsed_seconds", progress, currentStep = "current_step", reason, kind, group
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(record.id, forKey: .id)
            try c.encode(status?.state ?? record.state, forKey: .state)
            try c.encode(position, forKey: .position)
            try c.encode(record.queue, forKey: .queue)
            try c.encode(record.owner, forKey: .owner)
            try c.encode(record.uid < 0 ? nil : record.uid, forKey: .uid)
            try c.encode(record.priority, forKey: .priority)
            try c.encode(record.workflow, forKey: .workflow)
            try c.encode(record.description, forKey: .description)
            try c.encode(record.submittedAt, forKey: .submittedAt)
            try c.encode(record.updatedAt, forKey: .updatedAt)
            try c.encode(status?.startedAt, forKey: .startedAt)
            try c.encode(status?.finishedAt, forKey: .finishedAt)
            try c.encode(elapsed.map { ($0 * 1000).rounded() / 1000 }, forKey: .elapsedSeconds)
            try c.encode(progress, forKey: .progress)
            try c.encode(status?.currentStep, forKey: .currentStep)
            try c.encode(reason, forKey: .reason)
            try c.encode(isGroup ? "group" : "job", forKey: .kind)
            try c.encode(record.group, forKey: .group)
        }
    }

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

extension String {
    /// Without leading and trailing white space.
    var trimmedSpaces: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension JobState {
    /// `--state a,b --state c` (states add up), each checked.
    static func parseList(_ options: [String]) throws -> [JobState] {
        var out: [JobState] = []
        for part in options.flatMap({ $0.split(separator: ",") }) {
            let parsed = try JobState.parseArgument(String(part).trimmedSpaces)
            if !out.contains(parsed) { out.append(parsed) }
        }
        return out
    }
}

extension JobState: ExpressibleByArgument {
    /// `--state NAME`, with the states listed when the name is not one.
    static func parseArgument(_ text: String) throws -> JobState {
        guard let state = JobState(rawValue: text) else {
            throw ValidationError("unknown state \(String(reflecting: text)); states are \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return state
    }
}
