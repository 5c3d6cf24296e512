// JobStore — the daemon's private index of jobs, SQLite through GRDB (WAL) in `state/`.
//
// The spool is the truth: a job exists when `outbox/<id>/` does. The store is an index of it
// that makes `hopper ls` fast with 100k jobs and holds what the scheduler needs. At start-up
// the daemon reconciles it with the outbox (`reconcile`), so a store lost or behind after a
// crash is rebuilt, never believed over the files.
//
// CONFIGURATION: the database file is `<state>/hopper.sqlite`; `state/` must be on local disk
// (SQLite's locking is unreliable on NFS); the daemon checks that before opening it.
import GRDB
import HopperCore
import Synchronization

public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job"

    public var id: String
    public var state: JobState
    public var queue: String
    public var owner: String
    public var uid: Int64
    public var priority: Int
    public var workflow: String?
    public var description: String?
    public var submittedAt: String
    public var updatedAt: String
    /// A group's child: the group's id.
    public var group: String?
    /// When the job last started running (nil while it never has).
    public var startedAt: String?

    public init(id: String, state: JobState, queue: String, owner: String, uid: Int64, priority: Int,
                workflow: String?, description: String?, submittedAt: String, updatedAt: String? = nil, group: String? = nil) {
        self.id = id; self.state = state; self.queue = queue; self.owner = owner; self.uid = uid
        self.priority = priority; self.workflow = workflow; self.description = description
        self.submittedAt = submittedAt; self.updatedAt = updatedAt ?? submittedAt; self.group = group
    }

    public init(status: JobStatus, uid: Int64) {
        self.init(id: status.id, state: status.state, queue: status.queue, owner: status.owner, uid: uid,
                  priority: status.priority, workflow: status.workflow, description: status.description,
                  submittedAt: status.submittedAt, updatedAt: Timestamp.rfc3339(), group: status.group)
        startedAt = status.startedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, state, queue, owner, uid, priority, workflow, description
        case submittedAt = "submitted_at", updatedAt = "updated_at", group = "grp", startedAt = "started_at"
    }
}

public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// A store that failed: what failed, and since when (the first failure of the spell).
public struct StoreProblem: Sendable, Equatable {
    public var message: String
    public var since: Double
}

public final class JobStore: Sendable {
    public let path: String
    private let writer: any DatabaseWriter
    private let reader: any DatabaseReader
    private let health = Mutex<StoreProblem?>(nil)
    private let observers = Mutex<[@Sendable ([String]) -> Void]>([])

    /// `observer` hears the ids of the jobs each write added, changed or removed (after the
    /// write; on the writer's thread, so it must be quick): how the pages learn what changed.
    public func observe(_ observer: @escaping @Sendable ([String]) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    func changed(_ ids: [String]) {
        let list = observers.withLock { $0 }
        for observer in list { observer(ids) }
    }

    /// Set by any failed call (read-only, full, corrupt) and cleared by the next write that
    /// works: the daemon pauses intake and says so in its heartbeat while it is set.
    public var problem: StoreProblem? { health.withLock { $0 } }

    /// A write that changes nothing of the jobs: does the store take writes (again)?
    public func probe() throws {
        try write { db in try db.execute(sql: "INSERT OR REPLACE INTO probe(id, at) VALUES (1, ?)", arguments: [Timestamp.rfc3339()]) }
    }

    func write<T>(_ updates: (Database) throws -> T) throws -> T {
        do {
            let result = try writer.write(updates)
            health.withLock { $0 = nil }
            return result
        } catch {
            note(error)
            throw error
        }
    }

    func read<T>(_ value: (Database) throws -> T) throws -> T {
        do { return try reader.read(value) } catch {
            note(error)
            throw error
        }
    }

    private func note(_ error: any Error) {
        let message = "\(error)"
        health.withLock { p in
            if p == nil { p = StoreProblem(message: message, since: Timestamp.now()) } else { p!.message = message }
        }
    }

    /// Opens (and migrates) the store for the daemon.
    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        config.label = "hopper.store"
        config.busyMode = .timeout(10)
        // Memory bounded by design: SQLite's page cache is per connection (2 MB by default)
        // and fills as the store grows; a writer and two readers with 512 KiB each. The
        // store's queries are indexed, and what misses the cache is in the OS's page cache.
        config.maximumReaderCount = 2
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -512")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(pool)
        writer = pool
        reader = pool
    }

    /// Opens the store read-only (the CLI). Throws when there is no store at `path`.
    public init(readOnlyPath path: String) throws {
        self.path = path
        guard FileOps.exists(path) else { throw StoreError(message: "no store at \(path)") }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: config)
        reader = queue
        writer = queue
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: jobs") { db in
            try db.create(table: "job") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("id", .text).notNull().unique()
                t.column("state", .text).notNull()
                t.column("queue", .text).notNull()
                t.column("owner", .text).notNull()
                t.column("uid", .integer).notNull()
                t.column("priority", .integer).notNull()
                t.column("workflow", .text)
                t.column("description", .text)
                t.column("submitted_at", .text).notNull()
                t.column("updated_at", .text).notNull()
            }
            try db.create(index: "job_by_time", on: "job", columns: ["submitted_at", "seq"])
            try db.create(index: "job_by_state", on: "job", columns: ["state", "submitted_at"])
            try db.create(index: "job_by_owner", on: "job", columns: ["owner", "submitted_at"])
        }
        m.registerMigration("v2: plans") { db in
            // The resolved manifest (workflow steps as they were at acceptance), as JSON.
            try db.alter(table: "job") { t in t.add(column: "plan", .text) }
        }
        m.registerMigration("v3: retention") { db in
            // What retention removed: bit 1 the workspace, bit 2 the outbox entry. A job whose
            // outbox entry is gone keeps its row, so its id stays taken (a re-drop never runs).
            try db.alter(table: "job") { t in t.add(column: "expired", .integer).notNull().defaults(to: 0) }
        }
        m.registerMigration("v4: probe") { db in
            // One row the daemon rewrites to learn whether a store that failed takes writes again.
            try db.create(table: "probe") { t in
                t.column("id", .integer).primaryKey()
                t.column("at", .text)
            }
        }
        m.registerMigration("v5: pending buckets") { db in
            // The scheduler pages each (priority, owner) bucket of pending jobs in FIFO order.
            try db.create(index: "job_pending", on: "job", columns: ["state", "priority", "owner", "updated_at", "seq"])
        }
        m.registerMigration("v6: started") { db in
            // When a job last started running: the pages' elapsed and total times, from the store.
            try db.alter(table: "job") { t in t.add(column: "started_at", .text) }
        }
        m.registerMigration("v7: groups") { db in
            // A group's children carry its id; the group itself is a row of job_group.
            try db.alter(table: "job") { t in t.add(column: "grp", .text) }
            try db.create(index: "job_by_group", on: "job", columns: ["grp", "seq"])
            try db.create(index: "job_by_update", on: "job", columns: ["updated_at"])
            try db.create(table: "job_group") { t in
                t.column("id", .text).primaryKey()
                t.column("owner", .text).notNull()
                t.column("uid", .integer).notNull()
                t.column("queue", .text).notNull()
                t.column("submitted_at", .text).notNull()
                t.column("size", .integer).notNull()
            }
        }
        return m
    }

    /// Each of `ids` that is a job, with its state and owner's uid.
    public func states(of ids: [String]) throws -> [String: (state: JobState, uid: Int64)] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var out: [String: (state: JobState, uid: Int64)] = [:]
            for r in try JobRecord.filter(ids.contains(Column("id"))).fetchAll(db) { out[r.id] = (r.state, r.uid) }
            return out
        }
    }

    /// Inserts accepted jobs in one transaction. An id already present is replaced (reconcile).
    /// `plans` holds the resolved manifest of each job, as JSON.
    public func insert(_ records: [JobRecord], plans: [String: String] = [:]) throws {
        guard !records.isEmpty else { return }
        try write { db in
            for r in records {
                try r.upsert(db)
                if let plan = plans[r.id] {
                    try db.cachedStatement(sql: "UPDATE job SET plan = ? WHERE id = ?").execute(arguments: [plan, r.id])
                }
            }
        }
        changed(records.map(\.id))
    }

    public func plan(id: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT plan FROM job WHERE id = ?", arguments: [id]) }
    }

    /// Ids of jobs in `states` whose stored plan (JSON) has the top-level key `key`, in one
    /// query: a prefilter, so start-up need not fetch and decode every pending job's plan.
    public func ids(inStates states: [JobState], withPlanKey key: String) throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, JobRecord.select(Column("id"))
                .filter(states.map(\.rawValue).contains(Column("state")))
                .filter(Column("plan").like("%\"\(key)\":%"))))
        }
    }

    public func setPlan(id: String, plan: String) throws {
        try write { db in try db.execute(sql: "UPDATE job SET plan = ? WHERE id = ?", arguments: [plan, id]) }
    }

    /// Records a job's new state. A job that runs again (retry, rerun) has a workspace again.
    public func setState(id: String, state: JobState) throws {
        try write { db in
            // A cached statement: parsed once, not for each of the two state changes of every job.
            let now = Timestamp.rfc3339()
            let sql = "UPDATE job SET state = ?, updated_at = ?, expired = CASE WHEN ? THEN expired ELSE expired & 2 END, "
                + "started_at = CASE WHEN ? THEN ? ELSE started_at END WHERE id = ?"
            try db.cachedStatement(sql: sql).execute(arguments: [state.rawValue, now, state.isTerminal, state == .running, now, id])
        }
        changed([id])
    }

    /// What retention removes: `workspace` (bit 1) or the outbox entry (bit 2).
    public enum Expiry: Int, Sendable {
        case workspace = 1, outbox = 2
    }

    /// Finished jobs whose last change is older than `cutoff` (RFC 3339) and whose `what` is not
    /// yet removed, oldest first, at most `limit`.
    public func expiryCandidates(_ what: Expiry, before cutoff: String, limit: Int = 1000) throws -> [String] {
        let terminal = [JobState.completed, .failed, .cancelled].map(\.rawValue)
        return try read { db in
            try String.fetchAll(db, sql: """
                SELECT id FROM job WHERE state IN (?, ?, ?) AND updated_at < ? AND (expired & ?) = 0
                ORDER BY updated_at LIMIT ?
                """, arguments: [terminal[0], terminal[1], terminal[2], cutoff, what.rawValue, limit])
        }
    }

    public func markExpired(id: String, _ what: Expiry) throws {
        try write { db in
            try db.execute(sql: "UPDATE job SET expired = expired | ? WHERE id = ?", arguments: [what.rawValue, id])
        }
        // The spool pages stop linking to an outbox entry that is gone.
        if what == .outbox { changed([id]) }
    }

    /// Whether retention removed the job's outbox entry (its row stays to keep the id taken).
    public func outboxExpired(id: String) throws -> Bool {
        try read { db in
            (try Int.fetchOne(db, sql: "SELECT expired FROM job WHERE id = ?", arguments: [id]) ?? 0) & 2 != 0
        }
    }

    /// How many jobs wait in each (priority, owner) bucket of `state` (the scheduler's start-up).
    public func buckets(in state: JobState) throws -> [(priority: Int, owner: String, count: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT priority, owner, COUNT(*) AS n FROM job WHERE state = ? GROUP BY priority, owner",
                             arguments: [state.rawValue])
                .map { (priority: $0["priority"], owner: $0["owner"], count: $0["n"]) }
        }
    }

    /// The next `limit` jobs of a bucket in `state`, in the order they were queued (last
    /// change, then insertion), skipping `excluded` ids.
    public func bucket(_ state: JobState, priority: Int, owner: String, limit: Int, excluding excluded: Set<String>) throws -> [JobRecord] {
        try read { db in
            let rows = try JobRecord
                .filter(Column("state") == state.rawValue && Column("priority") == priority && Column("owner") == owner)
                .order(Column("updated_at"), Column("seq"))
                .limit(limit + excluded.count)
                .fetchAll(db)
            return Array(rows.filter { !excluded.contains($0.id) }.prefix(limit))
        }
    }

    /// For each of `ids` that is pending: how many pending jobs of its (priority, owner) bucket
    /// come before it in the order the scheduler takes them (`bucket`'s: last change, then
    /// insertion). `hopper ls` makes a queue position of it (StartOrder).
    public func pendingRanks(ids: [String]) throws -> [String: Int] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var out: [String: Int] = [:]
            let sql = """
                SELECT COUNT(j.id) AS n FROM job me JOIN job j
                  ON j.state = me.state AND j.priority = me.priority AND j.owner = me.owner
                 AND (j.updated_at < me.updated_at OR (j.updated_at = me.updated_at AND j.seq < me.seq))
                WHERE me.id = ? AND me.state = ?
                """
            for id in ids {
                let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job WHERE id = ? AND state = ?",
                                               arguments: [id, JobState.pending.rawValue]) ?? 0
                guard pending > 0 else { continue }
                out[id] = try Int.fetchOne(db, sql: sql, arguments: [id, JobState.pending.rawValue]) ?? 0
            }
            return out
        }
    }

    /// Jobs in the given states, oldest first (the scheduler's start-up load).
    public func jobs(inStates states: [JobState]) throws -> [JobRecord] {
        try read { db in
            try JobRecord.filter(states.map(\.rawValue).contains(Column("state")))
                .order(Column("submitted_at"), Column("seq")).fetchAll(db)
        }
    }

    public func contains(id: String) throws -> Bool {
        try read { db in try JobRecord.filter(Column("id") == id).fetchCount(db) > 0 }
    }

    /// The ids among `ids` that the store already knows.
    public func existing(_ ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try read { db in
            // In slices: SQLite takes at most 32,766 parameters in a statement (a group's children).
            var found = Set<String>()
            for start in stride(from: 0, to: ids.count, by: 10_000) {
                let slice = Array(ids[start..<min(start + 10_000, ids.count)])
                found.formUnion(try String.fetchAll(db, JobRecord.select(Column("id")).filter(slice.contains(Column("id")))))
            }
            return found
        }
    }

    /// Every job's id (tests; the daemon reads the whole store only a page at a time).
    public func allIDs() throws -> Set<String> {
        try read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM job")) }
    }

    /// Ids of the jobs whose outbox entry retention did not remove and that `present` does not
    /// hold, read 10,000 rows at a time: memory follows `present` (the outbox) and what is
    /// missing, not the store, which keeps a row for every job ever run.
    public func indexedIDs(notIn present: Set<String>) throws -> [String] {
        var missing: [String] = []
        var after: Int64 = 0
        while true {
            let batch = try ids(after: after, limit: 10_000, outboxKept: true)
            missing += batch.ids.filter { !present.contains($0) }
            guard batch.ids.count == 10_000 else { return missing }
            after = batch.next
        }
    }

    public func delete(ids: [String]) throws {
        guard !ids.isEmpty else { return }
        try write { db in _ = try JobRecord.filter(ids.contains(Column("id"))).deleteAll(db) }
        changed(ids)
    }

}
