// Snakemake steps with the real Snakemake (the venv scripts/setup-snakemake makes; the test
// command installs it): live progress, cancel, retry after a failed rule, stale locks, and the
// field workflows end to end with their results checked.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TestSpool {
    /// Generates a workflow's synthetic data into spool/data/<workflow>/.
    func makeData(_ workflow: String, sample: String = "S001") throws {
        let r = try runProgram("/usr/bin/env", ["python3", workflows + "/\(workflow)/make-data.py", "--out", root + "/data/\(workflow)", "--sample", sample])
        if r.code != 0 { throw TestFailure("make-data for \(workflow) failed: \(r.stderr)") }
    }

    func example(_ name: String) throws -> String {
        try String(contentsOfFile: Paths.repo + "/Workflows/examples/\(name).yaml", encoding: .utf8)
    }

    /// Occupies the only slot (max_running: 1) until `release()`.
    func occupySlot() throws {
        try drop("blocker.yaml", "steps: [{name: a, run: \"sleep 3051\"}]\n")
        try waitFor("blocker", [.running])
    }

    func release() throws { _ = try request("cancel", "blocker") }
}

/// Runs of `rule` started in a Snakemake log section (local execution prints `localrule`).
func ruleRuns(_ log: Substring, _ rule: String) -> Int {
    log.split(separator: "\n").filter { $0 == "localrule \(rule):" || $0 == "rule \(rule):" }.count
}

extension Integration {
    @Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: Paths.snakemake) || ProcessInfo.processInfo.environment["CI"] != nil,
                    "needs scripts/setup-snakemake (the test command runs it)"))
    struct Snakemake {
        @Test func variantCallingRunsWithLiveProgressAndCorrectCalls() throws {
            let spool = try TestSpool()
            try spool.makeData("variant-calling")
            try spool.startDaemon()
            try spool.drop("vc1.yaml", try spool.example("variant-calling-S001"))
            var progress: [Double] = []
            var details: Set<String> = []
            let finished = eventually(timeout: 180) {
                guard let s = try? spool.status("vc1") else { return false }
                if s.state == .running, let p = s.steps.first?.progress, progress.last != p { progress.append(p) }
                if let d = s.steps.first?.detail, s.state == .running { details.insert(d) }
                return s.state.isTerminal
            }
            #expect(finished)
            let s = try spool.status("vc1")
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.log("vc1", "call").suffix(3000))")
            let intermediate = Set(progress.filter { $0 > 0 && $0 < 1 })
            #expect(intermediate.count >= 2, "progress seen: \(progress)")
            #expect(details.contains { $0.hasPrefix("rule ") && $0.contains(" of ") }, "details: \(details)")
            let results = spool.layout.job("vc1") + "/results"
            let check = try runProgram("/usr/bin/env", ["python3", spool.workflows + "/variant-calling/check.py", results,
                                                        spool.root + "/data/variant-calling/S001.truth.vcf"])
            #expect(check.code == 0, "\(check.stdout)\(check.stderr)")
            #expect(try runProgram("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], cwd: results).code == 0)
            #expect(spool.log("vc1", "call").contains("steps (100%) done"))
            #expect(spool.log("vc1", "call.snakemake").contains("steps (100%) done"))
        }

        @Test func cancelLeavesNoSnakemakeOrRuleProcess() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let snakefile = spool.base + "/Sleepy.smk"
            try """
                rule all:
                    input: expand("done{i}.txt", i=range(4))
                rule nap:
                    output: "done{i}.txt"
                    shell: "sleep 306{wildcards.i} && touch {output}"
                """.write(toFile: snakefile, atomically: true, encoding: .utf8)
            try spool.drop("smc.yaml", "steps: [{name: nap, snakemake: {snakefile: \(snakefile), targets: [all], cores: 2}}]\n")
            try spool.waitFor("smc", [.running])
            #expect(eventually(timeout: 60) { !processes(matching: "sleep 306").isEmpty },
                    "\(spool.log("smc", "nap"))\n\((try? spool.status("smc"))?.error?.message ?? "")")
            #expect(try spool.request("cancel", "smc"))
            let s = try spool.waitFor("smc", timeout: 30)
            #expect(s.state == .cancelled)
            #expect(eventually(timeout: 10) { processes(matching: "sleep 306").isEmpty && processes(matching: snakefile).isEmpty },
                    "left: \(processes(matching: "sleep 306")) \(processes(matching: snakefile))")
        }

        @Test func retryAfterAFailedRuleRunsOnlyWhatIsMissing() throws {
            let spool = try TestSpool(config: "max_running: 1")
            try spool.makeData("variant-calling")
            try spool.startDaemon()
            try spool.occupySlot()
            try spool.drop("vc2.yaml", try spool.example("variant-calling-S001"))
            #expect(eventually { spool.isAccepted("vc2") })
            // Break the `call` rule before the job starts: its workspace already holds FAIL_call.
            try FileManager.default.createDirectory(atPath: spool.layout.workspace("vc2"), withIntermediateDirectories: true)
            try "".write(toFile: spool.layout.workspace("vc2") + "/FAIL_call", atomically: true, encoding: .utf8)
            try spool.release()
            let failed = try spool.waitFor("vc2", timeout: 180)
            #expect(failed.state == .failed, "\(spool.log("vc2", "call").suffix(2000))")
            #expect(failed.error?.exitCode == 1)
            // Fix the cause, retry: only the rules that had not finished run again.
            try FileManager.default.removeItem(atPath: spool.layout.workspace("vc2") + "/FAIL_call")
            #expect(try spool.request("retry", "vc2"))
            let done = try spool.waitFor("vc2", [.completed, .failed], timeout: 180)
            #expect(done.state == .completed, "\(spool.log("vc2", "call").suffix(3000))")
            let log = spool.log("vc2", "call")
            let sections = log.components(separatedBy: "==> hopper: step call attempt ")
            #expect(sections.count == 3)
            let first = Substring(sections[1]), second = Substring(sections[2])
            // Every job of the DAG ran exactly once over both attempts: nothing finished ran again.
            for (rule, jobs) in [("split_reads", 1), ("align", 4), ("merge_alignments", 1), ("pileup", 4), ("call", 4)] {
                #expect(ruleRuns(first, rule) + ruleRuns(second, rule) == jobs + (rule == "call" ? ruleRuns(first, "call") : 0),
                        "\(rule): \(ruleRuns(first, rule)) + \(ruleRuns(second, rule))")
            }
            #expect(ruleRuns(first, "align") == 4 && ruleRuns(second, "align") == 0)
            #expect(ruleRuns(second, "call") == 4, "the failed rule runs again")
            #expect(done.steps[0].attempts.map(\.state) == [.failed, .completed])
        }

        @Test func aStaleLockFromAKilledRunDoesNotStopTheRetry() throws {
            let spool = try TestSpool()
            try spool.makeData("variant-calling")
            try spool.startDaemon()
            try spool.drop("vc3.yaml", try spool.example("variant-calling-S001"))
            let locks = spool.layout.workspace("vc3") + "/.snakemake/locks"
            #expect(eventually(timeout: 60) { !((try? FileOps.listDirectory(locks)) ?? []).isEmpty }, "\(spool.log("vc3", "call"))")
            // The machine "crashes": daemon and step killed at once, the lock stays behind.
            spool.killDaemon()
            spool.killSteps()
            #expect(!((try? FileOps.listDirectory(locks)) ?? []).isEmpty)
            try spool.startDaemon()
            // The killed attempt is recorded interrupted and runs again by itself (until this
            // phase it failed the job, and a `retry` request was needed); the lock it left is
            // removed first.
            let done = try spool.waitFor("vc3", [.completed, .failed], timeout: 180)
            #expect(done.state == .completed, "\(spool.log("vc3", "call").suffix(3000))")
            #expect(done.steps.contains { $0.attempts.contains { $0.state == .interrupted } }, "\(done.steps.map(\.attempts))")
            #expect(spool.events("vc3").contains { $0.event == "interrupted" })
            #expect(spool.events("vc3").contains { $0.event == "snakemake_unlocked" })
        }

        @Test func qslamMixesRunAndSnakemakeStepsAndEachReruns() throws {
            let spool = try TestSpool()
            try spool.makeData("qslam")
            try spool.startDaemon()
            try spool.drop("q1.yaml", try spool.example("qslam-S001"))
            let s = try spool.waitFor("q1", timeout: 240)
            #expect(s.state == .completed, "\(s.error?.message ?? "")")
            #expect(s.steps.map(\.name) == ["qc", "umi", "trim", "readlen", "read_mapping", "site_analysis"])
            let results = spool.layout.job("q1") + "/results"
            let check = try runProgram("/usr/bin/env", ["python3", spool.workflows + "/qslam/check.py", results,
                                                        spool.root + "/data/qslam/S001.truth.tsv"])
            #expect(check.code == 0, "\(check.stdout)\(check.stderr)")
            // Each step re-runs on its own, a Snakemake one included (forced: new work, new attempt).
            #expect(try spool.request("rerun", "q1", steps: ["umi", "site_analysis"]))
            let again = try spool.waitFor("q1", [.completed, .failed], timeout: 240)
            #expect(again.state == .completed)
            #expect(again.steps.map { $0.attempts.count } == [1, 2, 1, 1, 1, 2])
            let second = spool.log("q1", "site_analysis").components(separatedBy: "==> hopper: step site_analysis attempt ")
            #expect(second.count == 3 && second[2].contains("steps (100%) done"), "\(second.last ?? "")")
        }
    }
}
