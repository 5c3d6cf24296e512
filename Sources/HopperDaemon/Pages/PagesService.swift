// PagesService — keeps the static pages up to date (docs/pages.md): `index.html` at the spool
// root (with its filter pages and further pages), `outbox/<id>/index.html` for every job, and
// `rejected/index.html`.
//
// HOW IT LEARNS WHAT CHANGED. Without a word from the job runner: once a second it looks at
// (stat(2)) the status.json and events.jsonl of every job not yet ended, and of a rotating
// slice of ended ones (a rerun or a retention); every 2 s it lists the outbox (new and removed
// jobs), rejected/ and the inbox, and looks at system/status.json. A job whose files changed
// has its page rewritten (so at most once a second); the spool and rejected pages are
// rewritten at most every 2 s, and only when something they show changed. Every page is
// written atomically, and only when its bytes differ from what is there.
//
// SECURITY. Pages are made by HTMLWriter, which escapes every value. Under run_as: owner (the
// daemon is root) files in a job's folder are read without following links, a job's page
// takes the owner and mode of its status.json, and the spool and rejected pages list only the
// jobs and rejected files that every user may read anyway.
//
// DIAGNOSTICS. A page that cannot be written is logged once per page (`page.write_failed`) and
// tried again at the next change; the jobs go on.
import HopperCore
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class PagesService: Service {
    let keeper: Mutex<PagesKeeper>

    /// `ownersOnly`: run_as: owner, where a job's folder may be its owner's alone.
    public init(layout: SpoolLayout, catalog: WorkflowCatalog?, ownersOnly: Bool, logger: Logger) {
        keeper = Mutex(PagesKeeper(layout: layout, catalog: catalog, ownersOnly: ownersOnly, logger: logger))
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await tick(final: false)
            // silent: the sleep ends early on shutdown, which the loop condition sees.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
        await tick(final: true)
    }

    /// One look at the spool, off the concurrency pool. `final`: the daemon is stopping, and
    /// the spool page says so.
    func tick(final: Bool) async {
        await BlockingIO.run { [self] in
            keeper.withLock { $0.tick(now: Timestamp.now(), final: final) }
        }
    }
}

/// The pages' state: what is known of each job and what was last written.
struct PagesKeeper: Sendable {
    /// A file's identity and version as stat(2) sees it.
    struct FileKey: Equatable, Sendable {
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int

        func isNewer(than other: FileKey) -> Bool {
            (seconds, nanoseconds) > (other.seconds, other.nanoseconds)
        }

        static func of(_ path: String) -> FileKey? {
            var st = stat()
            guard Glibc.lstat(path, &st) == 0 else { return nil }
            return FileKey(inode: UInt64(st.st_ino), size: Int64(st.st_size), seconds: Int(st.st_mtim.tv_sec),
                           nanoseconds: Int(st.st_mtim.tv_nsec))
        }
    }

    struct Known: Sendable {
        var summary: JobSummary?
        var status: FileKey?
        var events: FileKey?
        /// Whether every user may read the job's folder (always, unless run_as: owner).
        var isPublic = true
    }

    let layout: SpoolLayout
    let catalog: WorkflowCatalog?
    let ownersOnly: Bool
    let logger: Logger
    var jobs: [String: Known] = [:]
    var ids: [String] = []
    var endedCursor = 0
    var lastListing = -Double.infinity
    var spoolDirty = true
    var rejectedDirty = true
    var system: SystemStatus?
    var systemKey: FileKey?
    var backlog: Int?
    var rejected: [String: RejectedPageItem] = [:]
    var spoolPages: Set<String> = []
    /// What each further spool page listed when it was written (SpoolPage.render).
    var spoolKeys: [String: Int] = [:]
    var files = PageFile()
    var failing: Set<String> = []

    /// Ended jobs looked at per tick (all of them within ids.count / this seconds).
    static let endedPerTick = 1000
    static let listEvery = 2.0

    init(layout: SpoolLayout, catalog: WorkflowCatalog?, ownersOnly: Bool, logger: Logger) {
        self.layout = layout; self.catalog = catalog; self.ownersOnly = ownersOnly; self.logger = logger
    }

    mutating func tick(now: Double, final: Bool) {
        let listing = final || now - lastListing >= Self.listEvery
        if listing {
            lastListing = now
            listOutbox()
        }
        for id in idsToLook() { look(at: id, now: now) }
        guard listing else { return }
        lookAtSystem(final: final)
        countBacklog()
        listRejected()
        if rejectedDirty {
            rejectedDirty = false
            writeRejectedPage(now: now)
        }
        if spoolDirty || final {
            spoolDirty = false
            writeSpoolPages(now: now)
        }
    }

    // MARK: - What changed

    mutating func listOutbox() {
        let names: [String]
        do { names = try FileOps.listDirectory(layout.outbox) } catch {
            logOnce("outbox", "page.list_failed", error)
            return
        }
        let present = Set(names.filter { Names.isValid($0) })
        for id in present where jobs[id] == nil { jobs[id] = Known() }
        for id in jobs.keys where !present.contains(id) {
            jobs[id] = nil
            files.forget(layout.folder(id).page)
            spoolDirty = true
        }
        if ids.count != jobs.count { ids = jobs.keys.sorted() }
    }

    /// Jobs not ended (or not yet read) every time; ended ones a slice at a time.
    mutating func idsToLook() -> [String] {
        var out: [String] = []
        for (id, known) in jobs where known.summary.map({ !$0.state.isTerminal }) ?? true { out.append(id) }
        guard !ids.isEmpty else { return out }
        let count = min(Self.endedPerTick, ids.count)
        for i in 0..<count {
            let id = ids[(endedCursor + i) % ids.count]
            if let s = jobs[id]?.summary, s.state.isTerminal { out.append(id) }
        }
        endedCursor = (endedCursor + count) % ids.count
        return out
    }

    mutating func look(at id: String, now: Double) {
        guard var known = jobs[id] else { return }
        let folder = layout.folder(id)
        let statusKey = FileKey.of(folder.status)
        let eventsKey = FileKey.of(folder.events)
        guard let statusKey, statusKey != known.status || eventsKey != known.events else { return }
        guard let status = folder.readStatus() else { return }   // being accepted, or torn: looked at again next tick
        var st = stat()
        known.isPublic = !ownersOnly || (Glibc.lstat(folder.path, &st) == 0 && st.st_mode & 0o005 == 0o005)
        let summary = JobSummary(status)
        if summary != known.summary { spoolDirty = true }
        known.summary = summary
        let firstLook = known.status == nil
        known.status = statusKey
        known.events = eventsKey
        jobs[id] = known
        // A page a previous daemon wrote after the job's last change is kept (no rewrite of
        // every page at start-up).
        if firstLook, let page = FileKey.of(folder.page), page.isNewer(than: statusKey), eventsKey.map(page.isNewer) ?? true { return }
        writeJobPage(folder, status, now: now)
    }

    mutating func lookAtSystem(final: Bool) {
        let key = FileKey.of(layout.heartbeat)
        if key != systemKey || final {
            systemKey = key
            // silent: a heartbeat being replaced is read again at the next look; none means no daemon.
            system = (try? FileOps.readFile(layout.heartbeat, limit: 1 << 20)).flatMap { try? JSON.decode(SystemStatus.self, from: $0) }
            if final, var s = system {
                s.state = "stopped"
                system = s
            }
            spoolDirty = true
        }
    }

    /// Manifests waiting in the inbox and its queue folders.
    mutating func countBacklog() {
        var n = 0
        // silent: an inbox that cannot be listed shows no backlog.
        let top = (try? FileOps.listDirectory(layout.inbox)) ?? []
        for name in top where !name.hasPrefix(".") {
            if DropNames.isCandidate(name) { n += 1; continue }
            let queue = layout.inbox(queue: name)
            guard FileOps.isDirectory(queue) else { continue }
            // silent: as above.
            for inner in (try? FileOps.listDirectory(queue)) ?? [] where DropNames.isCandidate(inner) { n += 1 }
        }
        if n != backlog {
            backlog = n
            spoolDirty = true
        }
    }

    mutating func listRejected() {
        let folder = RejectedFolder(layout)
        // silent: an unreadable rejected/ shows what was read before.
        guard let names = try? FileOps.listDirectory(folder.path) else { return }
        let errors = Set(names.filter { $0.hasSuffix(RejectedFolder.errorSuffix) })
        var changed = false
        for name in rejected.keys where !errors.contains(name) {
            rejected[name] = nil
            changed = true
        }
        for name in errors where rejected[name] == nil {
            var st = stat()
            let readable = !ownersOnly || (Glibc.lstat(folder.path + "/" + name, &st) == 0 && st.st_mode & 0o004 != 0)
            guard readable, let item = PageSources.rejected(folder, errorFile: name) else { continue }
            rejected[name] = item
            changed = true
        }
        if changed {
            rejectedDirty = true
            spoolDirty = true
        }
    }

    // MARK: - Writing

    mutating func writeJobPage(_ folder: JobFolder, _ status: JobStatus, now: Double) {
        let parts = PageSources.manifestParts(folder, catalog: catalog)
        let data = JobPageData(status: status, events: PageSources.events(folder), params: parts.params,
                               inputs: parts.inputs, failedLogTail: PageSources.failedLogTail(folder, status), now: now)
        write(folder.page, JobPage.render(data), like: folder.status)
    }

    /// Not written while nothing was ever rejected (rejected/ stays empty until something is).
    mutating func writeRejectedPage(now: Double) {
        if rejected.isEmpty && !FileOps.exists(layout.rejectedPage) { return }
        let items = rejected.values.sorted { $0.rejection.time > $1.rejection.time }
        write(layout.rejectedPage, RejectedPage.render(items, now: now), like: nil)
    }

    mutating func writeSpoolPages(now: Double) {
        var list: [JobSummary] = []
        list.reserveCapacity(jobs.count)
        for known in jobs.values where known.isPublic {
            if let s = known.summary { list.append(s) }
        }
        list.sort(by: JobSummary.newerFirst)
        let latest = rejected.values.map(\.rejection).sorted { $0.time > $1.time }
        let data = SpoolPageData(system: system, jobs: list, rejected: Array(latest.prefix(SpoolPage.rejectedShown)),
                                 backlog: backlog, now: now)
        var names: Set<String> = []
        var keys: [String: Int] = [:]
        for page in SpoolPage.render(data, previous: spoolKeys) {
            names.insert(page.name)
            guard let bytes = page.bytes else {
                keys[page.name] = page.key
                continue
            }
            if write(layout.page(page.name), bytes, like: nil) { keys[page.name] = page.key }
        }
        spoolKeys = keys
        for stale in spoolPages.subtracting(names) {
            unlink(layout.page(stale))
            files.forget(layout.page(stale))
        }
        spoolPages = names
    }

    /// Whether the page now holds `bytes`.
    @discardableResult
    mutating func write(_ path: String, _ bytes: [UInt8], like: String?) -> Bool {
        do {
            try files.write(path, bytes, like: like)
            failing.remove(path)
            return true
        } catch {
            logOnce(path, "page.write_failed", error)
            return false
        }
    }

    mutating func logOnce(_ key: String, _ message: Logger.Message, _ error: any Error) {
        guard failing.insert(key).inserted else { return }
        logger.warning(message, metadata: ["path": "\(key)", "error": "\(error)"])
    }
}
