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
