// JobStore+Lists — what `hopper ls` and the pages read: jobs newest first a page at a time,
// by state, owner, queue, group; counts; a walk over every id in batches.
import GRDB
import HopperCore

extension JobStore {
    /// The columns of a job the pages list (not its plan).
    static let listed = "id, state, queue, owner, uid, priority, workflow, description, submitted_at, updated_at, started_at, grp"

    /// Jobs newest first (in `state`, or all), `limit` of them after the first `offset`: a page
    /// of the spool page's list; each with whether retention removed its outbox entry.
    public func page(state: JobState?, offset: Int, limit: Int) throws -> [(job: JobRecord, outboxRemoved: Bool)] {
        try read { db in
            var sql = "SELECT \(Self.listed), (expired & 2) != 0 AS removed FROM job"
            var args: [any DatabaseValueConvertible] = []
            if let state {
                sql += " WHERE state = ?"
                args.append(state.rawValue)
            }
            sql += " ORDER BY submitted_at DESC, seq DESC LIMIT ? OFFSET ?"
            args.append(limit)
            args.append(offset)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { row in
                (job: try JobRecord(row: row), outboxRemoved: row["removed"])
            }
        }
    }

    /// Ids in the order they were stored, `limit` of them after `seq` (0: from the first), with
    /// the seq to continue from: a walk over every job that holds one batch at a time.
    /// `outboxKept`: only jobs whose outbox entry retention did not remove.
    public func ids(after seq: Int64, limit: Int, outboxKept: Bool = false) throws -> (ids: [String], next: Int64) {
        try read { db in
            let kept = outboxKept ? " AND (expired & 2) = 0" : ""
            let rows = try Row.fetchAll(db, sql: "SELECT seq, id FROM job WHERE seq > ?\(kept) ORDER BY seq LIMIT ?",
                                        arguments: [seq, limit])
            var next = seq
            var ids: [String] = []
            for row in rows {
                next = row["seq"]
                ids.append(row["id"])
            }
            return (ids, next)
        }
    }

    public func job(id: String) throws -> JobRecord? {
        try read { db in try JobRecord.filter(Column("id") == id).fetchOne(db) }
    }

    /// Jobs newest first, optionally filtered by state and owner.
    public func list(state: JobState? = nil, owner: String? = nil, limit: Int? = nil) throws -> [JobRecord] {
        try list(states: state.map { [$0] } ?? [], owner: owner, limit: limit)
    }

    /// Jobs newest first: in any of `states` (all when empty), of `owner`, in `queue`,
    /// submitted at or after `since` (RFC 3339).
    public func list(states: [JobState], owner: String? = nil, queue: String? = nil, since: String? = nil,
                     limit: Int? = nil, group: String? = nil, topLevel: Bool = false) throws -> [JobRecord] {
        try read { db in
            var q = JobRecord.all()
            if let group { q = q.filter(Column("grp") == group) }
            if topLevel { q = q.filter(Column("grp") == nil) }
            if !states.isEmpty { q = q.filter(states.map(\.rawValue).contains(Column("state"))) }
            if let owner { q = q.filter(Column("owner") == owner) }
            if let queue { q = q.filter(Column("queue") == queue) }
            if let since { q = q.filter(Column("submitted_at") >= since) }
            q = q.order(Column("submitted_at").desc, Column("seq").desc)
            if let limit { q = q.limit(limit) }
            return try q.fetchAll(db)
        }
    }

    /// Jobs in any of `states`, counted by (owner, queue): what `hopper ls` weighs against the
    /// caps to say why a pending job waits.
    public func counts(states: [JobState]) throws -> [(owner: String, queue: String, count: Int)] {
        try read { db in
            let marks = states.map { _ in "?" }.joined(separator: ", ")
            let sql = "SELECT owner, queue, COUNT(*) AS n FROM job WHERE state IN (\(marks)) GROUP BY owner, queue"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(states.map(\.rawValue))).map {
                (owner: $0["owner"], queue: $0["queue"], count: $0["n"])
            }
        }
    }

    /// Number of jobs in each state.
    public func countsByState() throws -> [String: Int] {
        try read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                out[row["state"]] = row["n"]
            }
            return out
        }
    }

    public func count() throws -> Int {
        try read { db in try JobRecord.fetchCount(db) }
    }
}
