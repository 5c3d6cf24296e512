import Foundation
import Testing
@testable import HopperCore

@Suite struct PagesTests {
    static let hostile = "<script>alert(1)</script>"

    func html(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func job(_ state: JobState = .failed) -> JobStatus {
        var s = JobStatus(id: "S001-qc", state: state, workflow: "demo", owner: "ana", queue: "seq",
                          priority: 0, description: "QC " + Self.hostile, submittedAt: "2026-01-02T03:04:05Z",
                          steps: [StepStatus(name: "align"), StepStatus(name: "call")],
                          executor: ExecutorInfo(kind: .slurm, id: "4711"))
        s.startedAt = "2026-01-02T03:04:06Z"
        s.steps[0].state = .completed
        s.steps[0].attempt = 2
        s.steps[0].log = "logs/align.log"
        s.steps[0].attempts = [
            StepAttempt(attempt: 1, state: .failed, startedAt: "2026-01-02T03:04:06Z", finishedAt: "2026-01-02T03:04:16Z", exitCode: 3),
            StepAttempt(attempt: 2, state: .completed, startedAt: "2026-01-02T03:04:20Z", finishedAt: "2026-01-02T03:05:20Z", exitCode: 0),
        ]
        s.steps[1].state = state == .failed ? .failed : .running
        s.steps[1].attempt = 1
        s.steps[1].detail = "rule call (3 of 10)"
        s.steps[1].attempts = [StepAttempt(attempt: 1, state: s.steps[1].state, startedAt: "2026-01-02T03:05:21Z")]
        s.currentStep = "call"
        s.progress = 0.5
        if state == .failed {
            s.finishedAt = "2026-01-02T03:06:00Z"
            s.error = JobErrorInfo(step: "call", message: "exit code 2 " + Self.hostile, exitCode: 2)
        }
        s.results = [ResultFile(path: "results/a<b&c>.txt", bytes: 1536, sha256: String(repeating: "ab", count: 32))]
        return s
    }

    @Test func jobPageEscapesEverythingFromTheManifestAndTheLog() {
        let log = Array("\u{1B}[31mred error\u{1B}[0m line\n".utf8) + [0xFF, 0xFE, 0x41] + Array("\u{1B}]0;title\u{07}done \u{07}bell".utf8)
        let data = JobPageData(status: job(), events: [JobEvent(time: "2026-01-02T03:04:05Z", event: "state", state: .failed, message: Self.hostile)],
                               params: [(name: "genome", value: Self.hostile), (name: "a\"b", value: "x' onmouseover='y")],
                               inputs: [.init(name: "reads", path: "/data/<in>&.fq", bytes: 10)],
                               failedLogTail: [PlainText.clean(bytes: log)],
                               now: Timestamp.parse("2026-01-02T03:07:00Z")!)
        let page = html(JobPage.render(data))
        #expect(!page.contains("<script"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.contains("onmouseover='"))
        #expect(page.contains("x&#39; onmouseover=&#39;y"))
        #expect(page.contains("/data/&lt;in&gt;&amp;.fq"))
        // Links to results keep the name inside the attribute, percent-encoded.
        #expect(page.contains("href=\"results/a%3Cb%26c%3E.txt\""))
        #expect(page.contains(">results/a&lt;b&amp;c&gt;.txt</a>"))
        // The log: no escape bytes, invalid UTF-8 replaced, the text kept.
        #expect(!page.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        #expect(page.contains("red error line"))
        #expect(page.contains("\u{FFFD}\u{FFFD}A"))
        #expect(page.contains("done \u{FFFD}bell"))
        #expect(!page.contains("0;title"))   // the OSC window title is dropped, not shown
        // What a person needs: the error at the top, state word, progress, step detail, SLURM id.
        let error = page.range(of: "class=\"error\"")!.lowerBound
        let steps = page.range(of: "<h2>Steps</h2>")!.lowerBound
        #expect(error < steps)
        #expect(page.contains("s-failed\">failed</span>"))
        #expect(page.contains("value=\"50\""))
        #expect(page.contains("rule call (3 of 10)"))
        #expect(page.contains("4711"))
        #expect(page.contains("3, 0"))         // exit codes of both attempts
        #expect(page.contains("1.5 KiB"))
        #expect(page.contains("<svg"))
        #expect(page.components(separatedBy: "<rect").count - 1 == 3)   // a bar per attempt
        #expect(!page.contains("http-equiv=\"refresh\""))   // failed: nothing active
    }

    @Test func activeJobsRefreshAndEndedOnesDoNot() {
        let running = html(JobPage.render(JobPageData(status: job(.running))))
        #expect(running.contains("http-equiv=\"refresh\""))
        var done = job(.completed)
        done.finishedAt = "2026-01-02T03:06:00Z"
        #expect(!html(JobPage.render(JobPageData(status: done))).contains("http-equiv"))
    }

    @Test func groupPageListsJobsThatNeedALookFirstAndStaysSmall() {
        let ids = (1...1200).map { "run<42>.S\($0)" }
        var group = GroupStatus(id: "run<42>", workflow: "readmap", owner: "ana", queue: "seq", priority: 0,
                                description: Self.hostile, samplesheet: "sheet/Sample Sheet.csv", after: ["demux&1"],
                                submittedAt: "2026-01-02T03:04:05Z", children: ids)
        var jobs = ids.map { id in
            JobSummary(id: id, state: .completed, progress: 1, currentStep: nil, owner: "ana", queue: "seq", workflow: "readmap",
                       submittedAt: "2026-01-02T03:04:05Z", startedAt: "2026-01-02T03:04:06Z", finishedAt: "2026-01-02T03:05:06Z")
        }
        jobs[700].state = .failed
        jobs[900].state = .running
        jobs[900].finishedAt = nil
        group.update(counts: ["completed": 1198, "failed": 1, "running": 1], at: "2026-01-02T03:06:00Z")
        let page = html(GroupPage.render(GroupPageData(status: group, jobs: jobs, now: Timestamp.parse("2026-01-02T03:07:00Z")!)))
        #expect(!page.contains("<script"))
        #expect(page.contains("&lt;script&gt;"))
        #expect(page.contains("<h1>run&lt;42&gt;</h1>"))
        #expect(page.contains("http-equiv=\"refresh\""))   // a job still runs
        #expect(page.contains("s-running\">running</span>"))
        // The failed job first, then the running one, then completed ones in the sheet's order.
        let failed = page.range(of: "href=\"../run%3C42%3E.S701/index.html\"")!.lowerBound
        let running = page.range(of: "href=\"../run%3C42%3E.S901/index.html\"")!.lowerBound
        let first = page.range(of: "href=\"../run%3C42%3E.S1/index.html\"")!.lowerBound
        #expect(failed < running && running < first)
        #expect(page.components(separatedBy: "<tr><td><a href=").count - 1 == GroupPage.shown)
        #expect(page.contains("700 more jobs not listed here"))
        #expect(page.contains("href=\"sheet/Sample%20Sheet.csv\""))
        #expect(page.contains("href=\"../demux%261/index.html\""))
        #expect(page.utf8.count < 200_000)
        // The daemon hands over only the jobs listed (ordered in the store) and the total.
        let listed = GroupPage.ordered(jobs)
        let short = GroupPageData(status: group, jobs: listed, total: jobs.count, now: Timestamp.parse("2026-01-02T03:07:00Z")!)
        #expect(html(GroupPage.render(short)) == page)
        // A child's page links to its group.
        var child = job(.running)
        child.group = "run<42>"
        #expect(html(JobPage.render(JobPageData(status: child))).contains("href=\"../run%3C42%3E/index.html\""))
    }

    @Test func failedLogShowsOnlyTheLastThirtyLines() {
        let lines = (1...45).map { "line \($0)" }
        let page = html(JobPage.render(JobPageData(status: job(), failedLogTail: lines)))
        #expect(page.contains("line 16\n"))
        #expect(!page.contains("line 15\n"))
        #expect(page.contains("line 45\n"))
    }

    @Test func plainTextDropsEscapesAndControls() {
        #expect(PlainText.clean(bytes: Array("\u{1B}[1;32mok\u{1B}[0m".utf8)) == "ok")
        #expect(PlainText.clean(bytes: [0x61, 0xC3, 0x28, 0x62]) == "a\u{FFFD}(b")
        #expect(PlainText.clean("a\u{0}b\rc\td\n") == "a\u{FFFD}bc\td\n")
        #expect(PlainText.clean("\u{9B}31mx") == "x")
        #expect(PlainText.percentEncode("a b/<&>\"#?%é") == "a%20b%2F%3C%26%3E%22%23%3F%25%C3%A9")
    }

    @Test func humanUnits() {
        #expect(PageKit.humanSize(512) == "512 B")
        #expect(PageKit.humanSize(1536) == "1.5 KiB")
        #expect(PageKit.humanSize(3 << 30) == "3.0 GiB")
        #expect(PageKit.humanDuration(3725) == "1h 2m")
        #expect(PageKit.humanDuration(42) == "42s")
        #expect(PageKit.humanDuration(0.34) == "0.3s")
    }

    func system(heartbeat: String, state: String = "running") -> SystemStatus {
        var s = SystemStatus(pid: 42, host: "node<1>", startedAt: heartbeat, heartbeatAt: heartbeat, intervalSeconds: 5,
                             state: state, spool: "/spool", stateDirectory: "/spool/state", inboxes: [],
                             intake: .init(paused: true, reason: "low disk <space>"), jobs: [:])
        s.disk = [.init(role: "outbox", path: "/spool/outbox", freeBytes: 5 << 30, totalBytes: 10 << 30)]
        return s
    }

    @Test func spoolPageSaysPlainlyWhenNoDaemonRuns() {
        let now = Timestamp.parse("2026-01-02T04:00:00Z")!
        let none = SpoolPage.render(SpoolPageData(system: nil, counts: [:], now: now), jobs: [])
        #expect(html(none[0].bytes ?? []).contains("No daemon has written a heartbeat"))
        let stale = SpoolPage.render(SpoolPageData(system: system(heartbeat: "2026-01-02T03:00:00Z"), counts: [:], now: now), jobs: [])
        let page = html(stale[0].bytes ?? [])
        #expect(page.contains("No daemon is running"))
        #expect(page.contains("node&lt;1&gt;"))
        #expect(page.contains("1h 0m old"))
        let alive = html(SpoolPage.render(SpoolPageData(system: system(heartbeat: "2026-01-02T03:59:58Z"), counts: [:], now: now), jobs: [])[0].bytes ?? [])
        #expect(alive.contains("The daemon is running"))
        #expect(alive.contains("paused</strong> (low disk &lt;space&gt;)"))
        #expect(alive.contains("5.0 GiB of 10.0 GiB"))
    }

    @Test func spoolPageShowsTheLatestGroupsOneLineEach() {
        let now = Timestamp.parse("2026-01-02T04:00:00Z")!
        let groups = [
            GroupSummary(id: "run<43>", owner: "ana&bo", submittedAt: "2026-01-02T03:59:00Z", size: 384,
                         counts: ["running": 2, "pending": 380, "failed": 2]),
            GroupSummary(id: "run42", owner: "ana", submittedAt: "2026-01-02T03:00:00Z", size: 3, counts: ["completed": 3]),
        ]
        let data = SpoolPageData(system: system(heartbeat: "2026-01-02T03:59:58Z"), counts: [.pending: 380], groups: groups, now: now)
        let pages = SpoolPage.render(data, jobs: [])
        let first = html(pages[0].bytes ?? [])
        #expect(first.contains("<table id=\"groups\">"))
        #expect(first.contains("href=\"outbox/run%3C43%3E/index.html\">run&lt;43&gt;</a>"), "\(first)")
        #expect(first.contains("384 jobs: 380 pending, 2 running, 2 failed"), "\(first)")
        #expect(first.contains("s-running\">running</span>"))
        #expect(first.contains("ana&amp;bo"))
        #expect(first.contains("3 jobs: 3 completed"))
        #expect(first.range(of: "run&lt;43&gt;")!.lowerBound < first.range(of: ">run42<")!.lowerBound)
        // Only the first page of the whole list has them.
        let failedList = pages.first { $0.name == "index-failed.html" }.map { html($0.bytes ?? []) } ?? ""
        #expect(!failedList.isEmpty && !failedList.contains("id=\"groups\""))
        let none = html(SpoolPage.render(SpoolPageData(system: nil, counts: [:], now: now), jobs: [])[0].bytes ?? [])
        #expect(!none.contains("Latest groups"))
    }

    @Test func aListStopsAtItsLastPageAndCountsTheOlderJobsItLeavesOut() throws {
        let rows = (0..<SpoolPage.jobsPerPage).map { i in
            JobSummary(id: "old-\(i)", state: .completed, progress: 1, currentStep: nil, owner: "ana", queue: "default",
                       workflow: nil, submittedAt: "2026-01-02T03:04:05Z", startedAt: nil, finishedAt: nil)
        }
        let data = SpoolPageData(system: nil, counts: [.completed: 100_500, .failed: 99_000])
        #expect(SpoolPage.pageCount(data, filter: nil) == SpoolPage.maxPages)
        #expect(SpoolPage.pageCount(data, filter: .completed) == SpoolPage.maxPages)
        #expect(SpoolPage.unlisted(data, filter: .completed) == 500 && SpoolPage.unlisted(data, filter: nil) == 99_500)
        #expect(SpoolPage.unlisted(data, filter: .failed) == 0 && SpoolPage.pageCount(data, filter: .failed) == 99)
        let last = html(SpoolPage.renderPage(data, filter: .completed, page: 100, jobs: rows))
        #expect(last.contains("<p id=\"unlisted\">500 older jobs are not listed on these pages (they show the newest 100000)"))
        #expect(last.contains("hopper ls") && !last.contains("index-completed-101.html") && !last.contains(">older<"))
        #expect(last.contains("href=\"index-completed-99.html\">newer"))
        let before = html(SpoolPage.renderPage(data, filter: .completed, page: 99, jobs: rows))
        #expect(!before.contains("unlisted") && before.contains("href=\"index-completed-100.html\">older"))
        #expect(!html(SpoolPage.renderPage(data, filter: .failed, page: 99, jobs: rows)).contains("unlisted"))
        // One more old job: the last page says so (its key changes), the page before is kept.
        let more = SpoolPageData(system: nil, counts: [.completed: 100_501, .failed: 99_000])
        #expect(SpoolPage.key(more, filter: .completed, page: 100, jobs: rows) != SpoolPage.key(data, filter: .completed, page: 100, jobs: rows))
        #expect(SpoolPage.key(more, filter: .completed, page: 99, jobs: rows) == SpoolPage.key(data, filter: .completed, page: 99, jobs: rows))
        #expect(html(SpoolPage.renderPage(more, filter: .completed, page: 100, jobs: rows)).contains(">501 older jobs"))
        // A job whose outbox entry retention removed is listed without a link.
        var gone = rows
        gone[0].removed = true
        let withGone = html(SpoolPage.renderPage(data, filter: .completed, page: 99, jobs: gone))
        #expect(withGone.contains("<td>old-0 <small class=\"removed\">(removed by retention)</small></td>"))
        #expect(!withGone.contains("outbox/old-0/index.html") && withGone.contains("href=\"outbox/old-1/index.html\""))
        #expect(SpoolPage.key(data, filter: .completed, page: 99, jobs: gone) != SpoolPage.key(data, filter: .completed, page: 99, jobs: rows))
        // What an earlier daemon's pages are recognised by (to remove those no list has any more).
        for filter in SpoolPage.filters {
            for page in [1, 2, 100, 250] { #expect(SpoolPage.isPageName(SpoolPage.fileName(state: filter, page: page))) }
        }
        for name in ["index.htm", "index-1.html", "index-02.html", "index-x.html", "index-failed-.html", "index--2.html",
                     "index-failed-2-3.html", "indexes.html", "index.html.tmp", ".index.html.tmp"] {
            #expect(!SpoolPage.isPageName(name), "\(name)")
        }
    }

    @Test func spoolPageListsNewestFirstWithFilterPagesAndStaysSmallWithManyJobs() throws {
        var jobs: [JobSummary] = []
        for i in 0..<100_000 {
            var s = job(i % 10 == 0 ? .failed : .completed)
            s.id = "job-" + String(i)
            s.description = nil
            s.owner = "own<er>"
            s.submittedAt = Timestamp.rfc3339(1_700_000_000 + Double(i))
            jobs.append(JobSummary(s))
        }
        jobs.sort(by: JobSummary.newerFirst)
        let rejected = [Rejection(file: "bad<&>.yaml", reason: "invalid manifest", diagnostics: [])]
        let pages = SpoolPage.render(SpoolPageData(system: nil, counts: SpoolPage.counts(jobs), rejected: rejected), jobs: jobs)
        let names = Set(pages.map { $0.name })
        #expect(pages.allSatisfy { $0.bytes != nil })
        #expect(names.contains("index.html"))
        #expect(names.contains("index-100.html"))
        #expect(!names.contains("index-101.html"))
        #expect(names.contains("index-failed.html"))
        #expect(names.contains("index-failed-10.html"))
        #expect(names.contains("index-running.html"))   // an empty filter still has its page
        let sizes: [Int] = pages.map { $0.bytes?.count ?? 0 }
        let largest = try #require(sizes.max())
        #expect(largest < 1 << 20, "largest page \(largest) bytes")
        let first = html(try #require(pages.first { $0.name == "index.html" }?.bytes))
        #expect(first.contains("href=\"outbox/job-99999/index.html\""))
        #expect(first.range(of: "job-99999")!.lowerBound < first.range(of: "job-99998")!.lowerBound)
        #expect(!first.contains("job-98999<"))
        #expect(first.contains("href=\"index-2.html\">older"))
        #expect(first.contains("href=\"index-failed.html\">failed 10000"))
        #expect(first.contains("own&lt;er&gt;"))
        #expect(first.contains("bad&lt;&amp;&gt;.yaml"))
        #expect(!first.contains("http-equiv"))   // nothing active, no daemon
        let second = html(try #require(pages.first { $0.name == "index-2.html" }?.bytes))
        #expect(second.contains("href=\"index-failed.html\">failed</a>"))   // no counts on further pages
        #expect(second.contains("job-98999<") && !second.contains("job-99000<"))

        // A change renders the first pages and the further pages that list the changed job; the rest are kept.
        let keys = Dictionary(uniqueKeysWithValues: pages.compactMap { p in p.key.map { (p.name, $0) } })
        #expect(jobs[5_000].id == "job-94999" && jobs[5_000].state == .completed)
        jobs[5_000].state = .running   // on page 6 of all jobs; the 4,501st of the completed ones (page 5)
        let again = SpoolPage.render(SpoolPageData(system: nil, counts: SpoolPage.counts(jobs), rejected: rejected), jobs: jobs, previous: keys)
        let rendered = Set(again.filter { $0.bytes != nil }.map { $0.name })
        #expect(rendered.contains("index.html") && rendered.contains("index-6.html") && rendered.contains("index-running.html"))
        #expect(!rendered.contains("index-5.html") && !rendered.contains("index-7.html") && !rendered.contains("index-failed-2.html"))
        // It left the completed list: the completed pages from 5 on shift by one, those before do not.
        #expect(!rendered.contains("index-completed-4.html"))
        #expect(rendered.contains("index-completed-5.html") && rendered.contains("index-completed-90.html"))
    }

    @Test func rejectedPageQuotesTheLineWithACaret() {
        let r = Rejection(file: "S<1>&.yaml", reason: "invalid manifest",
                          diagnostics: [Diagnostic(line: 3, column: 10, path: "params.genome", message: "expected one of hg19, hg38; got \"<b>\"")],
                          time: "2026-01-02T03:04:05Z", source: "inbox/S<1>&.yaml", rejectedAs: "S<1>&.yaml")
        let refused = Rejection(file: "cancel-S9.yaml", reason: "request refused",
                                diagnostics: [Diagnostic(message: "job S9 is not yours")])
        let page = html(RejectedPage.render([RejectedPageItem(rejection: r, lines: [3: "  genome: <b>"]),
                                             RejectedPageItem(rejection: refused)]))
        #expect(!page.contains("<b>"))
        #expect(page.contains("S&lt;1&gt;&amp;.yaml:3:10: params.genome: expected one of hg19, hg38; got &quot;&lt;b&gt;&quot;"))
        #expect(page.contains("\n  genome: &lt;b&gt;\n<span class=\"caret\">         ^</span>"))
        #expect(page.contains("href=\"S%3C1%3E%26.yaml.error.json\""))
        let requests = page.range(of: "Refused control requests")!.lowerBound
        #expect(page.range(of: "job S9 is not yours")!.lowerBound > requests)
        #expect(RejectedPage.caretLine("\tab", column: 3) == "\t ^")
        #expect(RejectedPage.caretLine("ab", column: 5) == "    ^")
    }
}
