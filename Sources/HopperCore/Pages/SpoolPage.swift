// SpoolPage — `index.html` at the spool root: the daemon's health, intake, free space, jobs
// by state, the inbox backlog, the jobs newest first and the latest rejected files.
//
// Filters work without JavaScript: each is a page of its own (`index-failed.html`, …), and
// older jobs are on further pages (`index-2.html`, `index-failed-2.html`, …) of
// `jobsPerPage` rows, so that no page grows past a few hundred kilobytes however many jobs
// the spool holds. A list has at most `maxPages` pages (its newest 100,000 jobs): the last
// one counts the older jobs it does not list, so that the pages' files and the work of keeping
// them stay bounded when the store holds millions of jobs.

/// One row of the job list: what `hopper ls` shows.
public struct JobSummary: Sendable, Hashable {
    public var id: String
    public var state: JobState
    /// nil: not known from the store (an ended job that did not complete); shown empty.
    public var progress: Double?
    public var currentStep: String?
    public var owner: String
    public var queue: String
    public var workflow: String?
    public var submittedAt: String
    public var startedAt: String?
    public var finishedAt: String?
    /// Retention removed its outbox entry: listed without a link to a page that is gone.
    public var removed = false

    public init(_ s: JobStatus) {
        id = s.id; state = s.state; progress = s.progress; currentStep = s.currentStep; owner = s.owner
        queue = s.queue; workflow = s.workflow; submittedAt = s.submittedAt; startedAt = s.startedAt
        finishedAt = s.finishedAt
    }

    public init(id: String, state: JobState, progress: Double?, currentStep: String?, owner: String, queue: String,
                workflow: String?, submittedAt: String, startedAt: String?, finishedAt: String?) {
        self.id = id; self.state = state; self.progress = progress; self.currentStep = currentStep; self.owner = owner
        self.queue = queue; self.workflow = workflow; self.submittedAt = submittedAt; self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    /// Newest first: later submissions, then ids in reverse order.
    public static func newerFirst(_ a: JobSummary, _ b: JobSummary) -> Bool {
        if a.submittedAt != b.submittedAt { return a.submittedAt > b.submittedAt }
        return a.id > b.id
    }
}

/// One row of the spool page's latest groups: what `hopper ls` shows on a group's line.
public struct GroupSummary: Sendable, Hashable {
    public var id: String
    public var owner: String
    public var submittedAt: String
    /// How many jobs the group has.
    public var size: Int
    /// Its jobs by state (state name → count).
    public var counts: [String: Int]

    public init(id: String, owner: String, submittedAt: String, size: Int, counts: [String: Int]) {
        self.id = id; self.owner = owner; self.submittedAt = submittedAt; self.size = size; self.counts = counts
    }

    public var state: JobState { GroupStatus.state(of: counts) }

    /// The share of its jobs that ended.
    public var progress: Double {
        let ended = [JobState.completed, .failed, .cancelled].reduce(0) { $0 + (counts[$1.rawValue] ?? 0) }
        return size == 0 ? 1 : Double(ended) / Double(size)
    }
}

public struct SpoolPageData: Sendable {
    /// `system/status.json`; nil when there is none (no daemon ever ran, or it is unreadable).
    public var system: SystemStatus?
    /// The number of jobs in each state (the filters' counts, and how many further pages).
    public var counts: [JobState: Int]
    /// The latest rejections, newest first.
    public var rejected: [Rejection]
    /// Manifests in the inbox not yet taken.
    public var backlog: Int?
    /// The latest groups, newest first (at most `SpoolPage.groupsShown`).
    public var groups: [GroupSummary]
    public var now: Double

    public init(system: SystemStatus?, counts: [JobState: Int], rejected: [Rejection] = [], backlog: Int? = nil,
                groups: [GroupSummary] = [], now: Double = Timestamp.now()) {
        self.system = system; self.counts = counts; self.rejected = rejected; self.backlog = backlog
        self.groups = groups; self.now = now
    }

    /// Jobs in the list `filter` (nil: all).
    public func count(_ filter: JobState?) -> Int {
        if let filter { return counts[filter] ?? 0 }
        return counts.values.reduce(0, +)
    }

    /// Whether any job is not yet ended (the first pages then refresh themselves).
    public var isActive: Bool { counts.contains { !$0.key.isTerminal && $0.value > 0 } }
}

public enum SpoolPage {
    public static let jobsPerPage = 1000
    /// Pages of one list at most: its newest `maxPages * jobsPerPage` jobs.
    public static let maxPages = 100
    public static let rejectedShown = 10
    public static let groupsShown = 10

    /// The file name of page `page` (1-based) of the list filtered by `state` (nil: all jobs).
    public static func fileName(state: JobState?, page: Int) -> String {
        var name = "index"
        if let state { name += "-" + state.rawValue }
        if page > 1 { name += "-" + String(page) }
        return name + ".html"
    }

    /// Whether `name` is one of the spool pages' names (`fileName` of some list and page).
    public static func isPageName(_ name: String) -> Bool {
        guard name.hasPrefix("index"), name.hasSuffix(".html") else { return false }
        let middle = name.dropFirst(5).dropLast(5)
        if middle.isEmpty { return true }
        guard middle.first == "-" else { return false }
        let parts = middle.dropFirst().split(separator: "-", omittingEmptySubsequences: false)
        func isPage(_ s: Substring) -> Bool { (Int(s) ?? 0) >= 2 && String(Int(s) ?? 0) == s }
        switch parts.count {
        case 1: return JobState(rawValue: String(parts[0])) != nil || isPage(parts[0])
        case 2: return JobState(rawValue: String(parts[0])) != nil && isPage(parts[1])
        default: return false
        }
    }

    /// The lists: all jobs, then one per state.
    public static let filters: [JobState?] = [nil] + JobState.allCases.map { Optional($0) }

    /// Pages of the list `filter` (at least one, which may say "No jobs.").
    public static func pageCount(_ data: SpoolPageData, filter: JobState?) -> Int {
        min(maxPages, max(1, (data.count(filter) + jobsPerPage - 1) / jobsPerPage))
    }

    /// Jobs of the list `filter` older than its last page lists (0 unless it reached `maxPages`).
    public static func unlisted(_ data: SpoolPageData, filter: JobState?) -> Int {
        max(0, data.count(filter) - maxPages * jobsPerPage)
    }

    /// What a further page shows: the same key, the same page (its bytes need not be made again).
    public static func key(_ data: SpoolPageData, filter: JobState?, page: Int, jobs: some Sequence<JobSummary>) -> Int {
        var hasher = Hasher()
        let pages = pageCount(data, filter: filter)
        hasher.combine(pages)
        if page == pages { hasher.combine(unlisted(data, filter: filter)) }
        for job in jobs { hasher.combine(job) }
        return hasher.finalize()
    }

    /// Counts by state of an in-memory list.
    public static func counts(_ jobs: some Sequence<JobSummary>) -> [JobState: Int] {
        var out: [JobState: Int] = [:]
        for job in jobs { out[job.state, default: 0] += 1 }
        return out
    }

    /// One page written: its name, its bytes (nil: unchanged since `previous`, not rendered),
    /// and the key of what it lists (nil for first pages, which show the daemon's health and
    /// are always rendered).
    public struct Rendered: Sendable {
        public var name: String
        public var bytes: [UInt8]?
        public var key: Int?
    }

    /// Every page of an in-memory list of jobs (newest first): the whole list and one list per
    /// state, each in pages of `jobsPerPage`. A further page (2, 3, …) whose key is in
    /// `previous` under its name lists the same jobs as when it was last written and is not
    /// rendered again. The daemon renders page by page from its store instead (PagesService).
    public static func render(_ data: SpoolPageData, jobs all: [JobSummary], previous: [String: Int] = [:]) -> [Rendered] {
        var byState: [JobState: [JobSummary]] = [:]
        for job in all { byState[job.state, default: []].append(job) }
        var out: [Rendered] = []
        for filter in filters {
            let jobs = filter.map { byState[$0] ?? [] } ?? all
            let pages = pageCount(data, filter: filter)
            for page in 1...pages {
                let lower = (page - 1) * jobsPerPage
                let slice = jobs[min(jobs.count, lower)..<min(jobs.count, lower + jobsPerPage)]
                let name = fileName(state: filter, page: page)
                var key: Int?
                if page > 1 {
                    key = self.key(data, filter: filter, page: page, jobs: slice)
                    if previous[name] == key {
                        out.append(Rendered(name: name, bytes: nil, key: key))
                        continue
                    }
                }
                out.append(Rendered(name: name, bytes: renderPage(data, filter: filter, page: page, jobs: slice), key: key))
            }
        }
        return out
    }

    /// Page `page` of the list `filter`, listing `jobs`.
    public static func renderPage(_ data: SpoolPageData, filter: JobState?, page: Int, jobs: some Collection<JobSummary>) -> [UInt8] {
        let first = page == 1
        let pages = pageCount(data, filter: filter)
        var w = HTMLWriter(capacity: 64 + jobs.count * 400)
        let title = "Hopper spool" + (filter.map { " — " + $0.rawValue } ?? "")
        PageKit.head(&w, title: title, active: first && data.isActive && isAlive(data))
        w.element("<h1>", title, "</h1>\n")
        if first { health(&w, data) }
        if first && filter == nil { groups(&w, data.groups) }
        filters(&w, data, filter: filter, counts: first)
        pager(&w, filter: filter, page: page, pages: pages)
        table(&w, jobs, now: data.now)
        pager(&w, filter: filter, page: page, pages: pages)
        if page == pages { unlisted(&w, unlisted(data, filter: filter)) }
        if first && filter == nil { rejected(&w, data.rejected) }
        PageKit.foot(&w, generatedAt: first ? Timestamp.rfc3339(data.now) : nil)
        return w.bytes
    }

    static func isAlive(_ data: SpoolPageData) -> Bool { data.system?.isAlive(now: data.now) ?? false }

    static func health(_ w: inout HTMLWriter, _ data: SpoolPageData) {
        guard let sys = data.system else {
            w.raw("<div class=\"error\" id=\"daemon\">No daemon has written a heartbeat here (system/status.json is missing): nothing is being run.</div>\n")
            return
        }
        let age = max(0, data.now - (Timestamp.parse(sys.heartbeatAt) ?? 0))
        if sys.isAlive(now: data.now) {
            w.raw("<p id=\"daemon\">The daemon is running on <strong>")
            w.text(sys.host)
            w.raw("</strong> (pid ")
            w.text(Int(sys.pid))
            w.raw("), last heartbeat ")
            w.text(PageKit.humanDuration(age))
            w.raw(" before this page was written, at ")
            w.text(sys.heartbeatAt)
            w.raw(" (while it runs this page is rewritten every few seconds: if that time is long past, the daemon has stopped). Hopper ")
            w.text(sys.version)
            w.raw(".</p>\n")
        } else {
            w.raw("<div class=\"error\" id=\"daemon\">No daemon is running: the last heartbeat (from ")
            w.text(sys.host)
            w.raw(", state ")
            w.text(sys.state)
            w.raw(") is ")
            w.text(PageKit.humanDuration(age))
            w.raw(" old. Dropped manifests wait in the inbox until a daemon starts. Hopper ")
            w.text(sys.version)
            w.raw(".</div>\n")
        }
        w.raw("<p>Intake: ")
        if sys.intake.paused {
            w.raw("<strong>paused</strong>")
            if let reason = sys.intake.reason {
                w.raw(" (")
                w.text(reason)
                w.raw(")")
            }
        } else {
            w.raw("open")
        }
        if let backlog = data.backlog {
            w.raw("; ")
            w.text(backlog)
            w.raw(" file(s) waiting in the inbox")
        }
        w.raw(".")
        for disk in sys.disk ?? [] {
            w.raw(" Free space for the ")
            w.text(disk.role)
            w.raw(": ")
            w.text(PageKit.humanSize(disk.freeBytes))
            w.raw(" of ")
            w.text(PageKit.humanSize(disk.totalBytes))
            w.raw(".")
        }
        w.raw("</p>\n")
    }

    /// Links to the first page of each filter; with the number of jobs in each on first pages
    /// (`counts`), so that further pages do not change when only the counts do.
    static func filters(_ w: inout HTMLWriter, _ data: SpoolPageData, filter: JobState?, counts: Bool) {
        w.raw("<nav id=\"filters\">Jobs: ")
        let all = counts ? "all " + String(data.count(nil)) : "all"
        label(&w, fileName(state: nil, page: 1), all, current: filter == nil)
        for state in JobState.allCases {
            let count = counts ? " " + String(data.count(state)) : ""
            label(&w, fileName(state: state, page: 1), state.rawValue + count, current: filter == state)
        }
        w.raw("</nav>\n")
    }

    static func label(_ w: inout HTMLWriter, _ href: String, _ text: String, current: Bool) {
        if current {
            w.element("<strong>", text, "</strong> ")
        } else {
            w.link(href, text)
            w.raw(" ")
        }
    }

    /// On a list's last page: how many older jobs it does not list, and where they are.
    static func unlisted(_ w: inout HTMLWriter, _ count: Int) {
        guard count > 0 else { return }
        w.raw("<p id=\"unlisted\">")
        w.text(count)
        w.raw(count == 1 ? " older job is" : " older jobs are")
        w.raw(" not listed on these pages (they show the newest ")
        w.text(maxPages * jobsPerPage)
        w.raw("): <code>hopper ls</code> lists every job, and each keeps its own page, <code>outbox/&lt;id&gt;/index.html</code>.</p>\n")
    }

    static func pager(_ w: inout HTMLWriter, filter: JobState?, page: Int, pages: Int) {
        guard pages > 1 else { return }
        w.raw("<p class=\"pager\">Page ")
        w.text(page)
        w.raw(" of ")
        w.text(pages)
        w.raw(" ")
        if page > 1 { w.link(fileName(state: filter, page: page - 1), "newer") }
        w.raw(" ")
        if page < pages { w.link(fileName(state: filter, page: page + 1), "older") }
        w.raw("</p>\n")
    }

    static func table(_ w: inout HTMLWriter, _ jobs: some Collection<JobSummary>, now: Double) {
        guard !jobs.isEmpty else {
            w.raw("<p>No jobs.</p>\n")
            return
        }
        w.raw("<table id=\"jobs\"><tr><th>job</th><th>state</th><th>progress</th><th>step</th><th>owner</th><th>queue</th><th>workflow</th><th>submitted</th><th>time</th></tr>\n")
        for job in jobs {
            w.raw("<tr><td>")
            if job.removed {
                w.text(job.id)
                w.raw(" <small class=\"removed\">(removed by retention)</small>")
            } else {
                w.link(PlainText.href(["outbox", job.id, "index.html"]), job.id)
            }
            w.raw("</td><td>")
            PageKit.state(&w, job.state.rawValue)
            w.raw("</td><td>")
            if let p = job.progress { PageKit.progress(&w, p) }
            w.element("</td><td>", job.currentStep ?? "", "</td>")
            w.element("<td>", job.owner, "</td>")
            w.element("<td>", job.queue, "</td>")
            w.element("<td>", job.workflow ?? "inline", "</td>")
            w.element("<td>", job.submittedAt, "</td><td>")
            if let t = PageKit.elapsed(job.startedAt, job.finishedAt, now: now) { w.text(PageKit.humanDuration(t)) }
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    /// The latest groups, one line each (their jobs are also in the list below, and on each
    /// group's own page, failed ones first).
    static func groups(_ w: inout HTMLWriter, _ groups: [GroupSummary]) {
        guard !groups.isEmpty else { return }
        w.raw("<h2>Latest groups</h2>\n<table id=\"groups\"><tr><th>group</th><th>state</th><th>progress</th><th>jobs</th><th>owner</th><th>submitted</th></tr>\n")
        for g in groups.prefix(groupsShown) {
            w.raw("<tr><td>")
            w.link(PlainText.href(["outbox", g.id, "index.html"]), g.id)
            w.raw("</td><td>")
            PageKit.state(&w, g.state.rawValue)
            w.raw("</td><td>")
            PageKit.progress(&w, g.progress)
            w.raw("</td><td>")
            w.text(g.size)
            w.raw(g.size == 1 ? " job" : " jobs")
            var first = true
            for state in JobState.allCases {
                guard let n = g.counts[state.rawValue], n > 0 else { continue }
                w.raw(first ? ": " : ", ")
                first = false
                w.text(n)
                w.raw(" ")
                w.text(state.rawValue)
            }
            w.element("</td><td>", g.owner, "</td>")
            w.element("<td>", g.submittedAt, "</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    static func rejected(_ w: inout HTMLWriter, _ list: [Rejection]) {
        w.raw("<h2>Latest rejected files</h2>\n")
        guard !list.isEmpty else {
            w.raw("<p>None.</p>\n")
            return
        }
        w.raw("<ul id=\"rejected\">")
        for r in list.prefix(rejectedShown) {
            w.element("<li>", r.time, " ")
            w.element("<code>", r.file, "</code>: ")
            w.text(r.reason)
            w.raw("</li>")
        }
        w.raw("</ul><p><a href=\"rejected/index.html\">All rejected files, with their errors</a></p>\n")
    }
}
