// JobPage — `outbox/<id>/index.html`: one job for people, from its status.json, its events,
// its params and inputs (as it ran with them) and the failing step's log tail.

/// What the job page shows; the daemon (or a test) gathers it, `JobPage.render` only writes.
public struct JobPageData: Sendable {
    public struct Input: Sendable, Equatable {
        public var name: String
        public var path: String
        public var bytes: Int64?
        public init(name: String, path: String, bytes: Int64?) { self.name = name; self.path = path; self.bytes = bytes }
    }

    public var status: JobStatus
    /// The latest events, oldest first.
    public var events: [JobEvent]
    /// Params with defaults applied, as `name`, value as text; sorted by name.
    public var params: [(name: String, value: String)]
    public var inputs: [Input]
    /// The failing step's last lines (already cleaned or not: they are cleaned when written).
    public var failedLogTail: [String]
    /// When the page is written (RFC 3339) and the same instant in seconds.
    public var now: Double

    public init(status: JobStatus, events: [JobEvent] = [], params: [(name: String, value: String)] = [],
                inputs: [Input] = [], failedLogTail: [String] = [], now: Double = Timestamp.now()) {
        self.status = status; self.events = events; self.params = params; self.inputs = inputs
        self.failedLogTail = failedLogTail; self.now = now
    }
}

public enum JobPage {
    /// Lines of the failing step's log shown at the top.
    public static let logTailLines = 30
    /// Events shown (the newest); events.jsonl has them all.
    public static let eventsShown = 200

    public static func render(_ data: JobPageData) -> [UInt8] {
        let s = data.status
        var w = HTMLWriter()
        PageKit.head(&w, title: s.id + " — " + s.state.rawValue, active: !s.state.isTerminal)
        w.raw("<nav><a href=\"../../index.html\">spool</a><a href=\"manifest.yaml\">manifest.yaml</a>")
        w.raw("<a href=\"status.json\">status.json</a><a href=\"events.jsonl\">events.jsonl</a>")
        if let group = s.group { w.link(PlainText.href(["..", group, "index.html"]), "group " + group) }
        w.raw("</nav>\n")
        w.element("<h1>", s.id, "</h1>\n")
        if let d = s.description { w.element("<p>", d, "</p>\n") }
        header(&w, data)
        if s.state == .failed { failure(&w, data) }
        if let waiting = s.waitingFor, !waiting.isEmpty { waitingFor(&w, waiting) }
        timeline(&w, data)
        steps(&w, s, now: data.now)
        results(&w, s)
        params(&w, data)
        inputs(&w, data)
        events(&w, data)
        about(&w, s)
        PageKit.foot(&w, generatedAt: Timestamp.rfc3339(data.now))
        return w.bytes
    }

    static func header(_ w: inout HTMLWriter, _ data: JobPageData) {
        let s = data.status
        w.raw("<p>")
        PageKit.state(&w, s.state.rawValue)
        w.raw(" ")
        PageKit.progress(&w, s.progress)
        if let step = s.currentStep {
            w.raw(" — step <strong>")
            w.text(step)
            w.raw("</strong>")
            if let detail = s.steps.first(where: { $0.name == step })?.detail {
                w.raw(": ")
                w.text(detail)
            }
        }
        if s.finishedAt != nil, let t = PageKit.elapsed(s.startedAt, s.finishedAt, now: data.now) {
            w.raw(" — took ")
            w.text(PageKit.humanDuration(t))
        } else if let started = s.startedAt {
            w.raw(" — started ")
            w.text(started)
        }
        w.raw("</p>\n")
    }

    static func failure(_ w: inout HTMLWriter, _ data: JobPageData) {
        w.raw("<div class=\"error\"><strong>Failed")
        if let step = data.status.error?.step {
            w.raw(" in step ")
            w.text(step)
        }
        w.raw(":</strong> ")
        w.text(data.status.error?.message ?? "no reason was recorded")
        if let code = data.status.error?.exitCode {
            w.raw(" (exit code ")
            w.text(code)
            w.raw(")")
        }
        if !data.failedLogTail.isEmpty {
            w.raw("\n<pre id=\"failed-log\">")
            for line in data.failedLogTail.suffix(logTailLines) {
                w.text(line)
                w.raw("\n")
            }
            w.raw("</pre>")
        }
        w.raw("</div>\n")
    }

    static func waitingFor(_ w: inout HTMLWriter, _ paths: [String]) {
        w.raw("<div class=\"note\">Waiting for these paths (missing or still changing):<ul>")
        for p in paths { w.element("<li><code>", p, "</code></li>") }
        w.raw("</ul></div>\n")
    }

    /// A bar per attempt, from its start to its end, on one time axis; a row per step.
    static func timeline(_ w: inout HTMLWriter, _ data: JobPageData) {
        let s = data.status
        var spans: [(row: Int, start: Double, end: Double, state: StepState, label: String)] = []
        for (row, step) in s.steps.enumerated() {
            for a in step.attempts {
                guard let start = a.startedAt.flatMap(Timestamp.parse) else { continue }
                let end = a.finishedAt.flatMap(Timestamp.parse) ?? data.now
                let label = step.name + " attempt " + String(a.attempt) + ": " + a.state.rawValue
                spans.append((row, start, max(end, start), a.state, label))
            }
        }
        guard let first = spans.map({ $0.start }).min(), let last = spans.map({ $0.end }).max() else { return }
        let total = max(last - first, 0.001)
        let rowHeight = 22
        let labelWidth = 160
        let barWidth = 600
        let height = rowHeight * s.steps.count + 4
        w.raw("<h2>Timeline</h2>\n<svg role=\"img\" width=\"")
        w.text(labelWidth + barWidth + 10)
        w.raw("\" height=\"")
        w.text(height)
        w.raw("\" aria-label=\"step attempts over time\">")
        for (row, step) in s.steps.enumerated() {
            w.raw("<text x=\"0\" y=\"")
            w.text(row * rowHeight + 16)
            w.raw("\" font-size=\"12\">")
            w.text(String(step.name.prefix(24)))
            w.raw("</text>")
        }
        for span in spans {
            let x = labelWidth + Int(((span.start - first) / total * Double(barWidth)).rounded())
            let width = max(2, Int(((span.end - span.start) / total * Double(barWidth)).rounded()))
            w.raw("<rect class=\"bar\" x=\"")
            w.text(x)
            w.raw("\" y=\"")
            w.text(span.row * rowHeight + 4)
            w.raw("\" width=\"")
            w.text(width)
            w.raw("\" height=\"16\" fill=\"")
            w.raw(colour(span.state))
            w.raw("\"><title>")
            w.text(span.label)
            w.raw("</title></rect>")
        }
        w.raw("</svg>\n<p class=\"muted\">")
        w.text(PageKit.humanDuration(total))
        w.raw(" from the first start to the last end.</p>\n")
    }

    static func colour(_ state: StepState) -> StaticString {
        switch state {
        case .completed: return "#1a7f37"
        case .failed: return "#cf222e"
        case .running: return "#0969da"
        case .cancelled, .interrupted, .skipped: return "#9a6700"
        case .pending, .queued: return "#6e7781"
        }
    }

    static func steps(_ w: inout HTMLWriter, _ s: JobStatus, now: Double) {
        w.raw("<h2>Steps</h2>\n<table><tr><th>step</th><th>state</th><th>attempts</th><th>exit codes</th><th>durations</th><th>detail</th><th>log</th></tr>\n")
        for step in s.steps {
            w.element("<tr><td>", step.name, "</td><td>")
            PageKit.state(&w, step.state.rawValue)
            w.raw("</td><td>")
            w.text(step.attempt)
            w.raw("</td><td>")
            let codes = step.attempts.map { $0.exitCode.map(String.init) ?? "—" }
            w.text(codes.joined(separator: ", "))
            w.raw("</td><td>")
            var durations: [String] = []
            for a in step.attempts {
                if let t = PageKit.elapsed(a.startedAt, a.finishedAt, now: now) { durations.append(PageKit.humanDuration(t)) }
            }
            w.text(durations.joined(separator: ", "))
            w.raw("</td><td>")
            w.text(step.detail ?? "")
            w.raw("</td><td>")
            if let log = step.log { w.link(PageKit.href(log), "log") }
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    static func results(_ w: inout HTMLWriter, _ s: JobStatus) {
        guard !s.results.isEmpty else { return }
        w.raw("<h2>Results</h2>\n<table><tr><th>file</th><th>size</th><th>sha256</th></tr>\n")
        for r in s.results {
            w.raw("<tr><td>")
            w.link(PageKit.href(r.path), r.path)
            w.raw("</td><td>")
            w.text(PageKit.humanSize(r.bytes))
            w.raw("</td><td class=\"mono\">")
            w.text(r.sha256)
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    static func params(_ w: inout HTMLWriter, _ data: JobPageData) {
        guard !data.params.isEmpty else { return }
        w.raw("<h2>Params</h2>\n<table><tr><th>name</th><th>value</th></tr>\n")
        for p in data.params {
            w.element("<tr><td>", p.name, "</td>")
            w.element("<td class=\"mono\">", p.value, "</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    static func inputs(_ w: inout HTMLWriter, _ data: JobPageData) {
        guard !data.inputs.isEmpty else { return }
        w.raw("<h2>Inputs</h2>\n<table><tr><th>name</th><th>path</th><th>size</th></tr>\n")
        for i in data.inputs {
            w.element("<tr><td>", i.name, "</td>")
            w.element("<td class=\"mono\">", i.path, "</td><td>")
            w.text(i.bytes.map(PageKit.humanSize) ?? "missing")
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    static func events(_ w: inout HTMLWriter, _ data: JobPageData) {
        guard !data.events.isEmpty else { return }
        w.raw("<h2>Events</h2>\n<table><tr><th>time</th><th>event</th><th>state</th><th>step</th><th>message</th></tr>\n")
        for e in data.events.suffix(eventsShown) {
            w.element("<tr><td>", e.time, "</td>")
            w.element("<td>", e.event, "</td><td>")
            w.text(e.state?.rawValue ?? "")
            w.element("</td><td>", e.step ?? "", "</td>")
            w.element("<td>", e.message ?? "", "</td></tr>\n")
        }
        w.raw("</table>\n")
    }

    static func about(_ w: inout HTMLWriter, _ s: JobStatus) {
        w.raw("<h2>About</h2>\n<table>")
        row(&w, "owner", s.owner)
        row(&w, "queue", s.queue)
        row(&w, "priority", String(s.priority))
        row(&w, "workflow", s.workflow ?? "inline steps")
        row(&w, "executor", s.executor.kind.rawValue)
        if let id = s.executor.id { row(&w, "SLURM job", id) }
        row(&w, "submitted", s.submittedAt)
        row(&w, "started", s.startedAt ?? "—")
        row(&w, "finished", s.finishedAt ?? "—")
        row(&w, "Hopper", s.hopperVersion)
        w.raw("</table>\n")
    }

    static func row(_ w: inout HTMLWriter, _ name: StaticString, _ value: String) {
        w.raw("<tr><th>")
        w.raw(name)
        w.raw("</th><td>")
        w.text(value)
        w.raw("</td></tr>")
    }
}
