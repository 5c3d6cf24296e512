// Operations with the real daemon: wait_for (instrument exports), notifications through a
// stand-in sendmail and a notify command, retention, and the disk guard on a small tmpfs.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An executable shell script at `path`.
func writeScript(_ path: String, _ body: String) throws {
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
}

func jsonObject(_ path: String) -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

extension Integration {
    @Suite struct WaitFor {
        @Test func aJobWaitsWithoutASlotUntilItsPathsExistThenRuns() throws {
            let spool = try TestSpool(config: "max_running: 1")
            try spool.startDaemon()
            try FileManager.default.createDirectory(atPath: spool.root + "/data/run42", withIntermediateDirectories: true)
            // Relative paths resolve against the spool root, as inputs do.
            try spool.drop("seq-S1.yaml", """
                steps: [{name: a, run: "cat \\"$HOPPER_WORKSPACE\\"/../../data/run42/CopyComplete.txt"}]
                wait_for: {paths: [data/run42/RTAComplete.txt, data/run42/CopyComplete.txt], timeout: 1h}
                """)
            let waiting = try spool.waitFor("seq-S1", [.waiting])
            #expect(waiting.waitingFor == ["data/run42/RTAComplete.txt", "data/run42/CopyComplete.txt"])
            #expect(waiting.startedAt == nil)
            #expect(FileOps.exists(spool.layout.workspace("seq-S1")) == false)

            // The only slot is free while it waits: another job runs to the end.
            try spool.drop("other.yaml", "steps: [{name: a, run: \"true\"}]\n")
            #expect(try spool.waitFor("other").state == .completed)

            // One path arrives: the status lists the one still missing.
            _ = FileManager.default.createFile(atPath: spool.root + "/data/run42/RTAComplete.txt", contents: Data())
            #expect(eventually { (try? spool.status("seq-S1"))?.waitingFor == ["data/run42/CopyComplete.txt"] })
            #expect(try spool.status("seq-S1").state == .waiting)

            _ = FileManager.default.createFile(atPath: spool.root + "/data/run42/CopyComplete.txt", contents: Data("copy done\n".utf8))
            let done = try spool.waitFor("seq-S1")
            #expect(done.state == .completed)
            #expect(done.waitingFor == nil)
            #expect(spool.log("seq-S1", "a").contains("copy done"))
            let events = spool.events("seq-S1").map(\.event)
            #expect(events.contains("waiting"))
            #expect(events.contains("wait_over"))
            #expect(events.firstIndex(of: "wait_over")! < events.firstIndex(of: "started")!)
        }

        @Test func theIlluminaExampleWaitsForCopyCompleteNotJustRTAComplete() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let run = "241122_A00123_0042_AHTESTXXXX"
            let folder = spool.root + "/data/illumina/" + run
            // Base calling done (RTAComplete.txt) but the copy still going on.
            let made = try runProgram("/usr/bin/env", ["python3", spool.workflows + "/run-check/make-run.py",
                                                        "--out", spool.root + "/data/illumina", "--stage", "rta"])
            try #require(made.code == 0, "\(made.stderr)")
            try spool.drop("illumina-run.yaml", try String(contentsOfFile: Paths.repo + "/Workflows/examples/illumina-run.yaml", encoding: .utf8))
            let waiting = try spool.waitFor("illumina-run", [.waiting])
            #expect(waiting.waitingFor == ["data/illumina/\(run)/CopyComplete.txt"])
            #expect(try spool.hopper("status", "illumina-run", "--spool", spool.root).stdout.contains("CopyComplete.txt"))

            _ = FileManager.default.createFile(atPath: folder + "/CopyComplete.txt", contents: Data())
            let done = try spool.waitFor("illumina-run")
            #expect(done.state == .completed, "\(done.error?.message ?? "")\n\(spool.logText())")
            #expect(done.results.map(\.path) == ["results/inventory.tsv", "results/report.md", "results/runinfo.json"])
            let report = try String(contentsOfFile: spool.layout.job("illumina-run") + "/results/report.md", encoding: .utf8)
            #expect(report.contains("# Run \(run)"))
            #expect(report.contains("| 2 | 4 | 8 | 4096 |"))
        }

        @Test func pathsAlreadyThereNeverShowWaiting() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            _ = FileManager.default.createFile(atPath: spool.base + "/ready.txt", contents: Data())
            try spool.drop("ready.yaml", """
                steps: [{name: a, run: "true"}]
                wait_for: {paths: [\(spool.base)/ready.txt]}
                """)
            #expect(try spool.waitFor("ready").state == .completed)
            #expect(!spool.events("ready").map(\.event).contains("waiting"))
        }

        @Test func theTimeoutFailsTheJobNamingWhatIsMissing() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            _ = FileManager.default.createFile(atPath: spool.base + "/RTAComplete.txt", contents: Data())
            try spool.drop("late.yaml", """
                steps: [{name: a, run: "echo must not run"}, {name: b, run: "true"}]
                wait_for: {paths: [\(spool.base)/RTAComplete.txt, \(spool.base)/CopyComplete.txt], timeout: 1s}
                """)
            let s = try spool.waitFor("late")
            #expect(s.state == .failed)
            let message = try #require(s.error?.message)
            #expect(message == "wait_for timed out after 1s (still missing: \(spool.base)/CopyComplete.txt)")
            #expect(s.steps.allSatisfy { $0.state == .skipped && $0.attempts.isEmpty })
            #expect(s.finishedAt != nil)
            #expect(FileOps.exists(spool.layout.workspace("late")) == false)
            #expect(try spool.hopper("wait", "late", "--spool", spool.root).code == 1)
        }

        @Test func stableForWaitsUntilAFileStopsChanging() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let path = spool.base + "/growing.bcl"
            _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
            try spool.drop("stable.yaml", """
                steps: [{name: a, run: "true"}]
                wait_for: {paths: [\(path)], stable_for: 1s, timeout: 1h}
                """)
            #expect(try spool.waitFor("stable", [.waiting]).waitingFor == [path])
            // Keep writing for 3 s, well over stable_for: the job must still be waiting.
            let handle = try #require(FileHandle(forWritingAtPath: path))
            for _ in 0..<30 {
                handle.seekToEndOfFile()
                handle.write(Data("more\n".utf8))
                usleep(100_000)
                #expect(try spool.status("stable").state == .waiting)
            }
            try handle.close()
            #expect(try spool.waitFor("stable").state == .completed)
        }

        @Test func aWaitingJobCanBeCancelledAndSurvivesARestartOnAPolledInbox() throws {
            // `watch: poll` is how NFS inboxes are watched; wait_for works the same there.
            let spool = try TestSpool(config: "watch: poll")
            try spool.startDaemon()
            #expect(spool.heartbeat()?.inboxes.first?.mode == "poll")
            try spool.drop("w1.yaml", "steps: [{name: a, run: \"true\"}]\nwait_for: {paths: [\(spool.base)/flag1]}\n")
            try spool.drop("w2.yaml", "steps: [{name: a, run: \"true\"}]\nwait_for: {paths: [\(spool.base)/flag2]}\n")
            try spool.waitFor("w1", [.waiting])
            try spool.waitFor("w2", [.waiting])

            #expect(try spool.request("cancel", "w1"))
            let cancelled = try spool.waitFor("w1")
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.waitingFor == nil)

            spool.killDaemon()
            try spool.startDaemon()
            #expect(try spool.status("w2").state == .waiting)
            _ = FileManager.default.createFile(atPath: spool.base + "/flag1", contents: Data())
            _ = FileManager.default.createFile(atPath: spool.base + "/flag2", contents: Data())
            #expect(try spool.waitFor("w2").state == .completed)
            usleep(500_000)
            #expect(try spool.status("w1").state == .cancelled)   // never started
            #expect(try spool.status("w1").steps[0].attempts.isEmpty)
        }
    }

    @Suite struct Notifications {
        @Test func mailAndCommandGetTheStatusAndEveryAttemptIsAnEvent() throws {
            let spool = try TestSpool()
            let mailDir = spool.base + "/mail"
            try FileManager.default.createDirectory(atPath: mailDir, withIntermediateDirectories: true)
            try writeScript(spool.base + "/sendmail", "{ echo \"ARGS: $*\"; cat; } > \(mailDir)/msg.$$")
            try writeScript(spool.base + "/post", "cat > \(spool.base)/posted.$HOPPER_EVENT.json; echo \"$HOPPER_JOB_ID $HOPPER_STATE\" > \(spool.base)/posted.$HOPPER_EVENT.env")
            // A config is read once; this one is written before the daemon starts.
            try "mail_command: \(spool.base)/sendmail -t\n".appendTo(spool.configPath)
            try spool.startDaemon()
            try spool.drop("note.yaml", """
                steps: [{name: a, run: "echo hi"}]
                notify: {email: [alice@lab.example, bob@lab.example], on: [started, completed], command: \(spool.base)/post}
                """)
            #expect(try spool.waitFor("note").state == .completed)
            #expect(eventually { spool.events("note").filter { $0.event == "notify" }.count == 4 })

            let mails = try FileManager.default.contentsOfDirectory(atPath: mailDir).map { try String(contentsOfFile: mailDir + "/" + $0, encoding: .utf8) }
            #expect(mails.count == 2)
            let completed = try #require(mails.first { $0.contains("Subject: [hopper] job note completed") })
            #expect(completed.hasPrefix("ARGS: -t\nTo: alice@lab.example, bob@lab.example\n"))
            #expect(completed.contains("\"state\": \"completed\""))
            #expect(mails.contains { $0.contains("Subject: [hopper] job note started") })

            let posted = try #require(jsonObject(spool.base + "/posted.completed.json"))
            #expect(posted["id"] as? String == "note")
            #expect(posted["state"] as? String == "completed")
            #expect(try String(contentsOfFile: spool.base + "/posted.completed.env", encoding: .utf8) == "note completed\n")
            let notes = spool.events("note").filter { $0.event == "notify" }.compactMap(\.message)
            #expect(notes.contains("completed: email alice@lab.example, bob@lab.example: sent"))
            #expect(notes.contains("completed: command \(spool.base)/post: sent"))
        }

        @Test func aFailingOrHangingNotifierNeverAffectsTheJob() throws {
            let spool = try TestSpool(config: "notify_timeout: 1s")
            // A duration no other test uses: what is looked for below is the sleep itself.
            let marker = "sleep 3033"
            try writeScript(spool.base + "/hang", "sleep 3033\n")
            try writeScript(spool.base + "/fail", "cat >/dev/null; echo broken >&2; exit 3")
            try spool.startDaemon()
            try spool.drop("bad1.yaml", """
                steps: [{name: a, run: "exit 4"}]
                notify: {command: \(spool.base)/hang}
                """)
            try spool.drop("bad2.yaml", """
                steps: [{name: a, run: "true"}]
                notify: {command: \(spool.base)/fail, email: [ops@lab.example]}
                """)
            #expect(try spool.waitFor("bad1").state == .failed)
            #expect(try spool.waitFor("bad2").state == .completed)
            #expect(eventually { spool.events("bad1").contains { $0.event == "notify" } })
            #expect(eventually { spool.events("bad2").filter { $0.event == "notify" }.count == 2 })
            #expect(spool.events("bad1").first { $0.event == "notify" }?.message == "failed: command \(spool.base)/hang: timed out after 1s; killed")
            let bad2 = spool.events("bad2").filter { $0.event == "notify" }.compactMap(\.message)
            #expect(bad2.contains("completed: command \(spool.base)/fail: exited with 3"))
            // The default mail command (/usr/sbin/sendmail) is not installed here, or fails: recorded either way.
            #expect(bad2.contains { $0.hasPrefix("completed: email ops@lab.example: ") })
            // The hanging notifier's whole process group is gone.
            #expect(eventually(timeout: 10) { processes(matching: marker).isEmpty }, "left: \(describeProcesses(processes(matching: marker)))")
            // The jobs' status is untouched by it.
            #expect(try spool.status("bad1").error?.message == "step a exited with 4")
        }
    }

    @Suite struct Retention {
        @Test func workspacesThenOutboxEntriesExpireAndTheIdStaysTaken() throws {
            let spool = try TestSpool(config: "retention: {workspaces: 1s, outbox: 4s, interval: 200ms}")
            try spool.startDaemon()
            try spool.drop("old.yaml", "steps: [{name: a, run: \"echo kept\"}]\n")
            #expect(try spool.waitFor("old").state == .completed)
            #expect(eventually { !FileOps.exists(spool.layout.workspace("old")) })
            #expect(spool.events("old").contains { $0.event == "workspace_expired" && $0.message == "retention: the workspace is removed 1s after the job ended" })
            #expect(FileOps.exists(spool.layout.status("old")))   // the outbox stays longer
            #expect(eventually(timeout: 30) { !FileOps.exists(spool.layout.job("old")) })
            #expect(spool.outboxIDs().isEmpty)
            // The spool page still lists it, without a link to the page that went with it.
            let index = spool.layout.page("index.html")
            #expect(eventually { ((try? String(contentsOfFile: index, encoding: .utf8)) ?? "").contains("old <small class=\"removed\">(removed by retention)</small>") })
            #expect(!((try? String(contentsOfFile: index, encoding: .utf8)) ?? "").contains("outbox/old/index.html"))
            let gone = try spool.hopper("status", "old", "--spool", spool.root)
            #expect(gone.code != 0)
            #expect(gone.stderr.contains("job old ended completed and retention has removed its outbox entry since"))
            // Nothing renamed aside is left behind.
            #expect(eventually { ((try? FileOps.listDirectory(spool.layout.outbox)) ?? []).allSatisfy { !$0.hasPrefix(".expired-") } })

            // The same manifest again is still a duplicate, also after a restart.
            spool.killDaemon()
            try spool.startDaemon()
            try spool.drop("old.yaml", "steps: [{name: a, run: \"echo kept\"}]\n")
            #expect(eventually { spool.isRejected("old.yaml") })
            #expect(try spool.rejection("old.yaml").errors.first?.message.contains("job old already exists") == true)
        }
    }

    @Suite struct RetentionKeepsUp {
        /// More jobs due than one batch (1,000): one pass removes them all, not a batch an
        /// interval (an hour by default).
        @Test func onePassRemovesEveryDueJobHoweverMany() throws {
            let spool = try TestSpool(config: "max_running: 8")
            try spool.startDaemon()
            let rows = (1...2100).map { "r\($0)" }.joined(separator: "\n")
            try spool.write("data/rows.csv", "key\n" + rows + "\n")
            try spool.drop("many.yaml", "foreach: {samplesheet: data/rows.csv}\nsteps: [{name: a, run: \"true\"}]\n")
            let group = try spool.waitForGroup("many", timeout: 300)
            #expect(group.counts["completed"] == 2100)
            #expect(spool.stopDaemon() == 0)
            var config = try String(contentsOfFile: spool.configPath, encoding: .utf8)
            config += "\nretention: {workspaces: 1s, outbox: never, interval: 1h}\n"
            try config.write(toFile: spool.configPath, atomically: true, encoding: .utf8)
            try spool.startDaemon()
            let left = { ((try? FileOps.listDirectory(spool.layout.workspaces)) ?? []).filter { $0.hasPrefix("many.") }.count }
            #expect(eventually(timeout: 120) { left() == 0 }, "\(left()) workspaces left after the first pass")
            #expect(FileOps.exists(spool.layout.status("many.r2100")))   // the outbox is kept
        }
    }

    @Suite struct DiskGuard {
        @Test func intakePausesBelowTheThresholdAndResumesWhenSpaceReturns() throws {
            let spool = try TestSpool(config: "min_free_space: 6M")
            try FileManager.default.createDirectory(atPath: spool.root, withIntermediateDirectories: true)
            let mount = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", spool.root])
            try #require(mount.code == 0, "mount tmpfs: \(mount.stderr)")
            defer { _ = try? runProgram("/bin/umount", ["-l", spool.root]) }
            try spool.startDaemon()
            #expect(spool.heartbeat()?.intake.paused == false)
            #expect(spool.heartbeat()?.disk?.first?.role == "outbox")

            // Fill the filesystem to below 6 MiB free.
            let filler = spool.root + "/filler"
            _ = FileManager.default.createFile(atPath: filler, contents: Data(count: 12 << 20))
            #expect(eventually { spool.heartbeat()?.intake.paused == true })
            let reason = try #require(spool.heartbeat()?.intake.reason)
            #expect(reason.hasPrefix("outbox \(spool.layout.outbox) has "))
            #expect(reason.hasSuffix("free, below min_free_space 6M"))
            #expect(try spool.hopper("system", "--spool", spool.root).stdout.contains("intake     PAUSED: outbox"))

            try spool.drop("held.yaml", "steps: [{name: a, run: \"true\"}]\n")
            sleep(2)   // many intake rounds and heartbeats: the manifest stays where it was
            #expect(spool.inboxNames() == ["held.yaml"])
            #expect(!spool.isAccepted("held"))
            #expect(!spool.isRejected("held.yaml"))

            unlink(filler)
            #expect(eventually { spool.heartbeat()?.intake.paused == false })
            #expect(try spool.waitFor("held").state == .completed)
            #expect(spool.inboxNames().isEmpty)
        }
    }
}

extension String {
    func appendTo(_ path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(("\n" + self).utf8))
        try handle.close()
    }
}

extension Integration {
    @Suite struct Reload {
        @Test func sighupReadsTheNewConfigInPlaceAndRunningStepsGoOn() throws {
            let spool = try TestSpool()
            let daemon = try spool.startDaemon()
            let pid = daemon.processIdentifier
            #expect(spool.heartbeat()?.minFreeBytes == 1 << 30)
            try spool.drop("long.yaml", "steps: [{name: a, run: \"sleep 2; echo finished\"}]\n")
            try spool.waitFor("long", [.running])

            // A broken config is refused: the daemon goes on as it was.
            let good = try String(contentsOfFile: spool.configPath, encoding: .utf8)
            try (good + "\nmax_runing: 3\n").write(toFile: spool.configPath, atomically: true, encoding: .utf8)
            let before = try #require(spool.heartbeat()?.startedAt)
            kill(pid, SIGHUP)
            #expect(eventually { spool.logText().contains("config.reload_refused") })
            #expect(spool.logText().contains("max_runing"))
            #expect(daemon.isRunning)
            #expect(spool.heartbeat()?.startedAt == before)

            // A good one: same pid, new settings, the running step re-adopted and finished once.
            try (good + "\nmin_free_space: 5M\n").write(toFile: spool.configPath, atomically: true, encoding: .utf8)
            kill(pid, SIGHUP)
            #expect(eventually { spool.heartbeat().map { $0.minFreeBytes == 5 << 20 && $0.state == "running" } ?? false })
            #expect(spool.heartbeat()?.pid == pid)
            #expect(daemon.isRunning)
            let s = try spool.waitFor("long")
            #expect(s.state == .completed)
            #expect(s.steps[0].attempts.count == 1)
            #expect(spool.log("long", "a").components(separatedBy: "finished").count == 2)
            #expect(spool.events("long").contains { $0.event == "resumed" })
            // And it still takes new work.
            try spool.drop("after.yaml", "steps: [{name: a, run: \"true\"}]\n")
            #expect(try spool.waitFor("after").state == .completed)
        }
    }
}
