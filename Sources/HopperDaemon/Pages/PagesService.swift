// PagesService — keeps the static pages up to date (docs/pages.md): `index.html` at the spool
// root (with its filter pages and further pages), `outbox/<id>/index.html` for every job, and
// `rejected/index.html`.
//
// HOW IT LEARNS WHAT CHANGED. It is told (PageSignals): the store names every job a write
// added, changed or removed, and each job's runner hands over every status it writes. Once a
// second it takes what gathered and rewrites those jobs' pages (so a job page at most once a
// second). The spool's first pages (the newest jobs of each list, the daemon's health, counts)
// are rewritten at most every 2 s when a job, the heartbeat, the inbox backlog or rejected/
// changed; the further pages (older jobs) at most every `furtherEvery` seconds, and only
// those whose jobs changed. The lists come from the store's indexed queries a page at a time,
// so memory and work do not grow with the number of jobs: it holds the running jobs' latest
// summaries, the ids changed in the last second, and a key per further page. At start it walks
// the store once, a batch per second, and writes the pages that are missing or older than
// their job's status.json (a job that changed while no daemon ran).
//
// SECURITY. Pages are made by HTMLWriter, which escapes every value. Under run_as: owner (the
// daemon is root) files in a job's folder are read without following links, a job's page
// takes the owner and mode of its status.json, and the spool and rejected pages list only the
// jobs and rejected files that every user may read anyway.
//
// DIAGNOSTICS. A page that cannot be written is logged once per page (`page.write_failed`) and
// tried again at the next change; the jobs go on.
import HopperCore
import HopperStore
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class PagesService: Service {
    let keeper: Mutex<PagesKeeper>
    /// Where the pages are made: a thread at a lower priority, so that pages never take CPU
    /// the jobs need (the throughput A/B in docs/benchmarks.md).
    let thread = BackgroundThread(name: "hopper-pages")

    /// `ownersOnly`: run_as: owner, where a job's folder may be its owner's alone;
    /// `detailsPublic`: its folders are readable by every user all the same (job_mode).
    public init(layout: SpoolLayout, store: JobStore, signals: PageSignals, catalog: WorkflowCatalog?,
                ownersOnly: Bool, detailsPublic: Bool, logger: Logger) {
        store.observe { [signals] ids in signals.changed(ids) }
        let keeper = PagesKeeper(layout: layout, store: store, signals: signals, catalog: catalog, ownersOnly: ownersOnly,
                                 detailsPublic: detailsPublic, logger: logger)
        self.keeper = Mutex(keeper)
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await tick(final: false)
            // silent: the sleep ends early on shutdown, which the loop condition sees.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
        await tick(final: true)
        thread.finish()
    }

    /// One round, off the concurrency pool. `final`: the daemon is stopping, and the spool
    /// page says so.
    func tick(final: Bool) async {
        await thread.run { [self] in
            keeper.withLock { $0.tick(now: Timestamp.now(), final: final) }
        }
    }
}

/// The pages' state: what is needed to write the next pages, bounded whatever the backlog.
struct PagesKeeper: Sendable {
    /// A file's identity and version as stat(2) sees it.
    struct FileKey: Equatable, Sendable {
        var seconds: Int
        var nanoseconds: Int

        func isNewer(than other: FileKey) -> Bool {
            (seconds, nanoseconds) > (other.seconds, other.nanoseconds)
        }

        static func of(_ path: String) -> FileKey? {
            var st = stat()
            guard Glibc.lstat(path, &st) == 0 else { return nil }
            return FileKey(seconds: Int(st.st_mtim.tv_sec), nanoseconds: Int(st.st_mtim.tv_nsec))
        }
    }

    let layout: SpoolLayout
    let store: JobStore
    let signals: PageSignals
    let catalog: WorkflowCatalog?
    let ownersOnly: Bool
    let detailsPublic: Bool
    let logger: Logger
    /// Running jobs' latest summaries (progress, current step), from their runners.
    var live: [String: JobSummary] = [:]
    /// Jobs whose page is to be written (those beyond `jobPagesPerTick` wait for the next second).
    var dirty: Set<String> = []
    /// The start-up walk over the store: the seq to continue from; nil when done.
    var sweep: Int64? = 0
    var lastFirst = -Double.infinity
    var lastFurther = -Double.infinity
    var spoolDirty = true
    var furtherDirty = true
    var rejectedDirty = true
    var system: SystemStatus?
    var systemKey: FileKey?
    var backlog: Int?
    var rejected: [String: RejectedPageItem] = [:]
    var spoolPages: Set<String> = []
    /// What each further spool page listed when it was written (SpoolPage.key).
    var spoolKeys: [String: Int] = [:]
    var files = PageFile()
    var failing: Set<String> = []
    /// Groups whose children changed at or after this time get their page written (""
    /// at start: every group once).
    var groupsSince = ""

    static let firstEvery = 2.0
    static let furtherEvery = 30.0
    static let jobPagesPerTick = 2000
    /// Job pages waiting at most; beyond, they are found again by a walk over the store.
    static let dirtyCap = 20_000
    static let sweepBatch = 5000

    init(layout: SpoolLayout, store: JobStore, signals: PageSignals, catalog: WorkflowCatalog?, ownersOnly: Bool,
         detailsPublic: Bool, logger: Logger) {
        self.layout = layout; self.store = store; self.signals = signals; self.catalog = catalog
        self.ownersOnly = ownersOnly; self.detailsPublic = detailsPublic; self.logger = logger
        // The spool pages already there (an earlier daemon's): those no list has any more
        // (fewer jobs, or pages past the last a list has) are removed at the first full round.
        // silent: an unreadable root only means none are known; the pages are written anew.
        spoolPages = Set(((try? FileOps.listDirectory(layout.root)) ?? []).filter(SpoolPage.isPageName))
    }

    mutating func tick(now: Double, final: Bool) {
        let news = signals.take()
        if !news.isEmpty {
            spoolDirty = true
            furtherDirty = true
        }
        for (id, summary) in news.live {
            live[id] = summary.state == .running ? summary : nil
        }
        dirty.formUnion(news.ids)
        if dirty.count > Self.dirtyCap {
            // The pages fall behind the jobs (more change each second than a tick writes):
            // rather than hold an id per job, forget them and walk the store again, which
            // finds every page missing or older than its job's status.
            logger.notice("pages.behind", metadata: ["pages.pending": "\(dirty.count)"])
            dirty.removeAll()
            sweep = 0
            // The running summaries of jobs whose ids were forgotten would stay for good (an
            // entry goes when its job's page is written): the runners send them again.
            live.removeAll()
        }
        if let from = sweep { sweep = walk(from: from) }
        writeJobPages(now: now)
        guard final || now - lastFirst >= Self.firstEvery else { return }
        lastFirst = now
        lookAtSystem(final: final)
        countBacklog()
        listRejected()
        writeGroupPages(now: now)
        if rejectedDirty {
            rejectedDirty = false
            writeRejectedPage(now: now)
        }
        let further = furtherDirty && (final || now - lastFurther >= Self.furtherEvery)
        guard spoolDirty || further || final else { return }
        guard let data = spoolData(now: now) else { return }
        spoolDirty = false
        if further {
            lastFurther = now
            furtherDirty = false
        }
        writeSpoolPages(data, further: further)
    }

    // MARK: - Job pages

    /// One batch of the start-up walk: jobs whose page is missing or older than their status.
    mutating func walk(from seq: Int64) -> Int64? {
        // At most as many as there is room for among the pages waiting: the rest at a later tick.
        let room = min(Self.sweepBatch, Self.dirtyCap / 2 - dirty.count)
        guard room > 0 else { return seq }
        guard let batch = store.logged("pages walk", logger: logger, { try $0.ids(after: seq, limit: room) }) else { return nil }
        for id in batch.ids {
            let folder = layout.folder(id)
            guard let status = FileKey.of(folder.status) else { continue }
            let page = FileKey.of(folder.page)
            let events = FileKey.of(folder.events)
            let current = page.map { p in p.isNewer(than: status) && (events.map(p.isNewer) ?? true) } ?? false
            if !current { dirty.insert(id) }
        }
        return batch.ids.count < room ? nil : batch.next
    }

    mutating func writeJobPages(now: Double) {
        var done = 0
        while done < Self.jobPagesPerTick, let id = dirty.popFirst() {
            done += 1
            let folder = layout.folder(id)
            guard let status = folder.readStatus() else {
                live[id] = nil   // gone (retention, clean of the outbox) or torn: a later change writes it
                continue
            }
            if status.state != .running { live[id] = nil }
            writeJobPage(folder, status, now: now)
        }
    }

    mutating func writeJobPage(_ folder: JobFolder, _ status: JobStatus, now: Double) {
        let parts = PageSources.manifestParts(folder, catalog: catalog)
        let data = JobPageData(status: status, events: PageSources.events(folder), params: parts.params,
                               inputs: parts.inputs, failedLogTail: PageSources.failedLogTail(folder, status), now: now)
        let written = write(folder.page, JobPage.render(data), like: folder.status, remember: false)
        // An ended job's folder is an RO-Crate (docs/provenance.md): its page is the crate's
        // preview too, by a relative link that stays right when the page is replaced and in a
        // copy of the folder. One already there (an earlier end) is left as it is.
        if written && status.state.isTerminal && !FileOps.exists(folder.cratePreview) {
            _ = symlink(SpoolLayout.pageName, folder.cratePreview)   // EEXIST: already there
        }
    }

    // MARK: - Group pages

    /// The pages of the groups whose jobs changed since the last look (every 2 s at most).
    mutating func writeGroupPages(now: Double) {
        guard let changed = store.logged("pages groups", logger: logger, { try $0.groupsChanged(since: groupsSince) }) else { return }
        // Two seconds back: a change stored in the same second as the look is seen again.
        let next = Timestamp.rfc3339(now - 2)
        for id in changed {
            let folder = layout.folder(id)
            // silent: a group whose status is gone (clean, retention) is written at its next change.
            guard let bytes = try? FileOps.readFile(folder.status, limit: 64 << 20) else { continue }
            // silent: its status is replaced by renames, so one that does not decode is not a group's.
            guard var status = try? JSON.decode(GroupStatus.self, from: bytes) else { continue }
            // Counted in the store (GroupStatusService may not have written the latest yet); only
            // the jobs the page lists are read.
            guard let tally = store.logged("pages group counts", logger: logger, { try $0.groupTally(id) }) else { return }
            // The latest change of a job is the group's: when it ended, if it did.
            status.update(counts: tally.counts, at: tally.latest ?? status.updatedAt)
            guard let records = store.logged("pages group jobs", logger: logger, {
                try $0.children(of: id, needingALookFirst: GroupPage.shown)
            }) else { return }
            let data = GroupPageData(status: status, jobs: records.map(summary), total: status.children.count, now: now)
            _ = write(folder.page, GroupPage.render(data), like: folder.status, remember: false)
        }
        groupsSince = next
    }

    // MARK: - What the spool page shows

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

    /// Not written while nothing was ever rejected (rejected/ stays empty until something is).
    mutating func writeRejectedPage(now: Double) {
        if rejected.isEmpty && !FileOps.exists(layout.rejectedPage) { return }
        let items = rejected.values.sorted { $0.rejection.time > $1.rejection.time }
        write(layout.rejectedPage, RejectedPage.render(items, now: now), like: nil)
    }

    /// The counts, heartbeat, backlog and latest rejections; nil when the store cannot be read.
    func spoolData(now: Double) -> SpoolPageData? {
        guard let raw = store.logged("pages counts", logger: logger, { try $0.countsByState() }) else { return nil }
        var counts: [JobState: Int] = [:]
        for (name, n) in raw {
            if let state = JobState(rawValue: name) { counts[state] = n }
        }
        let latest = rejected.values.map(\.rejection).sorted { $0.time > $1.time }
        return SpoolPageData(system: system, counts: counts, rejected: Array(latest.prefix(SpoolPage.rejectedShown)),
                             backlog: backlog, groups: latestGroups(), now: now)
    }

    /// The latest groups with their jobs counted by state: two queries, no job row loaded.
    func latestGroups() -> [GroupSummary] {
        guard let records = store.logged("pages latest groups", logger: logger, { try $0.groups(limit: SpoolPage.groupsShown) }),
              !records.isEmpty else { return [] }
        let counts = store.logged("pages group counts", logger: logger) { try $0.groupCounts(records.map(\.id)) } ?? [:]
        return records.map { GroupSummary(id: $0.id, owner: $0.owner, submittedAt: $0.submittedAt, size: $0.size, counts: counts[$0.id] ?? [:]) }
    }

    /// A row of the list: what the store holds, with a running job's progress and step.
    func summary(_ r: JobRecord) -> JobSummary {
        if detailsPublic, r.state == .running, let s = live[r.id] { return s }
        let progress: Double? = r.state == .completed ? 1 : (r.state.isTerminal ? nil : 0)
        let finished = r.state.isTerminal ? r.updatedAt : nil
        return JobSummary(id: r.id, state: r.state, progress: progress, currentStep: nil, owner: r.owner, queue: r.queue,
                          workflow: r.workflow, submittedAt: r.submittedAt, startedAt: r.startedAt, finishedAt: finished)
    }

    /// The first page of every list; with `further`, the further pages whose jobs changed.
    mutating func writeSpoolPages(_ data: SpoolPageData, further: Bool) {
        var names: Set<String> = []
        for filter in SpoolPage.filters {
            let pages = SpoolPage.pageCount(data, filter: filter)
            let last = further ? pages : 1
            for page in 1...last {
                let name = SpoolPage.fileName(state: filter, page: page)
                names.insert(name)
                let offset = (page - 1) * SpoolPage.jobsPerPage
                let rows = store.logged("pages list", logger: logger) {
                    try $0.page(state: filter, offset: offset, limit: SpoolPage.jobsPerPage)
                }
                guard let rows else { return }
                let jobs = rows.map { row in
                    var job = summary(row.job)
                    job.removed = row.outboxRemoved
                    return job
                }
                if page > 1 {
                    let key = SpoolPage.key(data, filter: filter, page: page, jobs: jobs)
                    if spoolKeys[name] == key { continue }
                    if write(layout.page(name), SpoolPage.renderPage(data, filter: filter, page: page, jobs: jobs), like: nil) {
                        spoolKeys[name] = key
                    }
                } else {
                    write(layout.page(name), SpoolPage.renderPage(data, filter: filter, page: page, jobs: jobs), like: nil)
                }
            }
            if !further {
                // Further pages are kept as they are until their turn.
                for page in stride(from: 2, through: pages, by: 1) { names.insert(SpoolPage.fileName(state: filter, page: page)) }
            }
        }
        for stale in spoolPages.subtracting(names) {
            unlink(layout.page(stale))
            files.forget(layout.page(stale))
            spoolKeys[stale] = nil
        }
        spoolPages = names
    }

    /// Whether the page now holds `bytes`.
    @discardableResult
    mutating func write(_ path: String, _ bytes: [UInt8], like: String?, remember: Bool = true) -> Bool {
        do {
            try files.write(path, bytes, like: like, remember: remember)
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
