// Issue 15, as a new user meets it: one configuration for the CLI and the daemon, every mistaken
// drop answered, no silent waits, and squeue/sbatch-grade `ls` and `submit`. Whole outputs.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct LoudMistakes {
        // MARK: one configuration

        @Test func theCLIUsesTheSettingsTheDaemonRunsWith() throws {
            let spool = try TestSpool()
            // The workflows where no guess finds them: only the daemon's config names them.
            let elsewhere = spool.base + "/pipelines"
            try FileManager.default.moveItem(atPath: spool.workflows, toPath: elsewhere)
            var config = try String(contentsOfFile: spool.configPath, encoding: .utf8)
            config = config.replacingOccurrences(of: "workflows: \(spool.workflows)", with: "workflows: \(elsewhere)\nmax_manifest_size: 2K\nsubmit_id: auto")
            try config.write(toFile: spool.configPath, atomically: true, encoding: .utf8)
            let file = spool.base + "/demo-S001.yaml"
            try demoManifest().write(toFile: file, atomically: true, encoding: .utf8)
            try spool.layout.create()

            let before = try runProgram(Paths.hopper, ["validate", file, "--spool", spool.root], cwd: spool.base)
            #expect(before.code == 1)
            #expect(before.stdout == "\(file):1:11: workflow: no workflow directory configured (`workflows:` in the daemon's config; `hopper system` shows it)\n")

            try spool.startDaemon()
            let beat = try #require(spool.heartbeat())
            #expect(beat.config == spool.configPath)
            #expect(beat.workflows == elsewhere)
            let raw = try String(contentsOfFile: spool.layout.heartbeat, encoding: .utf8)
            for key in ["config", "workflows", "snakemake", "problems"] { #expect(raw.contains("\"\(key)\": "), "\(key)") }

            let validate = try runProgram(Paths.hopper, ["validate", file, "--spool", spool.root], cwd: spool.base)
            #expect(validate.code == 0, "\(validate.stdout)")
            #expect(validate.stdout == "\(file): ok (job demo-S001, workflow demo, 3 steps)\n")
            let submit = try runProgram(Paths.hopper, ["submit", file, "--spool", spool.root], cwd: spool.base)
            #expect(submit.code == 0 && submit.stdout == "demo-S001\n", "\(submit.stderr)")
            #expect(submit.stderr.isEmpty, "\(submit.stderr)")
            #expect(eventually { spool.isAccepted("demo-S001") }, "\(spool.logText())")
            // The daemon's config says submit_id: auto, and the CLI follows it.
            let again = try runProgram(Paths.hopper, ["submit", file, "--spool", spool.root], cwd: spool.base)
            #expect(again.code == 0 && again.stdout == "demo-S001-2\n", "\(again.stderr)")
            // The daemon's limits apply to the CLI too.
            let big = spool.base + "/big.yaml"
            try (demoManifest() + "\n#" + String(repeating: "x", count: 3000) + "\n").write(toFile: big, atomically: true, encoding: .utf8)
            let tooBig = try spool.hopper("submit", big, "--spool", spool.root)
            #expect(tooBig.code == 1)
            #expect(tooBig.stderr == "hopper: \(big) is larger than 2048 bytes (max_manifest_size)\n")

            let system = try spool.hopper("system", "--spool", spool.root)
            #expect(system.stdout.contains("\nconfig     \(spool.configPath)\nworkflows  \(elsewhere)\nsnakemake  "), "\(system.stdout)")
        }

        @Test func aDaemonsSettingsThisHostCannotSeeAreSaidAndTheLocalOnesUsed() throws {
            let spool = try TestSpool()
            try spool.layout.create()
            try writeHeartbeat(spool.layout, interval: 3600, config: "/nonexistent/hopper.yaml", workflows: "/nonexistent/Workflows")
            let file = spool.base + "/demo-S001.yaml"
            try demoManifest().write(toFile: file, atomically: true, encoding: .utf8)
            let r = try runProgram(Paths.hopper, ["validate", file, "--spool", spool.root], cwd: spool.base)
            #expect(r.code == 0, "\(r.stdout)")
            #expect(r.stdout == "\(file): ok (job demo-S001, workflow demo, 3 steps)\n")
            #expect(r.stderr.hasPrefix("hopper: warning: cannot read the daemon's config /nonexistent/hopper.yaml ("), "\(r.stderr)")
            #expect(r.stderr.hasSuffix("; checking with the defaults: name a config with --config; the daemon's workflow directory /nonexistent/Workflows is not a folder on this host; checking with \(spool.workflows): give one with --workflows or --config\n"), "\(r.stderr)")
        }

        @Test func aDaemonWithoutWorkflowsOrSnakemakeSaysSoAtStart() throws {
            let spool = try TestSpool(copyWorkflows: false)
            try FileManager.default.removeItem(atPath: spool.workflows)
            var config = try String(contentsOfFile: spool.configPath, encoding: .utf8)
            config = config.replacingOccurrences(of: "workflows: \(spool.workflows)\n", with: "")
            try config.write(toFile: spool.configPath, atomically: true, encoding: .utf8)
            spool.extraEnv["HOPPER_SNAKEMAKE"] = spool.base + "/no-snakemake"
            spool.extraEnv["PATH"] = "/usr/bin:/bin"
            try spool.startDaemon()
            let log = spool.logText()
            #expect(log.contains("warning daemon.no_workflows reason=\"no workflow directory: manifests naming a workflow are rejected, only inline steps run; set `workflows:` in the config\""), "\(log)")
            #expect(log.contains("warning daemon.no_snakemake"), "\(log)")
            let system = try spool.hopper("system", "--spool", spool.root)
            #expect(system.stdout.contains("""

                workflows  NONE: manifests naming a workflow are rejected; set `workflows:` in the config
                snakemake  NOT FOUND: Snakemake steps fail; run scripts/setup-snakemake or set `snakemake:`

                """), "\(system.stdout)")
            let beat = try #require(spool.heartbeat())
            #expect(beat.workflows == nil && beat.snakemake == nil)
        }

        // MARK: every plausible manifest gets an answer

        @Test(arguments: SpoolPlace.allCases) func misnamedAndMisplacedManifestsAreRejectedSayingWhatToDo(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            let inbox = spool.writerLayout.inbox
            for folder in ["My Queue", "seqA/sub", ".snapshot"] {
                try FileManager.default.createDirectory(atPath: inbox + "/" + folder, withIntermediateDirectories: true)
            }
            #expect(eventually { spool.heartbeat()?.problems?.count == 2 }, "\(String(describing: spool.heartbeat()?.problems))")
            try spool.drop("RUN.YAML", demoManifest())
            try spool.drop("run.yaml.txt", demoManifest())
            try spool.drop("a.yaml", demoManifest(), queue: "My Queue")
            try spool.drop("b.yaml", demoManifest(), queue: "seqA/sub")
            try spool.drop("c.yaml", demoManifest(), queue: ".snapshot")
            try spool.drop("ok.yaml", demoManifest(), queue: "seqA")
            let expected = [
                ("RUN.YAML", "misnamed manifest",
                 "RUN.YAML is not read as a manifest: manifest names end in .yaml or .yml, in lower case; rename it to RUN.yaml and drop it again"),
                ("run.yaml.txt", "misnamed manifest",
                 "run.yaml.txt is not read as a manifest: the name ends in .txt (added by an editor, or hidden by Windows); rename it to run.yaml and drop it again"),
                ("a.yaml", "not in an inbox folder",
                 "inbox/My Queue/ is not a queue (queue names must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}): put the manifest in inbox/ or in a queue folder, or rename the folder, e.g. to inbox/My_Queue/"),
                ("b.yaml", "not in an inbox folder",
                 "inbox/seqA/sub/ is nested too deep: manifests are taken only from inbox/ and inbox/<queue>/; move the manifest to inbox/seqA/"),
            ]
            for (file, reason, message) in expected {
                #expect(eventually { spool.isRejected(file) }, "\(file): \(spool.logText())")
                let r = try spool.rejection(file)
                #expect(r.reason == reason, "\(file)")
                #expect(r.errors.map(\.message) == [message], "\(file)")
            }
            #expect(eventually { spool.isAccepted("ok") })
            // `hopper status RUN` finds RUN.YAML and says why.
            let run = try spool.hopper("status", "RUN", "--spool", spool.root)
            #expect(run.code == 1)
            #expect(run.stderr.hasPrefix("hopper: RUN.YAML was rejected (misnamed manifest), see \(spool.layout.rejected)/RUN.YAML.error.json:\n"), "\(run.stderr)")
            #expect(run.stderr.contains("rename it to RUN.yaml and drop it again"))
            #expect(try spool.status("ok").queue == "seqA")
            // Hidden folders (a filer's .snapshot) are nobody's drop folder: left alone.
            #expect(FileOps.exists(spool.layout.inbox + "/.snapshot/c.yaml"))
            #expect(spool.inboxNames(queue: "My Queue").isEmpty && spool.inboxNames(queue: "seqA/sub").isEmpty)

            let system = try spool.hopper("system", "--spool", spool.root)
            #expect(system.stdout.contains("""
                problem    \(spool.layout.inbox)/My Queue: \(expected[2].2)
                problem    \(spool.layout.inbox)/seqA/sub: \(expected[3].2)
                """), "\(system.stdout)")
            // Beside each such folder (it cannot be moved to rejected/) the same, as .error.json;
            // and each is counted in the backlog metric, waiting for a person.
            for (folder, message) in [("My Queue", expected[2].2), ("seqA/sub", expected[3].2)] {
                let note = spool.layout.inbox + "/" + folder + ".error.json"
                #expect(eventually { FileOps.exists(note) }, "no \(note)")
                let r = try JSON.decode(Rejection.self, from: try FileOps.readFile(note))
                #expect(r.reason == "folder not taken from" && r.errors.map(\.message) == [message], "\(r)")
                #expect(r.source == "inbox/" + folder)
            }
            func backlog() -> String? {
                let text = (try? String(contentsOfFile: spool.layout.metrics + "/hopper.prom", encoding: .utf8)) ?? ""   // silent: not written yet
                return text.split(separator: "\n").first { $0.hasPrefix("hopper_intake_backlog ") }.map(String.init)
            }
            #expect(eventually { backlog() == "hopper_intake_backlog 2" }, "\(String(describing: backlog()))")
            // The folder fixed, the problem is gone, and its note with it.
            try FileManager.default.removeItem(atPath: inbox + "/My Queue")
            #expect(eventually { spool.heartbeat()?.problems?.map(\.path) == [spool.layout.inbox + "/seqA/sub"] })
            #expect(eventually { !FileOps.exists(spool.layout.inbox + "/My Queue.error.json") })
            #expect(eventually { backlog() == "hopper_intake_backlog 1" }, "\(String(describing: backlog()))")
        }

        // MARK: no silent waits

        @Test func aKilledDaemonIsSaidWithinThreeIntervals() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("long.yaml", "steps: [{name: a, run: \"echo started; sleep 30\"}]\n")
            _ = try spool.waitFor("long", [.running])
            #expect(eventually { (try? String(contentsOfFile: spool.layout.job("long") + "/logs/a.log", encoding: .utf8))?.contains("started") == true })
            #expect(try spool.hopper("system", "--spool", spool.root).code == 0)
            spool.killDaemon()
            let killed = Date()
            #expect(eventually(timeout: 10) { (try? spool.hopper("system", "--spool", spool.root))?.code == 1 })
            let took = Date().timeIntervalSince(killed)
            #expect(took < 6.5, "noticed \(took) s after SIGKILL; the heartbeat is every 2 s")

            let system = try spool.hopper("system", "--spool", spool.root)
            #expect(system.code == 1)
            #expect(system.stdout.hasPrefix("daemon     NOT RUNNING (state running, pid "), "\(system.stdout)")
            #expect(system.stdout.contains("(more than 3 intervals of 2 s): the daemon was killed or hangs; check `systemctl status hopper` or its log\n"))
            #expect(system.stdout.contains("\nintake     unknown: no daemon takes manifests; dropped files wait in the inbox\n"))

            let warning = "hopper: warning: no hopper daemon is running on \(spool.root): no heartbeat for "
            let advice = "; nothing changes until it runs again: check with `hopper system` (and `systemctl status hopper` where it is a service)\n"
            let status = try spool.hopper("status", "long", "--spool", spool.root)
            #expect(status.code == 0 && status.stdout.hasPrefix("long  running"))
            #expect(status.stderr.hasPrefix(warning) && status.stderr.hasSuffix(advice), "\(status.stderr)")

            let wait = try spool.hopper("wait", "long", "--timeout", "1500ms", "--spool", spool.root)
            #expect(wait.code == 124)
            #expect(wait.stdout == "long running (0%)\n")
            #expect(wait.stderr.hasPrefix(warning), "\(wait.stderr)")
            #expect(wait.stderr.hasSuffix(advice + "hopper: timed out after 1500ms waiting for long\n"), "\(wait.stderr)")

            let logs = try runProgram("/usr/bin/timeout", ["2", Paths.hopper, "logs", "long", "--follow", "--spool", spool.root])
            #expect(logs.code == 124)   // still following: timeout(1) ended it
            #expect(logs.stdout.contains("started\n"))
            #expect(logs.stderr.hasPrefix(warning) && logs.stderr.hasSuffix(advice), "\(logs.stderr)")
        }

        // MARK: hopper ls

        @Test func lsFiltersLikeSqueueAndSaysWhyJobsWait() throws {
            let spool = try TestSpool(config: "max_running: 1\nqueues:\n  fast: {}")
            try spool.startDaemon()
            try spool.drop("fail1.yaml", "steps: [{name: a, run: \"exit 3\"}]\n")
            _ = try spool.waitFor("fail1", [.failed])
            usleep(5_000)
            try spool.drop("busy.yaml", "steps: [{name: a, run: \"sleep 30\"}]\n")
            _ = try spool.waitFor("busy", [.running])
            usleep(5_000)
            try spool.drop("p1.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("p1") })
            usleep(5_000)
            try FileManager.default.createDirectory(atPath: spool.layout.inbox + "/fast", withIntermediateDirectories: false)
            usleep(100_000)
            try spool.drop("p2.yaml", demoManifest(), queue: "fast")
            #expect(eventually { spool.isAccepted("p2") })

            let expected = """
                p2    pending fast    waiting for a slot (1/1 running)
                p1    pending default waiting for a slot (1/1 running)
                busy  running default -
                fail1 failed  default step a exited with 3

                """
            // Once the store has indexed every change (it follows status.json closely).
            func table() throws -> CommandResult {
                try spool.hopper("ls", "--format", "id,state,queue,reason", "--noheader", "--spool", spool.root)
            }
            #expect(eventually { (try? table())?.stdout == expected })
            let shown = try table()
            #expect(shown.code == 0 && shown.stderr.isEmpty, "\(shown.stderr)")
            #expect(shown.stdout == expected, "\(shown.stdout)")
            let header = try spool.hopper("ls", "--state", "running", "--spool", spool.root)
            let lines = header.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.hasPrefix("ID   STATE   POSITION QUEUE   OWNER") == true, "\(header.stdout)")
            #expect(lines.first?.hasSuffix(" SUBMITTED           ELAPSED PROGRESS WORKFLOW REASON") == true, "\(header.stdout)")
            #expect(lines.last?.hasPrefix("busy running -        default ") == true, "\(header.stdout)")
            // A pending job's place in the scheduler's order: one owner, one priority: first queued, first.
            let order = try spool.hopper("ls", "--state", "pending", "--format", "id,position", "--noheader", "--spool", spool.root)
            #expect(order.stdout == "p2 2\np1 1\n", "\(order.stdout)")
            // Repeated and comma-separated states add up.
            let comma = try spool.hopper("ls", "--state", "pending,failed", "--format", "id", "--noheader", "--spool", spool.root)
            let repeated = try spool.hopper("ls", "--state", "pending", "--state", "failed", "--format", "id", "--noheader", "--spool", spool.root)
            #expect(comma.stdout == "p2\np1\nfail1\n")
            #expect(repeated.stdout == comma.stdout)
            let queue = try spool.hopper("ls", "--queue", "fast", "--format", "id", "--noheader", "--spool", spool.root)
            #expect(queue.stdout == "p2\n")
            let since = try spool.hopper("ls", "--since", "1h", "--owner", Accounts.currentUser, "--format", "id", "--noheader", "--spool", spool.root)
            #expect(since.stdout == "p2\np1\nbusy\nfail1\n")
            // --json: the same keys for every job, null where empty.
            let json = try spool.hopper("ls", "--json", "--spool", spool.root)
            let objects = try json.stdout.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(objects.count == 4)
            let keys = ["id", "state", "position", "queue", "owner", "uid", "priority", "workflow", "description", "submitted_at", "updated_at",
                        "started_at", "finished_at", "elapsed_seconds", "progress", "current_step", "reason", "kind", "group"]
            for object in objects { #expect(Set(object.keys) == Set(keys), "\(object)") }
            #expect(objects[0]["reason"] as? String == "waiting for a slot (1/1 running)")
            #expect(objects[0]["started_at"] is NSNull)
            #expect(objects[0]["position"] as? Int == 2 && objects[2]["position"] is NSNull, "\(objects)")
            let bad = try spool.hopper("ls", "--format", "id,nope", "--spool", spool.root)
            #expect(bad.code == 64 && bad.stderr.contains("unknown field \"nope\" in --format"), "\(bad.stderr)")

            // The default limit says when it cut the list.
            for i in 0..<48 { try spool.drop("q\(i).yaml", demoManifest()) }
            #expect(eventually { (0..<48).allSatisfy { spool.isAccepted("q\($0)") } })
            // Accepted, then indexed in the store that ls reads.
            #expect(eventually {
                (try? spool.hopper("ls", "--limit", "0", "--noheader", "--format", "id", "--spool", spool.root))?.stdout
                    .split(separator: "\n").count == 52
            })
            let cut = try spool.hopper("ls", "--spool", spool.root)
            #expect(cut.stdout.split(separator: "\n").count == 51)
            #expect(cut.stderr == "hopper: showing the newest 50 jobs; more match: --limit 0 shows all, --limit N more\n")
            let all = try spool.hopper("ls", "--limit", "0", "--spool", spool.root)
            #expect(all.stdout.split(separator: "\n").count == 53 && all.stderr.isEmpty)

            // Bulk cancel: several ids, or as ls chooses them.
            let two = try spool.hopper("cancel", "busy", "p1", "--spool", spool.root)
            #expect(two.code == 0 && two.stdout == "cancel busy: accepted\ncancel p1: accepted\n", "\(two.stderr)")
            let none = try spool.hopper("cancel", "--owner", "nobody-here", "--spool", spool.root)
            #expect(none.code == 0 && none.stdout == "no jobs to cancel\n")
            let done = try spool.hopper("cancel", "--state", "failed", "--spool", spool.root)
            #expect(done.code == 1 && done.stderr == "hopper: job fail1 is failed; cancel applies to pending, waiting, queued or running jobs\n")
        }

        // MARK: hopper workflows

        @Test func workflowsListsWhatCanBeSubmittedAndDeclaredInputsAreRequired() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let list = try spool.hopper("workflows", "--spool", spool.root)
            #expect(list.code == 0, "\(list.stderr)")
            #expect(list.stdout == """
                NAME             DESCRIPTION
                demo             Demo workflow with three mock steps
                hello            Greets someone and publishes greeting.txt
                qslam            qsLAM-PCR integration sites (UMIs, trimming, mapping, site clustering; toy, stdlib Python)
                readmap          Read QC, 3' quality trimming, ungapped mapping and a report (toy, stdlib Python)
                run-check        Sequencer run folder check (RunInfo.xml, per-lane base-call inventory, report)
                variant-calling  Toy germline SNV calling (Snakemake, 20 jobs) with a VCF 4.2 and stats

                """, "\(list.stdout)")
            let one = try spool.hopper("workflows", "readmap", "--spool", spool.root)
            #expect(one.stdout == """
                readmap: Read QC, 3' quality trimming, ungapped mapping and a report (toy, stdlib Python)
                  file     \(spool.workflows)/readmap.yaml
                  params
                    sample          string, required, matching ^[A-Za-z0-9._-]+$: Sample name, shown in the report
                    min_quality     integer, default 20, 0…60: Trim 3' bases whose Phred quality is below this
                    min_length      integer, default 30, 1…: Drop reads shorter than this after trimming
                    max_mismatches  integer, default 2, 0…5: Substitutions allowed when mapping a read
                  inputs
                    reads      required: FASTQ reads of the sample
                    reference  required: reference FASTA
                  steps    qc, trim, align, report

                """, "\(one.stdout)")
            let unknown = try spool.hopper("workflows", "nope", "--spool", spool.root)
            #expect(unknown.code == 1 && unknown.stderr == "hopper: no workflow nope in \(spool.workflows); `hopper workflows` lists them\n")

            // A manifest without a declared input is rejected at intake, naming it.
            try spool.drop("rm1.yaml", "workflow: readmap\nparams: {sample: S1}\ninputs: {reads: a.fq}\n")
            #expect(eventually { spool.isRejected("rm1.yaml") }, "\(spool.logText())")
            let r = try spool.rejection("rm1.yaml")
            #expect(r.errors.map(\.message) == ["missing required input \"reference\" (workflow readmap: reference FASTA)"])
            #expect(r.errors.first?.line == 3 && r.errors.first?.column == 1)
        }

        // MARK: hopper submit

        @Test func submitTakesSeveralFilesStdinParamsAndChecksInputsFromTheCurrentDirectory() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let dir = spool.base + "/work"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "x\n".write(toFile: dir + "/reads.txt", atomically: true, encoding: .utf8)
            let a = "workflow: hello\nparams: {name: Ada}\ninputs: {reads: reads.txt}\n"
            let b = "workflow: hello  # as written\nparams: {name: Bob}\n"
            try a.write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
            try b.write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
            try "workflow: hello\nparams: {name: Cy}\ninputs: {reads: nope.txt}\n".write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
            func submit(_ args: String..., stdin: String? = nil) throws -> CommandResult {
                try runProgram(Paths.hopper, ["submit"] + args + ["--spool", spool.root], cwd: dir, stdin: stdin)
            }

            let two = try submit("a.yaml", "b.yaml")
            #expect(two.code == 0 && two.stdout == "a\nb\n" && two.stderr.isEmpty, "\(two.stderr)")
            #expect(eventually { spool.isAccepted("a") && spool.isAccepted("b") })
            // The relative input is written absolute; a manifest nothing changes is dropped as it is.
            #expect(try String(contentsOfFile: spool.layout.manifest("a"), encoding: .utf8)
                    == "workflow: hello\nparams:\n  name: Ada\ninputs:\n  reads: \"\(dir)/reads.txt\"\n")
            #expect(try String(contentsOfFile: spool.layout.manifest("b"), encoding: .utf8) == b)
            #expect(try spool.waitFor("a").state == .completed)

            let piped = try submit("-", "--id", "auto", "--param", "greeting=hi", stdin: "workflow: hello\nparams: {name: Di}\n")
            #expect(piped.code == 0 && piped.stdout == "stdin\n", "\(piped.stderr)")
            let noFile = try submit("--workflow", "hello", "--param", "name=Eve", "--id", "auto")
            let again = try submit("--workflow", "hello", "--param", "name=Eve", "--id", "auto")
            #expect(noFile.stdout == "hello\n" && again.stdout == "hello-2\n", "\(noFile.stderr)\(again.stderr)")
            #expect(eventually { spool.isAccepted("stdin") && spool.isAccepted("hello-2") })
            #expect(try String(contentsOfFile: spool.layout.manifest("stdin"), encoding: .utf8)
                    == "workflow: hello\nparams:\n  name: Di\n  greeting: hi\n")

            let missing = try submit("c.yaml")
            #expect(missing.code == 1)
            #expect(missing.stderr == "hopper: c.yaml: input reads: \(dir)/nope.txt does not exist (relative paths are taken from the current directory)\n")
            let oneBad = try submit("b.yaml", "c.yaml", "--id", "auto")
            #expect(oneBad.code == 1 && oneBad.stdout.isEmpty)
            #expect(oneBad.stderr.hasSuffix("hopper: 1 of 2 manifests are not right; nothing was submitted\n"), "\(oneBad.stderr)")
            let badParam = try submit("b.yaml", "--id", "auto", "--param", "greeting=howdy")
            #expect(badParam.code == 1)
            #expect(badParam.stderr.hasPrefix("b.yaml:"), "\(badParam.stderr)")
            #expect(badParam.stderr.contains("params.greeting: expected one of hello, hi; got \"howdy\""), "\(badParam.stderr)")
            #expect(badParam.stderr.hasSuffix("hopper: b.yaml is not a valid manifest; nothing was submitted\n"))
            #expect(spool.inboxNames().isEmpty)

            let unknownQueue = try submit("b.yaml", "--id", "auto", "--queue", "newq")
            #expect(unknownQueue.code == 1)
            #expect(unknownQueue.stderr == "hopper: no queue newq: \(spool.layout.inbox)/newq does not exist and the config names no such queue; --create-queue makes it\n")
            let created = try submit("b.yaml", "--id", "auto", "--queue", "newq", "--create-queue")
            #expect(created.code == 0 && created.stdout == "b-2\n", "\(created.stderr)")
            let st = try #require(try FileOps.lstat(spool.layout.inbox + "/newq"))
            #expect(st.st_mode & 0o7777 == 0o1777)
            #expect(eventually { spool.isAccepted("b-2") })

            let twoWithID = try submit("a.yaml", "b.yaml", "--id", "x1")
            #expect(twoWithID.code == 64)
            #expect(twoWithID.stderr.contains("--id x1 names one job, but 2 files are given; use --id auto"), "\(twoWithID.stderr)")
            let stdinNoID = try submit("-", stdin: "workflow: hello\n")
            #expect(stdinNoID.code == 64 && stdinNoID.stderr.contains("give --id ID (or --id auto)"))
        }

        // MARK: control

        @Test func aCleanedJobIsRerunWholeOrNotAtAll() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("c1.yaml", "steps:\n  - {name: a, run: \"echo made > made.txt\"}\n  - {name: b, run: \"test -e made.txt; exit 3\"}\n")
            _ = try spool.waitFor("c1", [.failed])
            let clean = try spool.hopper("clean", "c1", "--spool", spool.root)
            #expect(clean.code == 0 && clean.stdout == "clean c1: accepted\n", "\(clean.stderr)")
            let why = "job c1 was cleaned (its workspace is gone, and with it what its completed steps made)"
            let retry = try spool.hopper("retry", "c1", "--spool", spool.root)
            #expect(retry.code == 1)
            #expect(retry.stderr == "hopper: \(why): a retry would keep a; rerun every step with `hopper rerun c1`\n")
            let some = try spool.hopper("rerun", "c1", "--step", "b", "--spool", spool.root)
            #expect(some.code == 1)
            #expect(some.stderr == "hopper: \(why): rerun every step with `hopper rerun c1`, without --step\n")
            // Dropped by hand, the daemon refuses it the same way.
            try spool.drop("c1.retry.1.yaml", "action: retry\njob: c1\n")
            #expect(eventually { spool.isRejected("c1.retry.1.yaml") })
            #expect(try spool.rejection("c1.retry.1.yaml").errors.map(\.message)
                    == ["\(why): a retry would keep a; rerun every step with `hopper rerun c1`"])
            // A whole rerun stages the inputs afresh and runs every step.
            let whole = try spool.hopper("rerun", "c1", "--spool", spool.root)
            #expect(whole.code == 0 && whole.stdout == "rerun c1: accepted\n", "\(whole.stderr)")
            #expect(eventually { (try? spool.status("c1"))?.steps.first?.attempts.count == 2 })
            let again = try spool.waitFor("c1", [.failed])
            #expect(again.steps.map(\.state) == [.completed, .failed])
        }

        // MARK: human output

        @Test func aFailedJobsStatusShowsTheLogTailInLocalTime() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("bad.yaml", "steps: [{name: count, run: \"for i in $(seq 1 15); do echo line $i; done; exit 3\"}]\n")
            let status = try spool.waitFor("bad", [.failed])
            let r = try spool.hopper("status", "bad", "--spool", spool.root, env: ["TZ": "XYZ-2"])
            #expect(r.code == 0 && r.stderr.isEmpty, "\(r.stderr)")
            #expect(r.stdout.hasSuffix("""
                  last 10 lines of logs/count.log:
                    line 6
                    line 7
                    line 8
                    line 9
                    line 10
                    line 11
                    line 12
                    line 13
                    line 14
                    line 15
                  the whole log: hopper logs bad count

                """), "\(r.stdout)")
            // Terminal times are local (TZ); status.json stays UTC.
            let submitted = try #require(Timestamp.parse(status.submittedAt))
            let local = String(Timestamp.rfc3339(submitted + 7200).prefix(19)).replacingOccurrences(of: "T", with: " ")
            #expect(r.stdout.contains("  submitted    \(local) XYZ\n"), "\(r.stdout)")
            #expect(status.submittedAt.hasSuffix("Z"))
        }
    }
}
