// GroupPage — `outbox/<group>/index.html`: a group (a manifest with `foreach:`) for people:
// its state and counts, then its jobs, those that did not complete first (failed, cancelled,
// running, waiting …), each linked to its own page. At most `shown` jobs are listed, so the
// page stays small for a group of 10,000; the rest are counted and `hopper ls --group` lists
// them all.

/// What the group page shows; the daemon (or a test) gathers it, `GroupPage.render` only writes.
public struct GroupPageData: Sendable {
    /// The group's status.json: its state and counts.
    public var status: GroupStatus
    /// The group's jobs, or the first `shown` of them in the order of `GroupPage.ordered`.
    public var jobs: [JobSummary]
    /// How many jobs the group has (`jobs.count` when all are given).
    public var total: Int
    public var now: Double

    public init(status: GroupStatus, jobs: [JobSummary], total: Int? = nil, now: Double = Timestamp.now()) {
        self.status = status; self.jobs = jobs; self.total = total ?? jobs.count; self.now = now
    }
}

public enum GroupPage {
    /// Jobs listed at most.
    public static let shown = 500

    /// The order jobs are listed in: those that need a look first, completed ones last; the
    /// sheet's order within a state.
    static let rank: [JobState: Int] = [.failed: 0, .cancelled: 1, .running: 2, .queued: 3, .waiting: 4, .pending: 5, .completed: 6]

    public static func render(_ data: GroupPageData) -> [UInt8] {
        let s = data.status
        var w = HTMLWriter()
        PageKit.head(&w, title: s.id + " — " + s.state.rawValue, active: !s.state.isTerminal)
        w.raw("<nav><a href=\"../../index.html\">spool</a><a href=\"status.json\">status.json</a>")
        w.raw("<a href=\"events.jsonl\">events.jsonl</a>")
        if let sheet = s.samplesheet { w.link(PageKit.href(sheet), "sample sheet") }
        w.raw("</nav>\n")
        w.element("<h1>", s.id, "</h1>\n")
        if let d = s.description { w.element("<p>", d, "</p>\n") }
        w.raw("<p>")
        PageKit.state(&w, s.state.rawValue)
        w.raw(" ")
        PageKit.progress(&w, s.progress)
        w.raw(" — a group of ")
        w.text(data.total)
        w.raw(data.total == 1 ? " job" : " jobs")
        if let t = PageKit.elapsed(s.submittedAt, s.finishedAt, now: data.now) {
            w.raw(s.finishedAt == nil ? ", submitted " : ", took ")
            w.text(PageKit.humanDuration(t))
            if s.finishedAt == nil { w.raw(" ago") }
        }
        w.raw("</p>\n")
        counts(&w, s)
        if let after = s.after, !after.isEmpty {
            w.raw("<p>Starts after: ")
            for (i, id) in after.enumerated() {
                if i > 0 { w.raw(", ") }
                w.link(PlainText.href(["..", id, "index.html"]), id)
            }
            w.raw("</p>\n")
        }
        jobs(&w, data)
        about(&w, s)
        PageKit.foot(&w, generatedAt: Timestamp.rfc3339(data.now))
        return w.bytes
    }

    static func counts(_ w: inout HTMLWriter, _ s: GroupStatus) {
        w.raw("<table id=\"counts\"><tr>")
        for state in JobState.allCases { w.element("<th>", state.rawValue, "</th>") }
        w.raw("</tr><tr>")
        for state in JobState.allCases {
            w.raw("<td>")
            w.text(s.counts[state.rawValue] ?? 0)
            w.raw("</td>")
        }
        w.raw("</tr></table>\n")
    }

    /// The jobs in the order of `rank`, the first `shown` of them.
    public static func ordered(_ jobs: [JobSummary]) -> [JobSummary] {
        let indexed = jobs.enumerated().map { (offset: $0.offset, job: $0.element) }
        let sorted = indexed.sorted { a, b in
            let ra = rank[a.job.state] ?? 7
            let rb = rank[b.job.state] ?? 7
            return ra != rb ? ra < rb : a.offset < b.offset
        }
        return sorted.prefix(shown).map(\.job)
    }

    static func jobs(_ w: inout HTMLWriter, _ data: GroupPageData) {
        w.raw("<h2>Jobs</h2>\n")
        let listed = ordered(data.jobs)
        guard !listed.isEmpty else {
            w.raw("<p>No jobs.</p>\n")
            return
        }
        w.raw("<table id=\"jobs\"><tr><th>job</th><th>state</th><th>progress</th><th>started</th><th>time</th></tr>\n")
        for job in listed {
            w.raw("<tr><td>")
            w.link(PlainText.href(["..", job.id, "index.html"]), job.id)
            w.raw("</td><td>")
            PageKit.state(&w, job.state.rawValue)
            w.raw("</td><td>")
            if let p = job.progress { PageKit.progress(&w, p) }
            w.element("</td><td>", job.startedAt ?? "", "</td><td>")
            if let t = PageKit.elapsed(job.startedAt, job.finishedAt, now: data.now) { w.text(PageKit.humanDuration(t)) }
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
        let rest = data.total - listed.count
        if rest > 0 {
            w.raw("<p class=\"muted\">")
            w.text(rest)
            w.raw(rest == 1 ? " more job" : " more jobs")
            w.raw(" not listed here (completed ones last); <code>hopper ls --group ")
            w.text(data.status.id)
            w.raw(" --limit 0</code> lists them all.</p>\n")
        }
    }

    static func about(_ w: inout HTMLWriter, _ s: GroupStatus) {
        w.raw("<h2>About</h2>\n<table id=\"about\">")
        JobPage.row(&w, "owner", s.owner)
        JobPage.row(&w, "queue", s.queue)
        JobPage.row(&w, "priority", String(s.priority))
        JobPage.row(&w, "workflow", s.workflow ?? "inline")
        JobPage.row(&w, "submitted", s.submittedAt)
        if let f = s.finishedAt { JobPage.row(&w, "finished", f) }
        w.raw("</table>\n")
    }
}
