// hopper-bench slurm — N trivial jobs through SLURM versus locally, on the real daemon.
//
//   swift run -c release hopper-bench slurm [--count 200] [--poll 1s] [--dir /tmp]
//   swift run -c release hopper-bench slurm --group [--count 200] [--rounds 2]
//
// Needs a SLURM cluster (scripts/slurm-up). Each job is `steps: [{name: s, run: "true"}]`;
// the figure is the time from dropping all N at once until every one is terminal. Then the
// same number of plain `sbatch --wrap true`, for what SLURM itself takes. With `--group`: one
// group of N rows through SLURM with job arrays (`slurm.array_window: 1s`) and without
// (`0s`), interleaved, counting the sbatch submissions each made.
import ArgumentParser
import Foundation
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

struct SlurmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm", abstract: "N trivial jobs through SLURM and locally: time until all are terminal.")

    @Option(help: "Jobs dropped at once.") var count = 200
    @Option(help: "slurm.poll_interval for the SLURM run.") var poll = "1s"
    @Option(help: "Where the temporary spools go.") var dir = "/tmp"
    @Flag(help: "A group of --count rows, with job arrays and without (A/B).") var group = false
    @Option(help: "A/B rounds with --group.") var rounds = 2

    func run() throws {
        if group {
            print("hopper \(HopperVersion.current) slurm benchmark: a group of \(count) jobs `run: true`, arrays on and off, \(rounds) rounds")
            for round in 0..<rounds {
                let order = round % 2 == 0 ? ["1s", "0s"] : ["0s", "1s"]
                for window in order { try measureGroup(window: window) }
            }
            return
        }
        print("hopper \(HopperVersion.current) slurm benchmark: \(count) jobs `run: true`, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let local = try measure(label: "local (max_running \(cores))", config: "max_running: \(cores)\n")
        let slurm = try measure(label: "slurm (poll_interval \(poll))",
                                config: "executor: slurm\nmax_running: \(count * 2)\nslurm: {poll_interval: \(poll)}\n")
        print(String(format: "slurm/local time: %.1fx", slurm / local))
        let raw = try rawSlurm()
        print(String(format: "Hopper's share of the SLURM run: %.2f s over raw sbatch (%.1f%%)", slurm - raw, (slurm - raw) / raw * 100))
    }

    /// The same work without Hopper: `sbatch --wrap true` N times, until squeue lists none.
    func rawSlurm() throws -> Double {
        func run(_ args: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = args
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let t0 = now()
        var ids: Set<String> = []
        for _ in 0..<count {
            let out = try run(["sbatch", "--parsable", "--output=/dev/null", "--comment=hopper-bench-raw", "--wrap", "true"])
            if let id = out.split(separator: "\n").first.flatMap({ $0.split(separator: ";").first }) { ids.insert(String(id)) }
        }
        let submitted = now() - t0
        while true {
            let listed = try run(["squeue", "-h", "--me", "-o", "%i"]).split(separator: "\n").map(String.init)
            if !listed.contains(where: { ids.contains($0) }) { break }
            usleep(200_000)
        }
        let elapsed = now() - t0
        print(String(format: "raw SLURM (sbatch --wrap true, squeue every 0.2 s): %d jobs submitted in %.2f s, all done after %.2f s: %.1f jobs/s",
                     count, submitted, elapsed, Double(count) / elapsed))
        return elapsed
    }

    /// A group of `count` trivial jobs on SLURM: seconds until the group ended, and how many
    /// sbatch submissions its jobs made (distinct SLURM job ids; an array's tasks share one).
    func measureGroup(window: String) throws {
        let spool = try BenchSpool(in: dir, config: "executor: slurm\nmax_running: \(count * 2)\nmax_group_size: \(count)\nslurm: {poll_interval: \(poll), array_window: \(window)}\n")
        defer { spool.stop(); spool.remove() }
        let rows = (0..<count).map { "{s: S\($0)}" }.joined(separator: ", ")
        let body = "foreach: {rows: [\(rows)]}\nsteps: [{name: s, run: \"true\"}]\n"
        let prepared = spool.base + "/g.yaml"
        try body.write(toFile: prepared, atomically: false, encoding: .utf8)
        sync()
        let t0 = now()
        rename(prepared, spool.layout.inbox + "/g.yaml")
        var state: JobState?
        while state == nil || !state!.isTerminal {
            usleep(20_000)
            state = (try? FileOps.readFile(spool.layout.status("g"))).flatMap { try? JSON.decode(GroupStatus.self, from: $0) }?.state
        }
        let elapsed = now() - t0
        var submissions: Set<String> = []
        for i in 0..<count {
            guard let bytes = try? FileOps.readFile(spool.layout.status("g.S\(i)")),
                  let s = try? JSON.decode(JobStatus.self, from: bytes), let id = s.executor.id else { continue }
            submissions.insert(String(id.split(separator: "_")[0]))
        }
        print(String(format: "group of %d on SLURM, array_window %@: %@ after %.2f s (%.1f jobs/s), %d sbatch submissions",
                     count, window, state?.rawValue ?? "?", elapsed, Double(count) / elapsed, submissions.count))
    }

    /// Seconds until all jobs are terminal.
    func measure(label: String, config: String) throws -> Double {
        let spool = try BenchSpool(in: dir, config: config)
        defer { spool.stop(); spool.remove() }
        let prepared = spool.base + "/prepared"
        try FileManager.default.createDirectory(atPath: prepared, withIntermediateDirectories: true)
        for i in 0..<count { try JobsBench.body.write(toFile: "\(prepared)/J\(i).yaml", atomically: false, encoding: .utf8) }
        sync()
        let t0 = now()
        for i in 0..<count { rename("\(prepared)/J\(i).yaml", "\(spool.layout.inbox)/J\(i).yaml") }
        var firstStarted: Double?
        var cursor = 0
        var completed = 0
        while cursor < count {
            guard let bytes = try? FileOps.readFile(spool.layout.status("J\(cursor)")),
                  let s = try? JSON.decode(JobStatus.self, from: bytes) else { usleep(5_000); continue }
            if firstStarted == nil && s.state != .pending { firstStarted = now() }
            if s.state.isTerminal {
                if s.state == .completed { completed += 1 }
                cursor += 1
            } else {
                usleep(5_000)
            }
        }
        let elapsed = now() - t0
        print(String(format: "%@: %d jobs, all terminal after %.2f s: %.1f jobs/s (%d completed; first job started after %.3f s)",
                     label, count, elapsed, Double(count) / elapsed, completed, (firstStarted ?? t0) - t0))
        return elapsed
    }
}
