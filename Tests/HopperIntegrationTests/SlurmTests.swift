// The SLURM executor against a real single-node SLURM cluster (scripts/slurm-up; scripts/test
// brings it up and exports HOPPER_SLURM=1). Steps submitted with sbatch, exit codes from SLURM,
// cancel with scancel, re-adoption after SIGKILL (also between sbatch and the id record), one
// squeue per poll round with 200 jobs, slurmctld unreachable, and a result kept when SLURM has
// forgotten the job. Where a fault cannot be caused for real in a test (SLURM forgetting a job
// takes MinJobAge = 5 minutes), a wrapper script on the daemon's PATH fakes only that.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

enum SlurmCluster {
    /// A real SLURM answers here, or the test command says one must (then a dead one fails the tests).
    static let available: Bool = {
        let setting = ProcessInfo.processInfo.environment["HOPPER_SLURM"]
        if setting == "1" { return true }
        if setting == "0" { return false }
        guard let squeue = real("squeue") else { return false }
        return ((try? runProgram(squeue, ["-h"]))?.code ?? 1) == 0
    }()

    /// The real binary of a SLURM command on PATH.
    static func real(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// `squeue -h -j ID -o %T` (pending, running and completing jobs only): empty when gone.
    static func activeState(_ id: String) -> String {
        guard let squeue = real("squeue"), let r = try? runProgram(squeue, ["-h", "-j", id, "-o", "%T"]) else { return "" }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `scontrol -o show job ID` as key → value.
    static func show(_ id: String) -> [String: String] {
        guard let scontrol = real("scontrol"), let r = try? runProgram(scontrol, ["-o", "show", "job", id]) else { return [:] }
        var out: [String: String] = [:]
        for field in r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            guard let eq = field.firstIndex(of: "=") else { continue }
            out[String(field[..<eq])] = String(field[field.index(after: eq)...])
        }
        return out
    }

    /// SLURM jobs (any state SLURM still remembers) whose comment names this spool's job `job`.
    static func jobs(markedWith job: String, in spool: TestSpool) -> [String] {
        let prefix = "hopper:\(tag(spool.root)):\(job):"
        guard let squeue = real("squeue"), let r = try? runProgram(squeue, ["-h", "-t", "all", "-O", "JobID:|,Comment:|"]) else { return [] }
        return r.stdout.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "|", omittingEmptySubsequences: false)
            guard f.count >= 2, f[1].hasPrefix(prefix) else { return nil }
            return String(f[0])
        }
    }

    /// The spool's tag in Hopper's SLURM comments (FNV-1a of the spool root, as SlurmExecutor.tag).
    static func tag(_ root: String) -> String {
        var h: UInt32 = 2_166_136_261
        for b in root.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// Wrapper scripts for SLURM's commands in one folder put first on the daemon's PATH: each logs
/// its call (`<time> <name> <args>`) and runs the real binary, unless a flag file says otherwise.
struct SlurmWrappers {
    let dir: String
    var log: String { dir + "/calls.log" }
    /// While this file exists, `squeue` fails as it does when slurmctld does not answer.
    var unreachableFlag: String { dir + "/unreachable" }
    /// While this file exists, `squeue` lists no job (as SLURM does once it has forgotten them).
    var forgetFlag: String { dir + "/forget" }
    /// When this file exists, `sbatch` submits, then SIGKILLs its parent (the daemon) before answering; once.
    var killFlag: String { dir + "/kill-after-sbatch" }

    init(base: String) throws {
        dir = base + "/slurm-bin"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["squeue", "sacct", "scontrol", "scancel", "sbatch"] {
            guard let real = SlurmCluster.real(name) else { throw TestFailure("\(name) is not installed") }
            var body = "#!/bin/bash\necho \"$(date +%s.%N) \(name) $*\" >> '\(log)'\n"
            if name == "squeue" {
                body += "if [ -e '\(unreachableFlag)' ]; then echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2; exit 1; fi\n"
                body += "if [ -e '\(forgetFlag)' ]; then exit 0; fi\n"
            }
            if name == "sbatch" {
                body += "if [ -e '\(killFlag)' ]; then rm -f '\(killFlag)'; out=$('\(real)' \"$@\"); kill -KILL $PPID; sleep 2; echo \"$out\"; exit 0; fi\n"
            }
            body += "exec '\(real)' \"$@\"\n"
            try body.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            chmod(dir + "/" + name, 0o755)
        }
        // sbatch runs as the job's owner under run_as: owner: its wrapper logs too.
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        chmod(log, 0o666)
    }

    /// The logged calls, in order: (time, command name).
    func calls() -> [(Double, String)] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count >= 2, let t = Double(f[0]) else { return nil }
            return (t, String(f[1]))
        }
    }

    func touch(_ path: String) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    func remove(_ path: String) { unlink(path) }
}

extension TestSpool {
    /// A spool whose daemon runs every job on SLURM, polling every `poll` through the wrappers.
    /// `slurm`: more keys of the `slurm:` section (`array_window: 5s`).
    static func slurm(poll: String = "500ms", slurm more: String = "", extra: String = "") throws -> (TestSpool, SlurmWrappers) {
        let section = more.isEmpty ? "poll_interval: \(poll)" : "poll_interval: \(poll), \(more)"
        let spool = try TestSpool(config: "executor: slurm\nkill_grace: 2s\nslurm: {\(section)}\n\(extra)")
        let wrappers = try SlurmWrappers(base: spool.base)
        spool.extraEnv["PATH"] = wrappers.dir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return (spool, wrappers)
    }

    /// Waits until SLURM runs the job's current step (status `running` with a SLURM id).
    func waitForSlurmRunning(_ id: String, timeout: Double = 120) throws -> String {
        var last: JobStatus?
        let ok = eventually(timeout: timeout) {
            last = try? status(id)
            guard let s = last, s.state == .running, s.executor.id != nil else { return false }
            return s.steps.contains { $0.state == .running && ($0.detail ?? "").contains("RUNNING") }
        }
        guard ok, let slurmID = last?.executor.id else {
            throw TestFailure("job \(id) never ran on SLURM (last: \(last?.state.rawValue ?? "none"))\n\(logText())")
        }
        return slurmID
    }

    func files(_ id: String) -> [String] {
        ((try? FileOps.listDirectory(layout.workspace(id) + "/.hopper")) ?? []).sorted()
    }
}

extension Integration {
    @Suite(.enabled(if: SlurmCluster.available,
                    "no SLURM cluster answers (run scripts/slurm-up, or scripts/test, which brings one up and sets HOPPER_SLURM=1)"))
    struct Slurm {
        @Test func threeStepJobCompletesWithSlurmIDsAndResources() throws {
            let (spool, _) = try TestSpool.slurm()
            try spool.startDaemon()
            try spool.drop("sl3.yaml", """
                resources: {cpus: 1, memory: 100M, time: 5m}
                params: {sample: S1}
                steps:
                  - {name: one, run: "echo one $HOPPER_PARAM_SAMPLE on $SLURM_JOB_ID > one.txt; cat one.txt"}
                  - {name: two, run: "echo two attempt $HOPPER_ATTEMPT in $(pwd)", outputs: [one.txt]}
                  - {name: three, run: "echo three >&2"}
                """)
            let s = try spool.waitFor("sl3", timeout: 180)
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.logText())")
            #expect(s.executor.kind == .slurm)
            let events = spool.events("sl3")
            let submitted = events.filter { $0.event == "slurm_submitted" }
            #expect(submitted.map(\.step) == ["one", "two", "three"])
            #expect(submitted.allSatisfy { $0.state == .queued })
            let ids = submitted.compactMap { $0.message?.split(separator: " ").last.map(String.init) }
            #expect(Set(ids).count == 3 && ids.allSatisfy { Int($0) != nil }, "\(ids)")
            #expect(s.executor.id == ids.last)
            #expect(s.steps.allSatisfy { $0.state == .completed && $0.exitCode == 0 && $0.attempts.count == 1 })
            #expect(spool.log("sl3", "one").contains("one S1 on \(ids[0])"), "\(spool.log("sl3", "one"))")
            #expect(spool.log("sl3", "two").contains("two attempt 1 in \(spool.layout.workspace("sl3"))"))
            #expect(spool.log("sl3", "three").contains("three"))
            #expect(s.results.map(\.path) == ["results/one.txt"])
            // The resources as SLURM recorded them, and Hopper's mark.
            let job = SlurmCluster.show(ids[0])
            #expect(job["TimeLimit"] == "00:05:00", "\(job)")
            #expect(job["MinMemoryNode"] == "100M", "\(job)")
            #expect(job["NumCPUs"] == "1", "\(job)")
            #expect(job["Comment"]?.hasSuffix(":sl3:one:1") == true, "\(job)")
            #expect(job["JobName"] == "sl3.one", "\(job)")
            #expect(job["Requeue"] == "0", "\(job)")
        }

        @Test func aQueueChoosesSlurmAndItsPartition() throws {
            let spool = try TestSpool(config: """
                executor: local
                slurm: {poll_interval: 500ms, partition: nonexistent}
                queues:
                  hpc: {executor: slurm, partition: debug}
                """)
            try FileManager.default.createDirectory(atPath: spool.layout.inbox(queue: "hpc"), withIntermediateDirectories: true)
            try spool.startDaemon()
            try spool.drop("slq.yaml", "steps: [{name: a, run: \"echo on $SLURM_JOB_PARTITION\"}]\n", queue: "hpc")
            try spool.drop("sll.yaml", "steps: [{name: a, run: \"echo local ${SLURM_JOB_ID:-none}\"}]\n")
            let q = try spool.waitFor("slq", timeout: 120)
            #expect(q.state == .completed && q.executor.kind == .slurm && q.executor.id != nil, "\(q.error?.message ?? "")")
            #expect(spool.log("slq", "a").contains("on debug"))
            let l = try spool.waitFor("sll", timeout: 60)
            #expect(l.state == .completed && l.executor.kind == .local && l.executor.id == nil)
            #expect(spool.log("sll", "a").contains("local none"))
        }

        @Test func runAsOwnerSubmitsAsTheOwner() throws {
            try #require(geteuid() == 0, "run_as: owner needs the daemon (and this test) to run as root")
            try ensureUser("alice")
            let (alice, _) = try #require(account("alice"))
            let (spool, wrappers) = try TestSpool.slurm(extra: "run_as: owner")
            chmod(spool.base, 0o755)
            try spool.startDaemon()
            try spool.drop("slo.yaml", "steps: [{name: who, run: \"id -un; echo home=$HOME; touch made-by-step\"}]\n", as: "alice")
            let s = try spool.waitFor("slo", timeout: 120)
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.log("slo", "who"))\n\(spool.logText())")
            #expect(s.owner == "alice")
            #expect(spool.log("slo", "who").contains("\nalice\n"), "\(spool.log("slo", "who"))")
            let id = try #require(s.executor.id)
            #expect(SlurmCluster.show(id)["UserId"]?.hasPrefix("alice(") == true, "\(SlurmCluster.show(id))")
            let ws = spool.layout.workspace("slo")
            for path in [ws + "/made-by-step", ws + "/.hopper/who.1.slurm-id", ws + "/.hopper/who.1.slurm-exit", spool.layout.job("slo") + "/logs/who.log"] {
                #expect(owner(path)?.uid == alice, "\(path): \(String(describing: owner(path)))")
            }
            #expect(wrappers.calls().contains { $0.1 == "squeue" }, "rounds list alice's jobs with -u alice")
        }

        @Test func failingStepReportsSlurmsExitCode() throws {
            let (spool, _) = try TestSpool.slurm()
            try spool.startDaemon()
            try spool.drop("slf.yaml", """
                steps:
                  - {name: a, run: "echo fine"}
                  - {name: b, run: "echo failing >&2; exit 7"}
                  - {name: c, run: "echo never"}
                """)
            let s = try spool.waitFor("slf", timeout: 180)
            #expect(s.state == .failed)
            #expect(s.error?.step == "b" && s.error?.exitCode == 7, "\(String(describing: s.error))")
            #expect(s.steps.map(\.state) == [.completed, .failed, .skipped])
            #expect(s.steps[1].exitCode == 7)
            let id = try #require(s.executor.id)
            #expect(SlurmCluster.show(id)["ExitCode"] == "7:0")
            #expect(SlurmCluster.show(id)["JobState"] == "FAILED")
            #expect(spool.log("slf", "b").contains("failing"))
        }

        @Test func retriesResubmitAndTimeoutsEndTheSlurmJob() throws {
            let (spool, _) = try TestSpool.slurm()
            try spool.startDaemon()
            try spool.drop("slr.yaml", """
                steps:
                  - {name: flaky, run: "test \\"$HOPPER_ATTEMPT\\" = 2", retries: 1}
                  - {name: slow, run: "sleep 3071", timeout: 3s}
                """)
            let s = try spool.waitFor("slr", timeout: 240)
            #expect(s.state == .failed)
            #expect(s.steps[0].state == .completed && s.steps[0].attempts.map(\.state) == [.failed, .completed])
            let flakyIDs = spool.events("slr").filter { $0.event == "slurm_submitted" && $0.step == "flaky" }.compactMap(\.message)
            #expect(Set(flakyIDs).count == 2, "\(flakyIDs)")
            #expect(s.steps[1].state == .failed)
            #expect(s.error?.message == "step slow timed out (step timeout 3s)", "\(String(describing: s.error))")
            let id = try #require(s.executor.id)
            #expect(SlurmCluster.show(id)["TimeLimit"] == "00:02:00", "SLURM's --time is a backstop a minute beyond the timeout")
            #expect(eventually(timeout: 60) { SlurmCluster.activeState(id).isEmpty })
            #expect(eventually(timeout: 30) { processes(matching: "sleep 3071").isEmpty })
        }

        @Test func cancelLeavesNothingInSqueue() throws {
            let (spool, _) = try TestSpool.slurm()
            try spool.startDaemon()
            try spool.drop("slc.yaml", """
                steps:
                  - {name: long, run: "sleep 3072"}
                  - {name: after, run: "echo never"}
                """)
            let id = try spool.waitForSlurmRunning("slc")
            #expect(SlurmCluster.activeState(id) == "RUNNING")
            #expect(try spool.request("cancel", "slc"))
            let s = try spool.waitFor("slc", timeout: 120)
            #expect(s.state == .cancelled)
            #expect(s.steps.map(\.state) == [.cancelled, .skipped])
            #expect(eventually(timeout: 60) { SlurmCluster.activeState(id).isEmpty }, "still in squeue: \(SlurmCluster.activeState(id))")
            #expect(SlurmCluster.show(id)["JobState"] == "CANCELLED")
            #expect(eventually(timeout: 30) { processes(matching: "sleep 3072").isEmpty })
        }

        @Test func daemonKilledWhileSlurmJobRunsReadoptsItAndSubmitsOnce() throws {
            let (spool, wrappers) = try TestSpool.slurm()
            try spool.startDaemon()
            try spool.drop("slk.yaml", """
                steps:
                  - {name: work, run: "sleep 4; echo worked"}
                  - {name: next, run: "echo next"}
                """)
            let id = try spool.waitForSlurmRunning("slk")
            spool.killDaemon()
            try spool.startDaemon()
            let s = try spool.waitFor("slk", timeout: 180)
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.logText())")
            #expect(s.steps[0].attempts.count == 1 && s.steps[0].exitCode == 0)
            #expect(spool.log("slk", "work").components(separatedBy: "worked").count == 2)
            #expect(spool.events("slk").contains { $0.event == "resumed" })
            let submissions = wrappers.calls().filter { $0.1 == "sbatch" }.count
            #expect(submissions == 2, "one sbatch per step")
            #expect(SlurmCluster.jobs(markedWith: "slk", in: spool).count == 2)
            #expect(SlurmCluster.jobs(markedWith: "slk", in: spool).contains(id))
        }

        @Test func daemonStoppedWithSigtermWhileQueuedReadoptsTheJob() throws {
            let (spool, wrappers) = try TestSpool.slurm()
            try spool.startDaemon()
            // Two jobs of 2 CPUs each on a 2-CPU node: the second waits (PENDING) behind the first.
            try spool.drop("slt1.yaml", "resources: {cpus: 2}\nsteps: [{name: a, run: \"sleep 5\"}]\n")
            _ = try spool.waitForSlurmRunning("slt1")
            try spool.drop("slt2.yaml", "resources: {cpus: 2}\nsteps: [{name: a, run: \"echo second\"}]\n")
            try spool.waitFor("slt2", [.queued], timeout: 60)
            #expect(spool.stopDaemon() == 0)
            try spool.startDaemon()
            for id in ["slt1", "slt2"] {
                let s = try spool.waitFor(id, timeout: 180)
                #expect(s.state == .completed && s.steps[0].attempts.count == 1, "\(id): \(s.error?.message ?? "")")
            }
            #expect(wrappers.calls().filter { $0.1 == "sbatch" }.count == 2)
            #expect(spool.events("slt2").contains { $0.event == "resumed" })
            #expect(spool.log("slt2", "a").components(separatedBy: "second").count == 2)
        }

        @Test func daemonKilledBetweenSbatchAndItsAnswerFindsTheJobByItsMark() throws {
            let (spool, wrappers) = try TestSpool.slurm()
            try spool.startDaemon()
            wrappers.touch(wrappers.killFlag)
            try spool.drop("slx.yaml", "steps: [{name: only, run: \"sleep 2; echo only-once\"}]\n")
            let daemon = try #require(spool.daemon)
            #expect(eventually(timeout: 60) { !daemon.isRunning }, "the sbatch wrapper did not kill the daemon")
            #expect(!FileOps.exists(spool.layout.workspace("slx") + "/.hopper/only.1.slurm-id"), "the id was recorded: \(spool.files("slx"))")
            #expect(FileOps.exists(spool.layout.workspace("slx") + "/.hopper/only.1.slurm-intent"))
            try spool.startDaemon()
            let s = try spool.waitFor("slx", timeout: 180)
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.logText())")
            #expect(s.steps[0].attempts.count == 1)
            #expect(wrappers.calls().filter { $0.1 == "sbatch" }.count == 1, "submitted again after the restart")
            #expect(SlurmCluster.jobs(markedWith: "slx", in: spool).count == 1)
            #expect(spool.log("slx", "only").components(separatedBy: "only-once").count == 2)
            #expect(spool.logText().contains("slurm.found_after_restart"))
        }

        @Test func resultIsKeptWhenSlurmHasForgottenTheJob() throws {
            // SLURM forgets a finished job MinJobAge (300 s) after its end, and this cluster has no
            // accounting; the forgetting is faked (squeue lists nothing), the rest is real.
            let (spool, wrappers) = try TestSpool.slurm()
            try spool.startDaemon()
            try spool.drop("slg.yaml", "steps: [{name: gone, run: \"sleep 2; exit 5\"}]\n")
            let id = try spool.waitForSlurmRunning("slg")
            spool.killDaemon()
            let exitRecord = spool.layout.workspace("slg") + "/.hopper/gone.1.slurm-exit"
            #expect(eventually(timeout: 120) { FileOps.exists(exitRecord) && SlurmCluster.activeState(id).isEmpty })
            wrappers.touch(wrappers.forgetFlag)
            try spool.startDaemon()
            let s = try spool.waitFor("slg", timeout: 120)
            #expect(s.state == .failed && s.steps[0].exitCode == 5 && s.error?.exitCode == 5, "\(String(describing: s.error))")
            #expect(wrappers.calls().contains { $0.1 == "sacct" }, "sacct is asked about forgotten jobs")
        }

        @Test func unreachableSlurmctldKeepsTheJobWithANote() throws {
            let (spool, wrappers) = try TestSpool.slurm()
            try spool.startDaemon()
            wrappers.touch(wrappers.unreachableFlag)
            try spool.drop("slu.yaml", "steps: [{name: a, run: \"echo reached\"}]\n")
            #expect(eventually(timeout: 60) { spool.events("slu").contains { $0.event == "slurm_note" } }, "\(spool.logText())")
            let during = try spool.status("slu")
            #expect(during.state == .queued)
            #expect(during.steps[0].detail?.contains("slurmctld cannot be asked") == true, "\(during.steps[0].detail ?? "-")")
            #expect(spool.logText().contains("slurm.unreachable"))
            wrappers.remove(wrappers.unreachableFlag)
            let s = try spool.waitFor("slu", timeout: 120)
            #expect(s.state == .completed)
            #expect(spool.log("slu", "a").contains("reached"))
        }

        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Paths.snakemake) || ProcessInfo.processInfo.environment["CI"] != nil,
                       "needs scripts/setup-snakemake (the test command runs it)"))
        func snakemakeStepRunsAsOneSlurmJobWithProgress() throws {
            let (spool, wrappers) = try TestSpool.slurm()
            let snakefile = spool.base + "/Snakefile"
            try """
                rule all:
                    input: expand("out/{x}.txt", x=["a", "b", "c"])
                rule make:
                    output: "out/{x}.txt"
                    shell: "sleep 1; echo {wildcards.x} $SLURM_JOB_ID > {output}"
                """.write(toFile: snakefile, atomically: true, encoding: .utf8)
            try spool.startDaemon()
            try spool.drop("sls.yaml", """
                steps:
                  - name: smk
                    snakemake: {snakefile: \(snakefile), targets: [all], cores: 2}
                    outputs: ["out/*.txt"]
                """)
            let s = try spool.waitFor("sls", timeout: 240)
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.log("sls", "smk").suffix(3000))")
            let id = try #require(s.executor.id)
            #expect(wrappers.calls().filter { $0.1 == "sbatch" }.count == 1, "the whole Snakemake run is one SLURM job")
            #expect(SlurmCluster.show(id)["NumCPUs"] == "2", "cores → --cpus-per-task: \(SlurmCluster.show(id))")
            #expect(s.results.map(\.path) == ["results/out/a.txt", "results/out/b.txt", "results/out/c.txt"])
            let a = try String(contentsOfFile: spool.layout.job("sls") + "/results/out/a.txt", encoding: .utf8)
            #expect(a == "a \(id)\n")
            #expect(spool.log("sls", "smk").contains("steps (100%) done"))
            #expect(s.progress == 1)
        }

        @Test func twoHundredJobsInFlightCostOneSqueuePerRound() throws {
            let (spool, wrappers) = try TestSpool.slurm(poll: "1s", extra: "max_running: 400")
            try spool.startDaemon()
            let count = 200
            let prepared = spool.base + "/prepared"
            try FileManager.default.createDirectory(atPath: prepared, withIntermediateDirectories: true)
            for i in 0..<count {
                try "steps: [{name: s, run: \"true\"}]\n".write(toFile: "\(prepared)/m\(i).yaml", atomically: false, encoding: .utf8)
            }
            for i in 0..<count { rename("\(prepared)/m\(i).yaml", spool.layout.inbox + "/m\(i).yaml") }
            var inFlight = 0
            let done = eventually(timeout: 900) {
                var terminal = 0
                var active = 0
                for i in 0..<count {
                    guard let s = try? spool.status("m\(i)") else { continue }
                    if s.state.isTerminal { terminal += 1 } else if s.state == .queued || s.state == .running { active += 1 }
                }
                inFlight = max(inFlight, active)
                if terminal < count { usleep(500_000) }
                return terminal == count
            }
            #expect(done, "\(spool.logText().suffix(3000))")
            let states = (0..<count).compactMap { try? spool.status("m\($0)").state }
            #expect(states.filter { $0 == .completed }.count == count)
            #expect(inFlight >= 100, "at most \(inFlight) jobs were in SLURM at once")
            // Rounds begin with squeue; each may add at most one sacct or scontrol.
            let calls = wrappers.calls().filter { ["squeue", "sacct", "scontrol"].contains($0.1) }
            var perRound: [Int] = []
            for call in calls {
                if call.1 == "squeue" { perRound.append(1) } else if !perRound.isEmpty { perRound[perRound.count - 1] += 1 }
            }
            #expect(calls.first?.1 == "squeue")
            #expect(!perRound.isEmpty && perRound.allSatisfy { $0 <= 2 }, "calls per round: \(perRound)")
            #expect(wrappers.calls().filter { $0.1 == "sbatch" }.count == count)
            // Rounds are at least poll_interval apart: their number is bounded by the time taken.
            if let first = calls.first?.0, let last = calls.last?.0 {
                #expect(Double(perRound.count) <= (last - first) / 1.0 + 2, "\(perRound.count) rounds in \(last - first) s")
            }
            print("slurm polling: \(count) jobs, at most \(inFlight) in flight, \(perRound.count) rounds, \(calls.count) squeue/sacct/scontrol calls, max \(perRound.max() ?? 0) per round")
        }
    }
}
