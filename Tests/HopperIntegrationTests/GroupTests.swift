// Groups (`foreach:`) and dependencies (`after:`) with the real daemon: a sheet becomes one job
// per row, a bad row rejects the group whole naming the sheet's line, the group's status and
// control apply to its children, dependencies wait without a slot and end at once when one
// fails, a SIGKILL while a 1,000-row group is accepted leaves all its children or none, and
// the instrument flow of Workflows/examples/instrument-flow runs end to end.
import Foundation
import HopperCore
import HopperStore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TestSpool {
    func groupStatus(_ id: String) throws -> GroupStatus {
        try JSON.decode(GroupStatus.self, from: try FileOps.readFile(layout.status(id)))
    }

    /// Waits until the group's status.json says one of `states`.
    func waitForGroup(_ id: String, _ states: Set<JobState> = [.completed, .failed, .cancelled], timeout: Double = 90) throws -> GroupStatus {
        var last: GroupStatus?
        let ok = eventually(timeout: timeout) {
            last = try? groupStatus(id)
            return last.map { states.contains($0.state) } ?? false
        }
        guard ok, let last else {
            throw TestFailure("group \(id) did not reach \(states); last \(String(describing: last?.state)) \(String(describing: last?.counts))\n\(logText())")
        }
        return last
    }

    func write(_ path: String, _ text: String) throws {
        let full = path.hasPrefix("/") ? path : root + "/" + path
        try FileManager.default.createDirectory(atPath: FileOps.split(full).0, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }
}

extension Integration {
    @Suite struct Groups {
        @Test func aSampleSheetBecomesOneJobPerRowAndEachRunsToTheEnd() throws {
            let spool = try TestSpool(config: "max_running: 2")
            try spool.startDaemon()
            try spool.write("data/samples.csv", "sample,greeting\nS1,hi\nS2,hello\n\nS3,hi\n")
            for s in ["S1", "S2", "S3"] { try spool.write("data/\(s).txt", "reads of \(s)\n") }
            try spool.drop("run42.yaml", """
                foreach: {samplesheet: data/samples.csv, key: sample}
                params: {greeting: hello, tag: shared}
                inputs: {reads: "data/{sample}.txt"}
                steps:
                  - name: a
                    run: echo "$HOPPER_PARAM_GREETING $HOPPER_PARAM_SAMPLE $HOPPER_PARAM_TAG" > out.txt; cat "$HOPPER_INPUT_READS" >> out.txt
                    outputs: [out.txt]
                """)
            let group = try spool.waitForGroup("run42")
            #expect(group.state == .completed)
            #expect(group.children == ["run42.S1", "run42.S2", "run42.S3"])
            #expect(group.counts["completed"] == 3)
            #expect(group.progress == 1)
            #expect(group.samplesheet == "sheet/samples.csv")
            #expect(FileOps.exists(spool.layout.job("run42") + "/sheet/samples.csv"))
            for (s, greeting) in [("S1", "hi"), ("S2", "hello"), ("S3", "hi")] {
                let child = try spool.status("run42.\(s)")
                #expect(child.state == .completed)
                #expect(child.group == "run42")
                let out = try String(contentsOfFile: spool.layout.job("run42.\(s)") + "/results/out.txt", encoding: .utf8)
                #expect(out == "\(greeting) \(s) shared\nreads of \(s)\n")
            }
            let wait = try spool.hopper("wait", "run42", "--spool", spool.root)
            #expect(wait.code == 0, "\(wait.stdout)\(wait.stderr)")
            let status = try spool.hopper("status", "run42", "--spool", spool.root)
            #expect(status.code == 0)
            #expect(status.stdout.contains("run42  group  completed"), "\(status.stdout)")
            #expect(status.stdout.contains("3 completed"))
            let ls = try spool.hopper("ls", "--spool", spool.root)
            #expect(ls.stdout.contains("group of 3 jobs: 3 completed"), "\(ls.stdout)")
            #expect(!ls.stdout.contains("run42.S1"), "children are listed with --group")
            let children = try spool.hopper("ls", "--group", "run42", "--format", "id,state", "--noheader", "--spool", spool.root)
            #expect(children.stdout == "run42.S3 completed\nrun42.S2 completed\nrun42.S1 completed\n", "\(children.stdout)")
            let events = try String(contentsOfFile: spool.layout.events("run42"), encoding: .utf8)
            #expect(events.contains("\"event\":\"accepted\"") && events.contains("\"event\":\"completed\""), "\(events)")
            // The group's page lists its jobs, each linked to its own page, which links back.
            let page = spool.layout.job("run42") + "/index.html"
            let ended = eventually(timeout: 20) {
                (try? String(contentsOfFile: page, encoding: .utf8))?.contains("s-completed\">completed</span>") ?? false
            }
            #expect(ended, "no group page saying completed")
            let html = (try? String(contentsOfFile: page, encoding: .utf8)) ?? ""
            for s in ["S1", "S2", "S3"] { #expect(html.contains("href=\"../run42.\(s)/index.html\""), "\(html)") }
            #expect(html.contains("href=\"sheet/samples.csv\""))
            #expect(PagesTests().brokenLinks(page, html).isEmpty, "\(html)")
            let dom = try PagesTests().chromiumDOM(page)
            #expect(dom.contains("s-completed\">completed</span>") && dom.contains("run42.S3</a>"), "\(dom)")
            let childPage = (try? String(contentsOfFile: spool.layout.job("run42.S1") + "/index.html", encoding: .utf8)) ?? ""
            #expect(childPage.contains("href=\"../run42/index.html\""))
            // The spool page has the group on one line, linked to its page.
            let index = spool.root + "/index.html"
            #expect(eventually(timeout: 20) {
                (try? String(contentsOfFile: index, encoding: .utf8))?.contains("3 jobs: 3 completed") ?? false
            }, "\((try? String(contentsOfFile: index, encoding: .utf8)) ?? "")")
            let spoolHTML = (try? String(contentsOfFile: index, encoding: .utf8)) ?? ""
            #expect(spoolHTML.contains("href=\"outbox/run42/index.html\">run42</a>"))
            #expect(PagesTests().brokenLinks(index, spoolHTML).isEmpty)
        }

        @Test func aBadRowRejectsTheGroupWholeNamingTheSheetsLine() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.write("data/bad.csv", "sample,greeting\nS1,hi\nS2,hey\nS3,hello\n")
            try spool.drop("bad.yaml", "workflow: hello\nforeach: {samplesheet: data/bad.csv}\nparams: {name: Ada}\n")
            #expect(eventually { spool.isRejected("bad.yaml") }, "\(spool.logText())")
            let r = try spool.rejection("bad.yaml")
            #expect(r.reason == "invalid group")
            #expect(r.formatted.contains("bad.csv:3: row S2: params.greeting: expected one of hello, hi; got \"hey\""), "\(r.formatted)")
            #expect(!spool.outboxIDs().contains { $0.hasPrefix("bad") }, "no child of a rejected group exists")

            try spool.write("data/dup.csv", "sample\nS1\nS2\nS1\n")
            try spool.drop("dup.yaml", "foreach: {samplesheet: data/dup.csv}\nsteps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("dup.yaml") })
            #expect(try spool.rejection("dup.yaml").formatted.contains("dup.csv:4: row S1: sample: key \"S1\" is also the key of the row on line 2"))

            try spool.write("data/key.csv", "sample\nS1\nS 2\n")
            try spool.drop("key.yaml", "foreach: {samplesheet: data/key.csv}\nsteps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("key.yaml") })
            #expect(try spool.rejection("key.yaml").formatted.contains("key.csv:3: row S 2: sample: \"S 2\" cannot name a job"))

            try spool.drop("big.yaml", "foreach: {rows: [{s: a}, {s: b}, {s: c}]}\nsteps: [{name: a, run: \"true\"}]\n")
            try spool.drop("nocol.yaml", "foreach: {rows: [{s: a}]}\ninputs: {r: \"/x/{lane}.fq\"}\nsteps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("nocol.yaml") })
            #expect(try spool.rejection("nocol.yaml").formatted.contains("inputs.r: {lane} is not a column of nocol.yaml; its columns are s"))
            // The group of inline rows is accepted (max_group_size is 10,000 by default).
            #expect(try spool.waitForGroup("big").state == .completed)
        }

        @Test func maxGroupSizeAndIlluminaSheets() throws {
            let spool = try TestSpool(config: "max_group_size: 2")
            try spool.startDaemon()
            try spool.drop("three.yaml", "foreach: {rows: [{s: a}, {s: b}, {s: c}]}\nsteps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("three.yaml") })
            #expect(try spool.rejection("three.yaml").formatted.contains("the group has 3 rows; this daemon takes at most 2 per group (max_group_size)"))
            let sheet = try String(contentsOfFile: Paths.repo + "/Workflows/examples/instrument-flow/SampleSheet.csv", encoding: .utf8)
            try spool.write("data/SampleSheet.csv", sheet.replacingOccurrences(of: "S3,GATCGATC,CCAATTGG\n", with: ""))
            try spool.drop("ilmn.yaml", """
                foreach: {samplesheet: data/SampleSheet.csv, key: Sample_ID}
                steps: [{name: a, run: "test \\"$HOPPER_PARAM_INDEX\\" != ''"}]
                """)
            let group = try spool.waitForGroup("ilmn")
            #expect(group.state == .completed)
            #expect(group.children == ["ilmn.S1", "ilmn.S2"])
        }

        @Test func groupControlAppliesToItsChildren() throws {
            let spool = try TestSpool(config: "max_running: 4")
            try spool.startDaemon()
            let fix = spool.base + "/fixed"
            try spool.drop("ctl.yaml", """
                foreach: {rows: [{s: A}, {s: B}, {s: C}]}
                steps: [{name: a, run: "test \\"$HOPPER_PARAM_S\\" != B || test -e \(fix)"}]
                """)
            let failed = try spool.waitForGroup("ctl")
            #expect(failed.state == .failed)
            #expect(failed.counts["completed"] == 2 && failed.counts["failed"] == 1)
            let wait = try spool.hopper("wait", "ctl", "--spool", spool.root)
            #expect(wait.code == 1)
            #expect(wait.stdout.contains("ctl failed: group: 1 failed, 0 cancelled of 3 jobs"), "\(wait.stdout)")

            _ = FileManager.default.createFile(atPath: fix, contents: Data())
            let retry = try spool.hopper("retry", "ctl", "--spool", spool.root)
            #expect(retry.code == 0, "\(retry.stdout)\(retry.stderr)")
            #expect(try spool.waitForGroup("ctl", [.completed]).counts["completed"] == 3)
            #expect(try spool.status("ctl.A").steps[0].attempts.count == 1, "a completed child is not run again")
            #expect(try spool.status("ctl.B").steps[0].attempts.count == 2)
            let again = try spool.hopper("retry", "ctl", "--spool", spool.root)
            #expect(again.code == 1 && again.stderr.contains("no job of group ctl is failed or cancelled"), "\(again.stderr)")

            try spool.drop("slow.yaml", "foreach: {rows: [{s: A}, {s: B}]}\nsteps: [{name: a, run: sleep 300}]\n")
            #expect(eventually { (try? spool.groupStatus("slow"))?.counts["running"] == 2 })
            let cancel = try spool.hopper("cancel", "slow", "--spool", spool.root)
            #expect(cancel.code == 0, "\(cancel.stdout)\(cancel.stderr)")
            let cancelled = try spool.waitForGroup("slow")
            #expect(cancelled.state == .cancelled && cancelled.counts["cancelled"] == 2)
        }

        @Test func dependenciesWaitWithoutASlotAndAFailureCancelsAtOnce() throws {
            let spool = try TestSpool(config: "max_running: 1")
            try spool.startDaemon()
            let gate = spool.base + "/gate"
            try spool.drop("first.yaml", "steps: [{name: a, run: \"while ! test -e \(gate); do sleep 0.05; done\"}]\n")
            #expect(try spool.waitFor("first", [.running]).state == .running)
            try spool.drop("second.yaml", "after: [first]\nsteps: [{name: a, run: \"true\"}]\n")
            let waiting = try spool.waitFor("second", [.waiting])
            #expect(waiting.waitingFor == ["after job first (running)"])
            let ls = try spool.hopper("ls", "--format", "id,reason", "--noheader", "--state", "waiting", "--spool", spool.root)
            #expect(ls.stdout.contains("second after job first (running)"), "\(ls.stdout)")

            try spool.drop("bad.yaml", "after: [first]\nsteps: [{name: a, run: \"exit 3\"}]\n")
            try spool.drop("third.yaml", "after: [bad]\nsteps: [{name: a, run: \"true\"}]\n")
            try spool.drop("fourth.yaml", "after: [bad]\nafter_mode: any\nsteps: [{name: a, run: \"true\"}]\n")
            try spool.drop("grouped.yaml", "foreach: {rows: [{s: x}, {s: y}]}\nafter: [bad]\nsteps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isAccepted("third") && spool.isAccepted("fourth") && spool.isAccepted("grouped.x") })
            try spool.drop("nope.yaml", "after: [missing]\nsteps: [{name: a, run: \"true\"}]\n")
            try spool.drop("loop.yaml", "after: [loop]\nsteps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("nope.yaml") && spool.isRejected("loop.yaml") })
            #expect(try spool.rejection("nope.yaml").formatted.contains("job or group missing does not exist"))
            #expect(try spool.rejection("loop.yaml").formatted.contains("cycle"))

            _ = FileManager.default.createFile(atPath: gate, contents: Data())
            #expect(try spool.waitFor("first").state == .completed)
            #expect(try spool.waitFor("second").state == .completed)
            #expect(try spool.waitFor("bad").state == .failed)
            let third = try spool.waitFor("third")
            #expect(third.state == .cancelled)
            #expect(third.error?.message == "dependency bad failed")
            #expect(third.startedAt == nil)
            #expect(try spool.waitFor("fourth").state == .completed, "after_mode: any runs once it ended")
            #expect(try spool.waitForGroup("grouped").state == .cancelled)

            // A job after a group starts when every child completed.
            try spool.drop("g2.yaml", "foreach: {rows: [{s: x}, {s: y}]}\nsteps: [{name: a, run: sleep 0.3}]\n")
            try spool.drop("after-g2.yaml", "after: [g2]\nsteps: [{name: a, run: \"true\"}]\n")
            let done = try spool.waitFor("after-g2")
            #expect(done.state == .completed)
            let g2 = try spool.waitForGroup("g2")
            #expect(g2.state == .completed)
            let children = try [spool.status("g2.x"), spool.status("g2.y")].compactMap(\.finishedAt)
            #expect(children.allSatisfy { $0 <= (done.startedAt ?? "") }, "it started after both children ended")
        }

        @Test func sigkillWhileAThousandRowGroupIsAcceptedLeavesAllChildrenOrNone() throws {
            let spool = try TestSpool(config: "max_running: 1")
            var sheet = "sample,n\n"
            for i in 0..<1000 { sheet += String(format: "S%04d,%d\n", i, i) }
            try spool.write("data/big.csv", sheet)
            try spool.startDaemon()
            var rng = SystemRandomNumberGenerator()
            var committedAtKill = 0
            let rounds = 6
            for round in 0..<rounds {
                let id = "big\(round)"
                // The children never start: each waits for a file that never comes.
                try spool.drop(id + ".yaml", """
                    foreach: {samplesheet: data/big.csv, key: sample}
                    wait_for: {paths: [\(spool.base)/never]}
                    steps: [{name: a, run: "true"}]
                    """)
                if round % 2 == 0 {
                    usleep(UInt32.random(in: 0...300_000, using: &rng))   // mostly before the commit
                } else {
                    // After the commit, while the children are made.
                    _ = eventually(timeout: 30) { FileOps.exists(spool.layout.job(id)) || FileOps.exists(spool.layout.staging + "/" + id + "/manifest.yaml") }
                    usleep(UInt32.random(in: 0...60_000, using: &rng))
                }
                spool.killDaemon()
                let inInbox = FileOps.exists(spool.layout.inbox + "/\(id).yaml")
                let made = spool.outboxIDs().filter { $0.hasPrefix(id + ".") }.count
                if inInbox {
                    #expect(made == 0, "round \(round): \(made) children of a group not yet committed")
                } else {
                    committedAtKill += 1
                    print("round \(round): killed after the commit with \(made) of 1000 children in the outbox")
                }
                try spool.startDaemon()
                #expect(eventually(timeout: 60) { (try? spool.groupStatus(id))?.children.count == 1000 && !FileOps.exists(spool.layout.inbox + "/\(id).yaml") })
                #expect(eventually(timeout: 60) {
                    let store = try? JobStore(readOnlyPath: spool.layout.database)
                    return ((try? store?.children(of: id))??.count ?? 0) == 1000
                })
                let children = spool.outboxIDs().filter { $0.hasPrefix(id + ".") }
                #expect(children.count == 1000, "round \(round): \(children.count) children")
                for child in children.prefix(1000) where !FileOps.exists(spool.layout.manifest(child)) {
                    Issue.record("round \(round): \(child) has no manifest.yaml")
                }
            }
            spool.killDaemon()
            try spool.startDaemon()   // one more recovery pass changes nothing
            usleep(300_000)
            let store = try JobStore(readOnlyPath: spool.layout.database)
            for round in 0..<rounds {
                let ids = try store.children(of: "big\(round)").map(\.id)
                #expect(ids.count == 1000)
                #expect(ids.first == "big\(round).S0000" && ids.last == "big\(round).S0999")
                let events = try String(contentsOfFile: spool.layout.events("big\(round).S0500"), encoding: .utf8)
                #expect(events.components(separatedBy: "\"event\":\"accepted\"").count == 2, "accepted once")
            }
            #expect(((try? FileOps.listDirectory(spool.layout.staging)) ?? []).isEmpty, "staging not empty")
            #expect(spool.inboxNames().isEmpty)
            print("groups committed before the SIGKILL: \(committedAtKill) of \(rounds)")
            #expect(committedAtKill >= rounds / 2, "the odd rounds kill after the commit")
        }

        @Test func theInstrumentFlowRunsEndToEnd() throws {
            let spool = try TestSpool(config: "max_running: 2")
            try spool.startDaemon()
            let example = Paths.repo + "/Workflows/examples/instrument-flow"
            let run = spool.root + "/data/run42"
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: example + "/SampleSheet.csv", toPath: run + "/SampleSheet.csv")
            try spool.write(run + "/RTAComplete.txt", "")
            let demux = try runProgram(Paths.hopper, ["submit", example + "/demux-run42.yaml", "--spool", spool.root], cwd: spool.root)
            #expect(demux.code == 0, "\(demux.stderr)")
            let samples = try runProgram(Paths.hopper, ["submit", "--foreach", "data/run42/SampleSheet.csv", example + "/samples-run42.yaml",
                                                       "--id", "run42", "--spool", spool.root], cwd: spool.root)
            #expect(samples.code == 0, "\(samples.stderr)")
            #expect(try spool.waitFor("demux-run42", [.waiting]).waitingFor == ["data/run42/CopyComplete.txt"])
            #expect(eventually { (try? spool.status("run42.S1"))?.state == .waiting })
            #expect(eventually { (try? spool.status("run42.S2"))?.waitingFor == ["after job demux-run42 (waiting)"] },
                    "\(String(describing: (try? spool.status("run42.S2"))?.waitingFor))")

            try spool.write(run + "/CopyComplete.txt", "")
            #expect(try spool.waitFor("demux-run42").state == .completed)
            let group = try spool.waitForGroup("run42")
            #expect(group.state == .completed, "\(group.counts)")
            for (n, s) in ["S1", "S2", "S3"].enumerated() {
                let reads = try String(contentsOfFile: spool.layout.job("run42.\(s)") + "/results/reads.txt", encoding: .utf8)
                #expect(reads == "\(n + 1)\n", "\(s): \(reads)")
            }
            let wait = try spool.hopper("wait", "demux-run42", "run42", "--spool", spool.root)
            #expect(wait.code == 0)
        }
    }
}
