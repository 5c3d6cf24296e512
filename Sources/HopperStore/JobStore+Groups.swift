// JobStore+Groups — groups (a manifest with `foreach:`) in the store: a row of `job_group` per
// group, its children jobs whose `grp` is its id, inserted in one transaction.
import GRDB
import HopperCore

/// A group (a manifest with `foreach:`): its children are jobs whose `grp` is its id.
public struct GroupRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job_group"
    public var id: String
    public var owner: String
    public var uid: Int64
    public var queue: String
    public var submittedAt: String
    public var size: Int

    public init(id: String, owner: String, uid: Int64, queue: String, submittedAt: String, size: Int) {
        self.id = id; self.owner = owner; self.uid = uid; self.queue = queue; self.submittedAt = submittedAt; self.size = size
    }

    enum CodingKeys: String, CodingKey {
        case id, owner, uid, queue, size, submittedAt = "submitted_at"
    }
}

extension JobStore {
    /// Inserts a group and its children in one transaction (so a group is in the store with
    /// all its children or not at all).
    public func insertGroup(_ group: GroupRecord, children: [JobRecord], plans: [String: String]) throws {
        try write { db in
            // One prepared statement for every child (10,000 rows in well under a second).
            let insert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO job (id, state, queue, owner, uid, priority, workflow, description, submitted_at, updated_at, grp, plan)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for r in children {
                let values: [(any DatabaseValueConvertible)?] = [r.id, r.state.rawValue, r.queue, r.owner, r.uid, r.priority, r.workflow,
                                                                 r.description, r.submittedAt, r.updatedAt, r.group, plans[r.id]]
                try insert.execute(arguments: StatementArguments(values))
            }
            try group.upsert(db)
        }
    }

    /// Groups newest first, of `owner`, in `queue`, submitted at or after `since`.
    public func groups(owner: String? = nil, queue: String? = nil, since: String? = nil, limit: Int? = nil) throws -> [GroupRecord] {
        try read { db in
            var q = GroupRecord.all()
            if let owner { q = q.filter(Column("owner") == owner) }
            if let queue { q = q.filter(Column("queue") == queue) }
            if let since { q = q.filter(Column("submitted_at") >= since) }
            q = q.order(Column("submitted_at").desc, Column("id").desc)
            if let limit { q = q.limit(limit) }
            return try q.fetchAll(db)
        }
    }

    public func group(id: String) throws -> GroupRecord? {
        try read { db in try GroupRecord.fetchOne(db, key: id) }
    }

    public func allGroupIDs() throws -> Set<String> {
        try read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM job_group")) }
    }

    /// The ids among `ids` that are groups.
    public func existingGroups(_ ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try read { db in
            var found = Set<String>()
            for start in stride(from: 0, to: ids.count, by: 10_000) {
                let slice = Array(ids[start..<min(start + 10_000, ids.count)])
                found.formUnion(try String.fetchAll(db, GroupRecord.select(Column("id")).filter(slice.contains(Column("id")))))
            }
            return found
        }
    }

    /// A group's children, in the order they were accepted.
    public func children(of group: String) throws -> [JobRecord] {
        try read { db in try JobRecord.filter(Column("grp") == group).order(Column("seq")).fetchAll(db) }
    }

    /// The first `limit` children of `group` in the order its page lists them: those that need
    /// a look first (failed, cancelled, running, queued, waiting, pending), completed last; the
    /// sheet's order within a state (GroupPage.rank).
    public func children(of group: String, needingALookFirst limit: Int) throws -> [JobRecord] {
        try read { db in
            try JobRecord.fetchAll(db, sql: """
                SELECT * FROM job WHERE grp = ?
                ORDER BY CASE state WHEN 'failed' THEN 0 WHEN 'cancelled' THEN 1 WHEN 'running' THEN 2 WHEN 'queued' THEN 3
                                    WHEN 'waiting' THEN 4 WHEN 'pending' THEN 5 WHEN 'completed' THEN 6 ELSE 7 END, seq
                LIMIT ?
                """, arguments: [group, limit])
        }
    }

    /// A group's children counted by state, and the latest change of any of them (aggregates
    /// only: no row of a 10,000-job group is loaded).
    public func groupTally(_ group: String) throws -> (counts: [String: Int], latest: String?) {
        try read { db in
            var counts: [String: Int] = [:]
            var latest: String?
            let sql = "SELECT state, COUNT(*) AS n, MAX(updated_at) AS latest FROM job WHERE grp = ? GROUP BY state"
            for row in try Row.fetchAll(db, sql: sql, arguments: [group]) {
                let state: String = row["state"]
                counts[state] = row["n"]
                if let t: String = row["latest"], t > (latest ?? "") { latest = t }
            }
            return (counts, latest)
        }
    }

    /// The children of each of `groups`, counted by state.
    public func groupCounts(_ groups: [String]) throws -> [String: [String: Int]] {
        guard !groups.isEmpty else { return [:] }
        return try read { db in
            var out: [String: [String: Int]] = [:]
            let marks = groups.map { _ in "?" }.joined(separator: ", ")
            let sql = "SELECT grp, state, COUNT(*) AS n FROM job WHERE grp IN (\(marks)) GROUP BY grp, state"
            for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(groups)) {
                let g: String = row["grp"]
                let st: String = row["state"]
                out[g, default: [:]][st] = row["n"]
            }
            return out
        }
    }

    /// Groups with a child changed at or after `since` (RFC 3339).
    public func groupsChanged(since: String) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT grp FROM job WHERE grp IS NOT NULL AND updated_at >= ?", arguments: [since])
        }
    }
}
