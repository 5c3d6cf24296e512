import HopperCore
import Testing
@testable import HopperExec

@Suite struct SnakemakeProgressTests {
    @Test func readsCountsAndRulesInAnyChunking() {
        let log = """
            Building DAG of jobs...
            Job stats:
            job      count
            total       11

            [Sat Nov 22 02:30:00 2026]
            localrule split:
                output: chunks/0.fq
                jobid: 5
            [Sat Nov 22 02:30:01 2026]
            Finished jobid: 5 (Rule: split)
            1 of 11 steps (9%) done

            rule align:
                input: chunks/0.fq
            3 of 11 steps (27%) done

            """
        let bytes = Array(log.utf8)
        for chunk in [1, 7, 64, bytes.count] {
            var p = SnakemakeProgress()
            var i = 0
            while i < bytes.count {
                p.consume(bytes[i..<min(bytes.count, i + chunk)])
                i += chunk
            }
            #expect(p.done == 3 && p.total == 11 && p.lastRule == "align", "chunk \(chunk)")
            #expect(p.detail == "rule align (4 of 11)")
            #expect(abs((p.fraction ?? 0) - 3.0 / 11.0) < 1e-9)
        }
    }

    @Test func partialLineIsNotReadUntilItEnds() {
        var p = SnakemakeProgress()
        let first = p.consume(Array("2 of 4 steps (50%) do".utf8))
        #expect(!first)
        #expect(p.fraction == nil && p.detail == nil)
        let second = p.consume(Array("ne\n".utf8))
        #expect(second)
        #expect(p.fraction == 0.5)
        #expect(p.detail == "2 of 4 steps done")
    }

    @Test func commandLine() {
        let step = SnakemakeStep(snakefile: "/w/vc/Snakefile", targets: ["all"], cores: 2, args: ["--keep-going"])
        #expect(Snakemake.argv(executable: "/v/bin/snakemake", step: step, workspace: "/r/J1", rerun: true) == [
            "/v/bin/snakemake", "--snakefile", "/w/vc/Snakefile", "--directory", "/r/J1", "--configfile", "/r/J1/config.yaml",
            "--cores", "2", "--rerun-incomplete", "--keep-going", "all",
        ])
    }
}
