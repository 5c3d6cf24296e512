// hopper-bench group — a group (`foreach:`) of N rows: the time from the drop until the group
// and all its children are accepted and indexed, and then a group of M rows run to the end.
//
//   swift run -c release hopper-bench group [--rows 10000] [--run 1000]
import ArgumentParser
import Foundation
import HopperCore
import HopperStore
#if canImport(Glibc)
import Glibc
#endif

struct GroupBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Accept a group of N rows (time), then run a group of M trivial jobs to the end.")

    @Option(help: "Rows of the group whose acceptance is timed.") var rows = 10_000
    @Option(name: .customLong("run"), help: "Rows of the group run to the end (`run: true`).") var runRows = 1000
    @Option(help: "max_running for the run (default: the number of cores).") var maxRunning = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Where the temporary spools go.") var dir = "/tmp"

    func sheet(_ path: String, rows: Int) throws {
        var text = "sample,lane\n"
        text.reserveCapacity(rows * 16)
        for i in 0..<rows { text += "S\(i),\(i % 4 + 1)\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func drop(_ spool: BenchSpool, id: String, body: String) {
        let tmp = spool.base + "/.\(id).yaml"
        let bytes = Array(body.utf8)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = write(fd, bytes, bytes.count)
        fsync(fd)
        close(fd)
        rename(tmp, "\(spool.layout.inbox)/\(id).yaml")
    }

    /// The group's status.json says `state`, read as bytes (no JSON decode while measuring).
    func groupState(_ spool: BenchSpool, _ id: String) -> String? {
        guard let bytes = try? FileOps.readFile(spool.layout.status(id), limit: 512) else { return nil }
        let head = String(decoding: bytes, as: UTF8.self)
        for s in ["pending", "running", "completed", "failed", "cancelled"] where head.contains("\"state\": \"\(s)\"") { return s }
        return nil
    }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("hopper \(HopperVersion.current) group benchmark: \(rows) rows accepted, \(runRows) rows run, max_running \(maxRunning), \(cores) cores")
        // Acceptance: the children wait for a file that never comes, so nothing runs meanwhile.
        let spool = try BenchSpool(in: dir, config: "max_running: 1\nmax_group_size: \(max(rows, runRows))\n")
        defer { spool.remove() }
        try sheet(spool.base + "/big.csv", rows: rows)
        sync()
        let t0 = now()
        drop(spool, id: "big", body: """
            workflow: bench
            foreach: {samplesheet: \(spool.base)/big.csv, key: sample}
            wait_for: {paths: [\(spool.base)/never]}
            description: benchmark group
            """)
        while !FileOps.exists(spool.layout.status("big")) { usleep(1_000) }
        let tCommitted = now()
        let last = "big.S\(rows - 1)"
        while !FileOps.exists(spool.layout.manifest(last)) { usleep(1_000) }
        let tChildren = now()
        var indexed = 0
        while indexed < rows {
            // One COUNT per look: the bench must not load the daemon's two cores itself.
            let counts = (try? JobStore(readOnlyPath: spool.layout.database).groupCounts(["big"]))?["big"] ?? [:]
            indexed = counts.values.reduce(0, +)
            if indexed < rows { usleep(5_000) }
        }
        let tIndexed = now()
        print(String(format: "group of %d rows: committed after %.3f s, every child folder after %.3f s, indexed (accepted whole) after %.3f s",
                     rows, tCommitted - t0, tChildren - t0, tIndexed - t0))
        spool.stop()

        let runner = try BenchSpool(in: dir, config: "max_running: \(maxRunning)\n")
        defer { runner.remove() }
        try sheet(runner.base + "/run.csv", rows: runRows)
        let t1 = now()
        drop(runner, id: "many", body: """
            foreach: {samplesheet: \(runner.base)/run.csv, key: sample}
            steps: [{name: s, run: "true"}]
            """)
        var state = groupState(runner, "many")
        while state != "completed" && state != "failed" && state != "cancelled" {
            usleep(20_000)
            state = groupState(runner, "many")
        }
        let took = now() - t1
        print(String(format: "group of %d `run: true` jobs: %@ after %.1f s (%.1f jobs/s)", runRows, state ?? "?", took, Double(runRows) / took))
        runner.stop()
    }
}
