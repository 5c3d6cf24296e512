// The static pages with the real daemon: a page for every job in every state, the spool page
// and the rejected page appear and follow the jobs; values from manifests, file names and logs
// are shown as text, never as markup; `pages: off` writes none.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TestSpool {
    func page(_ path: String) -> String {
        // silent: a page not written yet reads as empty, and the caller waits for it.
        (try? FileOps.readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Waits until the page at `path` contains every one of `needles`; returns it.
    @discardableResult
    func waitForPage(_ path: String, containing needles: [String], timeout: Double = 30) throws -> String {
        var last = ""
        let ok = eventually(timeout: timeout) {
            last = page(path)
            return needles.allSatisfy { last.contains($0) }
        }
        guard ok else {
            let missing = needles.filter { !last.contains($0) }
            throw TestFailure("\(path) lacks \(missing)\n--- page ---\n\(last.prefix(4000))\n--- daemon ---\n\(logText())")
        }
        return last
    }
}

@Suite(.serialized) struct PagesTests {
    static let hostile = "<script>alert(1)</script>"

    @Test func pagesFollowEveryStateAndShowHostileValuesAsText() throws {
        let spool = try TestSpool(config: "max_running: 1")
        try spool.startDaemon()
        try spool.waitForPage(spool.layout.page("index.html"), containing: ["The daemon is running"])
        #expect(!FileOps.exists(spool.layout.rejectedPage))   // nothing rejected yet: no page
        // Failed, with ANSI escapes and invalid UTF-8 in its log and markup in description and params.
        try spool.drop("fails.yaml", """
            description: "bad \(Self.hostile)"
            params: {tag: "\(Self.hostile)"}
            steps:
              - {name: a, run: "echo first-ok"}
              - {name: b, run: "for i in $(seq 1 40); do echo line-$i; done; printf 'x\\\\033[31mred\\\\033[0m \\\\377\\\\376 <b>bold</b>\\\\n'; exit 7"}
            """)
        let failed = try spool.waitFor("fails")
        #expect(failed.state == .failed)
        let failedPage = try spool.waitForPage(spool.layout.folder("fails").page,
                                               containing: ["s-failed\">failed</span>", "line-40", "(exit code 7)"])
        #expect(!failedPage.contains("<script"))
        #expect(failedPage.contains("bad &lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(failedPage.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"))   // the param, as JSON text
        #expect(!failedPage.contains("<b>bold"))
        #expect(failedPage.contains("&lt;b&gt;bold&lt;/b&gt;"))
        #expect(failedPage.contains("line-12\n") && !failedPage.contains("line-11\n"))   // the last 30 lines
        #expect(!failedPage.unicodeScalars.contains { $0.value == 0x1B })
        #expect(failedPage.contains("href=\"logs/b.log\""))
        #expect(!failedPage.contains("http-equiv=\"refresh\""))

        // Running, then cancelled; a second job pending behind it (max_running: 1).
        try spool.drop("runs.yaml", "steps: [{name: s, run: \"sleep 30\"}]\n")
        try spool.waitFor("runs", [.running])
        try spool.drop("waits.yaml", "steps: [{name: s, run: \"echo done > out.txt\", outputs: [out.txt]}]\n")
        let running = try spool.waitForPage(spool.layout.folder("runs").page, containing: ["s-running\">running</span>"])
        #expect(running.contains("http-equiv=\"refresh\""))
        try spool.waitForPage(spool.layout.folder("waits").page, containing: ["s-pending\">pending</span>"])
        #expect(try chromiumDOM(spool.layout.folder("runs").page).contains("s-running\">running</span>"))
        #expect(try chromiumDOM(spool.layout.folder("waits").page).contains("s-pending\">pending</span>"))
        let index = try spool.waitForPage(spool.layout.page("index.html"),
                                          containing: ["href=\"outbox/runs/index.html\"", "href=\"outbox/waits/index.html\"",
                                                       "The daemon is running", "href=\"index-failed.html\">failed 1"])
        #expect(index.contains("http-equiv=\"refresh\""))
        #expect(FileOps.exists(spool.layout.page("index-running.html")))
        #expect(try spool.request("cancel", "runs"))
        try spool.waitFor("runs", [.cancelled])
        try spool.waitForPage(spool.layout.folder("runs").page, containing: ["s-cancelled\">cancelled</span>"])
        let done = try spool.waitFor("waits")
        #expect(done.state == .completed)
        try spool.waitForPage(spool.layout.folder("waits").page, containing: ["s-completed\">completed</span>", "value=\"100\""])

        // A rejected file whose name holds < and &; one with an error at a line and column.
        try spool.drop("bad<&>.yaml", "steps: [{name: a, run: \"true\"}]\n")
        try spool.drop("badprio.yaml", "steps:\n  - {name: a, run: \"true\"}\npriority: high\n")
        #expect(eventually(timeout: 15) { spool.isRejected("bad<&>.yaml") && spool.isRejected("badprio.yaml") })
        let rejected = try spool.waitForPage(spool.layout.rejectedPage, containing: ["bad&lt;&amp;&gt;.yaml", "badprio.yaml:3:"])
        #expect(rejected.contains("priority: high\n<span class=\"caret\">"), "\(rejected)")
        #expect(!rejected.contains("bad<&>"))
        try spool.waitForPage(spool.layout.page("index.html"), containing: ["bad&lt;&amp;&gt;.yaml</code>", "Latest rejected files"])

        // Every local link of every page resolves; a real browser shows the hostile values as text.
        for path in [spool.layout.page("index.html"), spool.layout.rejectedPage] + ["fails", "runs", "waits"].map({ spool.layout.folder($0).page }) {
            let broken = brokenLinks(path, spool.page(path))
            #expect(broken.isEmpty, "\(path): \(broken)")
        }
        let dom = try chromiumDOM(spool.layout.folder("fails").page)
        #expect(dom.contains("s-failed\">failed</span>"))
        #expect(dom.contains("bad &lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!dom.contains("<script"))
        #expect(dom.contains("line-40"))
        #expect(try chromiumDOM(spool.layout.folder("runs").page).contains("s-cancelled\">cancelled</span>"))
        #expect(try chromiumDOM(spool.layout.folder("waits").page).contains("value=\"100\""))
        let indexDOM = try chromiumDOM(spool.layout.page("index.html"))
        #expect(indexDOM.contains("href=\"outbox/fails/index.html\"") && indexDOM.contains("s-completed\">completed</span>"))
        let rejectedDOM = try chromiumDOM(spool.layout.rejectedPage)
        #expect(rejectedDOM.contains("bad&lt;&amp;&gt;.yaml"))
        #expect(!rejectedDOM.contains("bad<&>"))

        // Stopped: the spool page says so.
        #expect(spool.stopDaemon() == 0)
        let stopped = spool.page(spool.layout.page("index.html"))
        #expect(stopped.contains("No daemon is running"), "\(stopped.prefix(2000))")
        #expect(!stopped.contains("http-equiv"))
    }

    /// Relative links of a page whose target does not exist (`#…` and absolute ones aside).
    func brokenLinks(_ pagePath: String, _ html: String) -> [String] {
        let folder = FileOps.split(pagePath).0
        var broken: [String] = []
        for part in html.components(separatedBy: "href=\"").dropFirst() {
            guard let end = part.firstIndex(of: "\"") else { continue }
            let href = String(part[..<end])
            if href.hasPrefix("#") || href.contains(":") { continue }
            let decoded = href.removingPercentEncoding ?? href
            if !FileOps.exists(folder + "/" + decoded) { broken.append(href) }
        }
        return broken
    }

    /// The DOM headless Chromium builds from the page, opened over file://.
    func chromiumDOM(_ path: String) throws -> String {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileOps.exists($0) }
        guard let chromium else { throw TestFailure("chromium is not installed (scripts/setup-deps installs it for scripts/test)") }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-chromium-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let r = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
                                          "--dump-dom", URL(fileURLWithPath: path).absoluteString])
        guard r.code == 0, r.stdout.contains("</html>") else { throw TestFailure("chromium exited \(r.code): \(r.stderr.suffix(2000))") }
        return r.stdout
    }

    /// Pages are written when the daemon is told of a change; a change made while no daemon
    /// ran (a page deleted, a status rewritten) is found by the walk over the store at start.
    @Test func aRestartedDaemonWritesPagesMissingOrOlderThanTheirJob() throws {
        let spool = try TestSpool()
        try spool.startDaemon()
        for name in ["r1", "r2", "r3"] { try spool.drop(name + ".yaml", "steps: [{name: a, run: \"true\"}]\n") }
        for name in ["r1", "r2", "r3"] {
            try spool.waitFor(name)
            try spool.waitForPage(spool.layout.folder(name).page, containing: ["s-completed\">completed</span>"])
        }
        let kept = try FileOps.readFile(spool.layout.folder("r3").page)
        #expect(spool.stopDaemon() == 0)
        unlink(spool.layout.folder("r1").page)
        // r2's status rewritten after its page, with a description the page must show.
        let statusPath = spool.layout.folder("r2").status
        var status = try JSON.decode(JobStatus.self, from: try FileOps.readFile(statusPath))
        status.description = "changed-while-down"
        Thread.sleep(forTimeInterval: 0.05)
        try FileOps.writeAtomically(statusPath, try JSON.pretty(status))
        try spool.startDaemon()
        try spool.waitForPage(spool.layout.folder("r1").page, containing: ["s-completed\">completed</span>"])
        try spool.waitForPage(spool.layout.folder("r2").page, containing: ["changed-while-down"])
        #expect(try FileOps.readFile(spool.layout.folder("r3").page) == kept)
        #expect(spool.stopDaemon() == 0)
    }

    @Test func pagesOffWritesNone() throws {
        let spool = try TestSpool(config: "pages: off")
        try spool.startDaemon()
        try spool.drop("quiet.yaml", "steps: [{name: a, run: \"true\"}]\n")
        try spool.waitFor("quiet")
        Thread.sleep(forTimeInterval: 2.5)
        #expect(!FileOps.exists(spool.layout.page("index.html")))
        #expect(!FileOps.exists(spool.layout.folder("quiet").page))
        #expect(!FileOps.exists(spool.layout.rejectedPage))
    }
}
