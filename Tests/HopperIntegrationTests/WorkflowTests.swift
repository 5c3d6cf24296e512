// Every example workflow in Workflows/, run end to end by the real daemon, with its results
// checked by content and by checksum.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct Workflows {
        @Test func readmapPipelineComputesCheckableResults() throws {
            let spool = try TestSpool()
            try spool.layout.create()
            let data = spool.root + "/data/readmap"
            let make = try runProgram("/usr/bin/env", ["python3", spool.workflows + "/readmap/make-data.py", "--out", data, "--sample", "S001"])
            #expect(make.code == 0, "\(make.stderr)")
            try spool.startDaemon()
            let manifest = try String(contentsOfFile: Paths.repo + "/Workflows/examples/readmap-S001.yaml", encoding: .utf8)
            try spool.drop("readmap-S001.yaml", manifest)
            let s = try spool.waitFor("readmap-S001", timeout: 120)
            #expect(s.state == .completed, "\(s.error?.message ?? "")\n\(spool.log("readmap-S001", "qc"))")
            #expect(s.steps.map(\.name) == ["qc", "trim", "align", "report"])
            let results = spool.layout.job("readmap-S001") + "/results"
            let paths = Set(s.results.map(\.path))
            for expected in ["results/qc/qc.tsv", "results/trimmed/reads.fastq", "results/aligned/alignments.tsv", "results/report/summary.json"] {
                #expect(paths.contains(expected), "missing \(expected) in \(paths.sorted())")
            }
            // The content is right: check.py compares the results with the simulation's truth.
            let check = try runProgram("/usr/bin/env", ["python3", spool.workflows + "/readmap/check.py", results, data + "/S001.truth.tsv"])
            #expect(check.code == 0, "\(check.stdout)\n\(check.stderr)")
            // The checksums verify with coreutils, and the CLI agrees.
            let sums = try runProgram("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], cwd: results)
            #expect(sums.code == 0, "\(sums.stdout)\(sums.stderr)")
            #expect(sums.stdout.split(separator: "\n").count == s.results.count)
            let verify = try spool.hopper("results", "readmap-S001", "--verify", "--spool", spool.root)
            #expect(verify.code == 0, "\(verify.stdout)\(verify.stderr)")
            for r in s.results {
                let st = try #require(try FileOps.lstat(spool.layout.job("readmap-S001") + "/" + r.path))
                #expect(Int64(st.st_size) == r.bytes)
            }
        }

        @Test func helloAndDemoRunEndToEnd() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("hello1.yaml", try String(contentsOfFile: Paths.repo + "/Workflows/examples/hello.yaml", encoding: .utf8))
            try spool.drop("demo1.yaml", try String(contentsOfFile: Paths.repo + "/Workflows/examples/demo-S001.yaml", encoding: .utf8))
            let hello = try spool.waitFor("hello1")
            #expect(hello.state == .completed)
            #expect(try String(contentsOfFile: spool.layout.job("hello1") + "/results/greeting.txt", encoding: .utf8) == "hello, Ada Lovelace\n")
            var progressSeen: Set<Double> = []
            _ = eventually(timeout: 30) {
                if let p = try? spool.status("demo1") { progressSeen.insert(p.progress); return p.state.isTerminal }
                return false
            }
            let demo = try spool.status("demo1")
            #expect(demo.state == .completed && demo.progress == 1)
            #expect(progressSeen.count >= 3, "progress values seen: \(progressSeen.sorted())")
            #expect(spool.log("demo1", "analyse").contains("mock step analyse: done"))
        }

        @Test func demoDurationAndFailRateAreConfigurablePerJob() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("fast.yaml", "workflow: demo\nparams: {sample: F, duration: 100ms}\n")
            try spool.drop("doomed.yaml", "workflow: demo\nparams: {sample: D, duration: 50ms, fail_rate: 1}\n")
            let fast = try spool.waitFor("fast")
            #expect(fast.state == .completed)
            #expect(spool.log("fast", "analyse").contains("working for 0.100 s"))
            let doomed = try spool.waitFor("doomed")
            #expect(doomed.state == .failed && doomed.error?.step == "prepare")
            #expect(doomed.steps[0].attempts.count == 3, "retries: 2 in the demo workflow")
            #expect(doomed.steps.dropFirst().allSatisfy { $0.state == .skipped })
        }
    }
}
