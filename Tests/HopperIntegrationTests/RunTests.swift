// Running jobs with the real daemon: steps, environment, failures, retries, timeouts, cancel,
// restarts, fairness.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TestSpool {
    /// Waits until the job is in one of `states`; returns its status.
    @discardableResult
    func waitFor(_ id: String, _ states: Set<JobState> = [.completed, .failed, .cancelled], timeout: Double = 60) throws -> JobStatus {
        var last: JobStatus?
        let ok = eventually(timeout: timeout) {
            last = try? status(id)
            return last.map { states.contains($0.state) } ?? false
        }
        guard ok, let last else {
            throw TestFailure("job \(id) did not reach \(states.map(\.rawValue)) (last: \(last?.state.rawValue ?? "none"))\n\(logText())")
        }
        return last
    }

    func log(_ id: String, _ step: String) -> String {
        (try? String(contentsOfFile: layout.job(id) + "/logs/\(step).log", encoding: .utf8)) ?? ""
    }

    func events(_ id: String) -> [JobEvent] {
        ((try? String(contentsOfFile: layout.events(id), encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONDecoder().decode(JobEvent.self, from: Data($0.utf8)) }
    }

    /// Drops a control request and waits until the daemon has moved it.
    func request(_ action: String, _ id: String, steps: [String]? = nil) throws -> Bool {
        let name = "\(id).\(action).\(UInt64(Date().timeIntervalSince1970 * 1000)).yaml"
        var body = "action: \(action)\njob: \(id)\n"
        if let steps { body += "steps: [\(steps.joined(separator: ", "))]\n" }
        try drop(name, body)
        let honoured = layout.job(id) + "/requests/" + name
        let refused = layout.rejected + "/" + name
        guard eventually(timeout: 15, { FileOps.exists(honoured) || FileOps.exists(refused) }) else {
            throw TestFailure("request \(name) was not taken\n\(logText())")
        }
        return FileOps.exists(honoured)
    }
}

/// pid, uid, parent and command line of each process, for a failure message.
func describeProcesses(_ pids: [Int32]) -> String {
    pids.map { pid -> String in
        let cmd = (try? FileOps.readFile("/proc/\(pid)/cmdline", limit: 4096)).map { String(decoding: $0.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self) } ?? "?"
        let status = (try? FileOps.readFile("/proc/\(pid)/status", limit: 16384)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let keep = status.split(separator: "\n").filter { $0.hasPrefix("PPid:") || $0.hasPrefix("Uid:") || $0.hasPrefix("State:") || $0.hasPrefix("SigIgn:") }
        return "\(pid) [\(cmd)] " + keep.joined(separator: " ")
    }.joined(separator: "; ")
}

/// Processes whose command line contains `marker`.
func processes(matching marker: String) -> [Int32] {
    var found: [Int32] = []
    for name in (try? FileOps.listDirectory("/proc")) ?? [] {
        guard let pid = Int32(name), pid != getpid(),
              let bytes = try? FileOps.readFile("/proc/\(pid)/cmdline", limit: 4096) else { continue }
        let cmd = String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        if cmd.contains(marker) { found.append(pid) }
    }
    return found
}

extension Integration {
    @Suite struct Run {
        @Test(arguments: SpoolPlace.allCases) func stepsRunInOrderWithTheirEnvironmentAndParamsNeverBecomeCode(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            let marker = spool.base + "/pwned"
            try "data".write(toFile: spool.root + "/input.txt", atomically: true, encoding: .utf8)
            try spool.drop("env1.yaml", """
                params:
                  sample_id: "$(touch \(marker)); `touch \(marker)`"
                  threads: 4
                inputs:
                  reads: input.txt
                steps:
                  - name: show
                    run: |
                      echo "param=$HOPPER_PARAM_SAMPLE_ID threads=$HOPPER_PARAM_THREADS"
                      echo "job=$HOPPER_JOB_ID step=$HOPPER_STEP attempt=$HOPPER_ATTEMPT ws=$HOPPER_WORKSPACE pwd=$(pwd)"
                      echo "input=$(cat "$HOPPER_INPUT_READS")"
                      cat params.json
                      cat config.yaml
                  - name: second
                    run: test -L inputs/input.txt && echo second-ran
                """)
            let s = try spool.waitFor("env1")
            #expect(s.state == .completed, "\(spool.log("env1", "show"))")
            let log = spool.log("env1", "show")
            #expect(log.contains("param=$(touch \(marker)); `touch \(marker)` threads=4"), "\(log)")
            #expect(log.contains("job=env1 step=show attempt=1 ws=\(spool.layout.workspace("env1")) pwd=\(spool.layout.workspace("env1"))"))
            #expect(log.contains("input=data"))
            #expect(log.contains("\"threads\": 4"))
            #expect(log.contains("threads: 4"))
            #expect(!FileOps.exists(marker), "a param value was executed")
            #expect(spool.log("env1", "second").contains("second-ran"))
            #expect(s.steps.map(\.state) == [.completed, .completed])
            #expect(s.progress == 1 && s.currentStep == nil && s.finishedAt != nil && s.startedAt != nil)
            let kinds = spool.events("env1").map(\.event)
            #expect(kinds == ["accepted", "started", "step_started", "step_finished", "step_started", "step_finished", "completed"])
        }

        @Test func failingStepFailsTheJobAndSkipsTheRest() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("fail1.yaml", """
                steps:
                  - {name: a, run: "echo ok"}
                  - {name: b, run: "echo to-stderr >&2; exit 7"}
                  - {name: c, run: "echo never"}
                """)
            let s = try spool.waitFor("fail1")
            #expect(s.state == .failed)
            #expect(s.error?.step == "b" && s.error?.exitCode == 7)
            #expect(s.error?.message == "step b exited with 7")
            #expect(s.steps.map(\.state) == [.completed, .failed, .skipped])
            #expect(s.steps[1].exitCode == 7 && s.steps[1].attempts.count == 1)
            #expect(spool.log("fail1", "b").contains("to-stderr"))
            #expect(!FileOps.exists(spool.layout.job("fail1") + "/logs/c.log"))
        }

        @Test func missingInputFailsBeforeAnyStepNamingTheInput() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("noin.yaml", """
                inputs: {reads: /nonexistent/S1.fastq}
                steps: [{name: a, run: "echo ran"}]
                """)
            let s = try spool.waitFor("noin")
            #expect(s.state == .failed)
            #expect(s.error?.message == "input reads: /nonexistent/S1.fastq does not exist")
            #expect(s.steps[0].state == .skipped && s.steps[0].attempts.isEmpty)
        }

        @Test(arguments: SpoolPlace.allCases) func retriesWithBackoffKeepEveryAttempt(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            let counter = spool.base + "/count"
            try spool.drop("retry1.yaml", """
                steps:
                  - name: flaky
                    retries: 2
                    run: |
                      echo x >> \(counter)
                      test $(wc -l < \(counter)) -ge 3
                """)
            let s = try spool.waitFor("retry1")
            #expect(s.state == .completed)
            #expect(s.steps[0].attempt == 3)
            #expect(s.steps[0].attempts.map(\.state) == [.failed, .failed, .completed])
            #expect(s.steps[0].attempts.map(\.exitCode) == [1, 1, 0])
            #expect(spool.events("retry1").filter { $0.event == "retry" }.count == 2)
            #expect(spool.log("retry1", "flaky").components(separatedBy: "==> hopper: step flaky attempt").count == 4)
        }

        @Test func stepLogIsCappedAndTheRestCounted() throws {
            let spool = try TestSpool(config: "max_log_size: 1K")
            try spool.startDaemon()
            try spool.drop("loud.yaml", "steps: [{name: s, run: \"head -c 10000 /dev/zero | tr '\\\\0' x\"}]\n")
            let s = try spool.waitFor("loud")
            #expect(s.state == .completed)
            let log = spool.log("loud", "s")
            #expect(log.contains("log capped at 1024 bytes; 8976 bytes dropped"), "\(log)")
            #expect(log.utf8.count < 1400)
            #expect(s.steps[0].detail?.contains("8976 bytes dropped") == true)
        }

        @Test func mockStepIsDeterministic() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let body = """
                steps:
                  - {name: m1, mock: {duration: 0.1s, fail_rate: 0.5, seed: 1}, retries: 5}
                  - {name: m2, mock: {duration: 0s, fail_rate: 0.5, seed: 2}, retries: 5}
                """
            try spool.drop("mockA.yaml", body)
            try spool.drop("mockB.yaml", body)
            let a = try spool.waitFor("mockA"), b = try spool.waitFor("mockB")
            #expect(a.steps.map { $0.attempts.map(\.state) } == b.steps.map { $0.attempts.map(\.state) })
            #expect(spool.log("mockA", "m1").contains("mock step m1: working for 0.100 s"))
        }

        @Test func stepTimeoutKillsTheWholeGroup() throws {
            let spool = try TestSpool(config: "kill_grace: 1s")
            try spool.startDaemon()
            try spool.drop("slow.yaml", """
                steps:
                  - name: s
                    timeout: 1s
                    run: "trap '' TERM; sleep 3011 & sleep 3012; wait"
                """)
            let s = try spool.waitFor("slow")
            #expect(s.state == .failed)
            #expect(s.error?.message == "step s timed out (step timeout 1s)")
            #expect(eventually(timeout: 5) { processes(matching: "sleep 301").isEmpty }, "left: \(processes(matching: "sleep 301"))")
            #expect(spool.log("slow", "s").contains("step timed out after 1 s"))
        }

        @Test func jobTimeoutFailsTheJob() throws {
            let spool = try TestSpool(config: "kill_grace: 1s")
            try spool.startDaemon()
            try spool.drop("jt.yaml", """
                timeout: 1s
                steps:
                  - {name: a, run: "sleep 0.2"}
                  - {name: b, run: "sleep 3021"}
                """)
            let s = try spool.waitFor("jt")
            #expect(s.state == .failed)
            #expect(s.error?.message == "step b timed out (job timeout 1s)")
            #expect(eventually(timeout: 5) { processes(matching: "sleep 3021").isEmpty })
        }

        @Test(arguments: SpoolPlace.allCases) func cancelKillsEveryProcessOfTheStepWithinFiveSeconds(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            try spool.drop("c1.yaml", """
                steps:
                  - {name: long, run: "bash -c 'sleep 3055 & sleep 3056 & wait'"}
                  - {name: after, run: "echo never"}
                """)
            try spool.waitFor("c1", [.running])
            #expect(eventually { !processes(matching: "sleep 3056").isEmpty })
            let t0 = Date()
            #expect(try spool.request("cancel", "c1"))
            let s = try spool.waitFor("c1", timeout: 10)
            #expect(Date().timeIntervalSince(t0) < 5)
            #expect(s.state == .cancelled)
            #expect(s.steps.map(\.state) == [.cancelled, .skipped])
            #expect(eventually(timeout: 5) { processes(matching: "sleep 305").isEmpty },
                    "orphans: \(describeProcesses(processes(matching: "sleep 305")))")
            #expect(spool.events("c1").contains { $0.event == "request" && $0.message?.hasPrefix("cancel: accepted") == true })
            // A second cancel has nothing to act on: refused with the reason.
            #expect(try spool.request("cancel", "c1") == false)
            #expect(FileOps.exists(spool.layout.job("c1") + "/requests"))
        }

        @Test func pendingJobCancelledNeverStarts() throws {
            let spool = try TestSpool(config: "max_running: 1")
            try spool.startDaemon()
            try spool.drop("busy.yaml", "steps: [{name: a, run: \"sleep 3031\"}]\n")
            try spool.waitFor("busy", [.running])
            try spool.drop("queued.yaml", "steps: [{name: a, run: \"echo started > \(spool.base)/started\"}]\n")
            #expect(eventually { spool.isAccepted("queued") })
            #expect(try spool.request("cancel", "queued"))
            let s = try spool.status("queued")
            #expect(s.state == .cancelled && s.startedAt == nil && s.steps[0].state == .skipped)
            #expect(try spool.request("cancel", "busy"))
            try spool.waitFor("busy")
            usleep(300_000)
            #expect(!FileOps.exists(spool.base + "/started"))
        }

        @Test(arguments: SpoolPlace.allCases) func retryResumesAtTheFailedStep(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            let flag = spool.base + "/fixed", counts = spool.base + "/counts"
            try spool.drop("rt.yaml", """
                steps:
                  - {name: prep, run: "echo prep >> \(counts)"}
                  - {name: work, run: "echo work >> \(counts); test -e \(flag)"}
                  - {name: report, run: "echo report >> \(counts)"}
                """)
            #expect(try spool.waitFor("rt").state == .failed)
            #expect(try spool.request("retry", "completed-is-unknown") == false)
            try "".write(toFile: flag, atomically: true, encoding: .utf8)
            #expect(try spool.request("retry", "rt"))
            let s = try spool.waitFor("rt", [.completed, .cancelled])
            #expect(s.state == .completed)
            let lines = try String(contentsOfFile: counts, encoding: .utf8).split(separator: "\n")
            #expect(lines == ["prep", "work", "work", "report"])
            #expect(s.steps[0].attempts.count == 1 && s.steps[1].attempts.count == 2 && s.steps[2].attempts.count == 1)
            #expect(try spool.request("retry", "rt") == false)  // completed: nothing to retry
            let refusal = try spool.rejection(try FileOps.listDirectory(spool.layout.rejected).first { $0.hasPrefix("rt.retry") && !$0.hasSuffix(".json") }!)
            #expect(refusal.errors.first?.message == "job rt is completed; retry applies to failed or cancelled jobs")
        }

        @Test func rerunRunsNamedStepsAsNewAttemptsAndCleanRemovesTheWorkspace() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("rr.yaml", """
                steps:
                  - {name: a, run: "echo a"}
                  - {name: b, run: "echo b"}
                """)
            #expect(try spool.waitFor("rr").state == .completed)
            #expect(try spool.request("rerun", "rr", steps: ["nope"]) == false)
            #expect(try spool.request("rerun", "rr", steps: ["b"]))
            try spool.waitFor("rr", [.running, .completed])
            let s = try spool.waitFor("rr")
            #expect(s.state == .completed)
            #expect(s.steps[0].attempts.count == 1 && s.steps[1].attempts.count == 2 && s.steps[1].attempt == 2)
            #expect(FileOps.exists(spool.layout.workspace("rr")))
            #expect(try spool.request("clean", "rr"))
            #expect(!FileOps.exists(spool.layout.workspace("rr")))
            #expect(FileOps.exists(spool.layout.status("rr")))
        }

        @Test(arguments: SpoolPlace.allCases) func daemonKilledMidStepResumesAndTheStepRunsOnce(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            let counter = spool.base + "/ran"
            try spool.drop("k1.yaml", """
                steps:
                  - {name: long, run: "echo run >> \(counter); sleep 2; echo done-long"}
                  - {name: after, run: "echo after >> \(counter)"}
                """)
            try spool.waitFor("k1", [.running])
            #expect(eventually { FileOps.exists(counter) })
            spool.killDaemon()
            usleep(200_000)
            #expect(processes(matching: "sleep 2").count >= 1, "the step died with the daemon")
            try spool.startDaemon()
            let s = try spool.waitFor("k1")
            #expect(s.state == .completed, "\(spool.logText())")
            #expect(try String(contentsOfFile: counter, encoding: .utf8) == "run\nafter\n")
            #expect(s.steps[0].attempts.count == 1)
            #expect(spool.log("k1", "long").contains("done-long"))
            #expect(spool.events("k1").contains { $0.event == "resumed" })
        }

        @Test func daemonKilledWhileStepFinishesStillRecordsTheExitStatus() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("k2.yaml", "steps: [{name: s, run: \"sleep 1; exit 5\"}]\n")
            try spool.waitFor("k2", [.running])
            spool.killDaemon()
            sleep(2)  // the step ends while no daemon runs
            try spool.startDaemon()
            let s = try spool.waitFor("k2")
            #expect(s.state == .failed && s.steps[0].exitCode == 5 && s.steps[0].attempts.count == 1)
        }

        @Test func sigtermLeavesRunningStepsAlone() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("t1.yaml", "steps: [{name: s, run: \"sleep 3.5; echo finished\"}]\n")
            try spool.waitFor("t1", [.running])
            #expect(spool.stopDaemon() == 0)
            #expect(!processes(matching: "sleep 3.5").isEmpty, "the step died with the daemon")
            try spool.startDaemon()
            let s = try spool.waitFor("t1")
            #expect(s.state == .completed && s.steps[0].attempts.count == 1)
        }

        @Test func oneOwnersQueueDoesNotDelayAnotherOwnersJob() throws {
            let spool = try TestSpool(config: "max_running: 1")
            try spool.startDaemon()
            let dir = spool.base + "/prepared"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<200 {
                let path = dir + "/A\(i).yaml"
                try "steps: [{name: s, run: \"sleep 0.02\"}]\n".write(toFile: path, atomically: false, encoding: .utf8)
                chown(path, 5001, 5001)
            }
            for i in 0..<200 { rename(dir + "/A\(i).yaml", spool.layout.inbox + "/A\(i).yaml") }
            #expect(eventually { (0..<200).allSatisfy { spool.isAccepted("A\($0)") } })
            try spool.waitFor("A2", [.running, .completed])
            let bPath = dir + "/B0.yaml"
            try "steps: [{name: s, run: \"true\"}]\n".write(toFile: bPath, atomically: false, encoding: .utf8)
            chown(bPath, 5002, 5002)
            rename(bPath, spool.layout.inbox + "/B0.yaml")
            let b = try spool.waitFor("B0", timeout: 120)
            #expect(b.owner == "5002" && b.state == .completed)
            let bAccepted = Timestamp.parse(b.submittedAt)!, bStarted = Timestamp.parse(b.startedAt!)!
            // A's jobs that started after B was accepted and before B started: at most the one
            // whose slot was being filled as B arrived.
            var overtaking = 0
            for i in 0..<200 {
                guard let a = try? spool.status("A\(i)"), let started = a.startedAt.flatMap(Timestamp.parse) else { continue }
                if started > bAccepted && started < bStarted { overtaking += 1 }
            }
            #expect(overtaking <= 1, "\(overtaking) of A's jobs started before B's")
            let pendingA = (0..<200).filter { (try? spool.status("A\($0)").state) == .pending }.count
            #expect(pendingA > 100, "A's queue should still be long when B ran")
        }
    }
}

extension Integration.Run {
    @Test func snakemakeStepWithoutSnakemakeSaysHowToInstallIt() throws {
        let spool = try TestSpool()
        spool.extraEnv["PATH"] = "/usr/bin:/bin"
        spool.extraEnv["HOPPER_SNAKEMAKE"] = ""
        try spool.startDaemon()
        try spool.drop("nosm.yaml", "steps: [{name: call, snakemake: {snakefile: /nonexistent/Snakefile, targets: [all]}}]\n")
        let s = try spool.waitFor("nosm")
        #expect(s.state == .failed)
        #expect(s.error?.message.contains("Snakemake is not installed: run scripts/setup-snakemake") == true, "\(s.error?.message ?? "")")
        #expect(spool.log("nosm", "call").contains("Snakemake is not installed"))
    }
}

extension Integration.Run {
    @Test func theCommandLineDrivesARealDaemon() throws {
        let spool = try TestSpool()
        try spool.startDaemon()
        let file = spool.base + "/cli1.yaml"
        try "steps:\n  - {name: a, run: \"echo from-a\", outputs: [\"*.txt\"]}\n  - {name: b, run: \"echo hi > out.txt; sleep 3041\"}\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try spool.hopper("submit", file, "--spool", spool.root).stdout == "cli1\n")
        try spool.waitFor("cli1", [.running])
        #expect(eventually { spool.log("cli1", "b").contains("attempt 1") })
        let cancel = try spool.hopper("cancel", "cli1", "--spool", spool.root)
        #expect(cancel.code == 0 && cancel.stdout == "cancel cli1: accepted\n", "\(cancel.stdout)\(cancel.stderr)")
        let wait = try spool.hopper("wait", "cli1", "--timeout", "20s", "--spool", spool.root)
        #expect(wait.code == 1)
        #expect(wait.stdout.contains("cli1 cancelled"), "\(wait.stdout)")
        let logs = try spool.hopper("logs", "cli1", "--spool", spool.root)
        #expect(logs.code == 0 && logs.stdout.contains("==> logs/a.log <==") && logs.stdout.contains("from-a"))
        let retry = try spool.hopper("retry", "cli1", "--spool", spool.root, "--no-wait")
        #expect(retry.code == 0, "\(retry.stderr)")
        try spool.waitFor("cli1", [.running])
        #expect(try spool.hopper("cancel", "cli1", "--spool", spool.root).code == 0)
        let s = try spool.waitFor("cli1")
        #expect(s.state == .cancelled && s.steps[0].attempts.count == 1 && s.steps[1].attempts.count == 2)
        #expect(eventually(timeout: 5) { processes(matching: "sleep 3041").isEmpty })
        let clean = try spool.hopper("clean", "cli1", "--spool", spool.root)
        #expect(clean.code == 0 && !FileOps.exists(spool.layout.workspace("cli1")))
    }
}
