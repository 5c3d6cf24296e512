// hopper-bench — benchmarks that run the real daemon on a temporary spool and print figures.
//
//   swift run -c release hopper-bench intake [--count 5000] [--runs 3]
//
// Not a test: it asserts nothing, it measures. The README's benchmark table comes from here.
import ArgumentParser
import Foundation
import HopperCore
import HopperStore
#if canImport(Glibc)
import Glibc
#endif

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hopper-bench", abstract: "Hopper benchmarks on the real daemon.",
        subcommands: [IntakeBench.self, JobsBench.self, ListBench.self, SlurmBench.self, MemoryBench.self, GroupBench.self])
}

/// The `hopper` binary built beside this one.
func hopperBinary() -> String {
    if let env = ProcessInfo.processInfo.environment["HOPPER_BIN"] { return env }
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return FileOps.split(me).0 + "/hopper"
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let idx = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
    return sorted[max(0, idx)]
}

/// The disk's own floor: `n` fsyncs of a new 100-byte file in `dir`, p50 and p99 in ms. A
/// durable acceptance needs at least one, so no drop → start latency can be lower.
func fsyncFloor(_ dir: String, _ n: Int = 200) -> (p50: Double, p99: Double) {
    var times: [Double] = []
    let bytes = [UInt8](repeating: 0x78, count: 100)
    for i in 0..<n {
        let path = "\(dir)/.hopper-bench-fsync-\(getpid())-\(i)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { continue }
        _ = write(fd, bytes, bytes.count)
        let t = now()
        fsync(fd)
        times.append((now() - t) * 1000)
        close(fd)
        unlink(path)
    }
    return (percentile(times, 50), percentile(times, 99))
}

/// A temporary spool with a running daemon.
final class BenchSpool {
    let base: String
    let layout: SpoolLayout
    private(set) var daemon = Process()

    init(in dir: String, config: String = "") throws {
        base = "\(dir)/hopper-bench-\(getpid())-\(Int(now() * 1000) % 1_000_000)"
        layout = SpoolLayout(root: base + "/spool")
        try FileManager.default.createDirectory(atPath: base + "/Workflows", withIntermediateDirectories: true)
        try """
            description: benchmark workflow
            params:
              sample: {type: string, required: true}
            steps:
              - name: one
                mock: {duration: 1s}
            """.write(toFile: base + "/Workflows/bench.yaml", atomically: true, encoding: .utf8)
        try "spool: \(layout.root)\nworkflows: \(base)/Workflows\nlog_level: warning\n\(config)"
            .write(toFile: base + "/config.yaml", atomically: true, encoding: .utf8)
        try start()
    }

    /// Starts the daemon on the spool and waits until its heartbeat says running.
    func start() throws {
        daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: hopperBinary())
        daemon.arguments = ["daemon", "--config", base + "/config.yaml"]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        let deadline = now() + 30
        while now() < deadline {
            if let b = try? FileOps.readFile(layout.heartbeat), let s = try? JSON.decode(SystemStatus.self, from: b),
               s.pid == daemon.processIdentifier, s.state == "running" { return }
            usleep(10_000)
        }
        throw ValidationError("the daemon did not start (binary \(hopperBinary()))")
    }

    func stop() {
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
    }

    /// Removed only at the end of the benchmark: on ext4 without a journal, inodes freed in the
    /// last minute make every new inode slow to allocate (`recently_deleted`), which would
    /// penalise the next run.
    func remove() { try? FileManager.default.removeItem(atPath: base) }

    func writeManifest(_ path: String, sample: String) {
        let bytes = Array("workflow: bench\nparams:\n  sample: \(sample)\ndescription: benchmark\n".utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        write(fd, bytes, bytes.count)
        close(fd)
    }
}

struct IntakeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intake", abstract: "Drop N manifests at once; time until all are accepted durably.")

    @Option(help: "Manifests per run.") var count = 5000
    @Option(help: "Runs (the median is reported).") var runs = 3
    @Option(help: "Single drops for the latency figure.") var singles = 200
    @Option(help: "Where the temporary spools go (the filesystem measured).") var dir = "/tmp"

    func run() throws {
        print("hopper \(HopperVersion.current) intake benchmark: \(count) manifests x \(runs) runs, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let fs = (try? FileSystemKind.of(path: dir).name) ?? "?"
        print("spools in \(dir) (\(fs))")
        var rates: [Double] = []
        var spools: [BenchSpool] = []
        defer { for s in spools { s.remove() } }
        for r in 1...runs {
            let spool = try BenchSpool(in: dir)
            spools.append(spool)
            let prepared = spool.base + "/prepared"
            try FileManager.default.createDirectory(atPath: prepared, withIntermediateDirectories: true)
            for i in 0..<count { spool.writeManifest("\(prepared)/B\(i).yaml", sample: "B\(i)") }
            sync()
            let t0 = now()
            for i in 0..<count { rename("\(prepared)/B\(i).yaml", "\(spool.layout.inbox)/B\(i).yaml") }
            let tDropped = now()
            // Walk the ids in order; each poll re-checks only the first one not yet seen.
            var cursor = 0
            while cursor < count {
                if FileOps.exists(spool.layout.manifest("B\(cursor)")) { cursor += 1 } else { usleep(1_000) }
            }
            let t1 = now()
            let rate = Double(count) / (t1 - t0)
            rates.append(rate)
            print(String(format: "run %d: dropped in %.3f s, all %d accepted after %.3f s: %.0f manifests/s",
                         r, tDropped - t0, count, t1 - t0, rate))
            spool.stop()
        }
        print(String(format: "intake throughput (median of %d): %.0f manifests/s", runs, percentile(rates, 50)))

        let spool = try BenchSpool(in: dir)
        spools.append(spool)
        var latencies: [Double] = []
        for i in 0..<singles {
            let tmp = spool.base + "/.s\(i).yaml"
            spool.writeManifest(tmp, sample: "S\(i)")
            let t0 = now()
            rename(tmp, "\(spool.layout.inbox)/S\(i).yaml")
            while !FileOps.exists(spool.layout.manifest("S\(i)")) { usleep(200) }
            latencies.append((now() - t0) * 1000)
        }
        spool.stop()
        print(String(format: "single drop -> accepted (durable), %d drops: p50 %.1f ms, p99 %.1f ms",
                     singles, percentile(latencies, 50), percentile(latencies, 99)))
    }
}

struct ListBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "Time `hopper ls` on a store holding N jobs.")

    @Option(help: "Jobs in the store.") var jobs = 100_000
    @Option(help: "Timed runs of each command.") var runs = 20

    func run() throws {
        let base = "/tmp/hopper-bench-ls-\(getpid())"
        let layout = SpoolLayout(root: base + "/spool")
        try layout.create()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = try JobStore(path: layout.database)
        let states: [JobState] = [.completed, .completed, .completed, .failed, .running, .pending]
        let t0 = now()
        var batch: [JobRecord] = []
        for i in 0..<jobs {
            let state = states[i % states.count]
            let t = Timestamp.rfc3339(1_790_000_000 + Double(i))
            batch.append(JobRecord(id: "J\(i)", state: state, queue: "default", owner: "user\(i % 50)", uid: 1000,
                                   priority: 0, workflow: "demo", description: nil, submittedAt: t))
            if batch.count == 10_000 { try store.insert(batch); batch.removeAll() }
        }
        try store.insert(batch)
        print(String(format: "hopper ls benchmark: %d jobs indexed in %.1f s", jobs, now() - t0))
        let hopper = hopperBinary()
        for args in [["ls"], ["ls", "--state", "failed", "--limit", "50"], ["ls", "--owner", "user7"], ["ls", "--json", "--limit", "1000"]] {
            var times: [Double] = []
            for _ in 0..<runs {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: hopper)
                p.arguments = args + ["--spool", layout.root]
                p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
                let t = now()
                try p.run()
                p.waitUntilExit()
                times.append((now() - t) * 1000)
            }
            print(String(format: "hopper %@: p50 %.1f ms, p99 %.1f ms (whole command, %d runs)",
                         args.joined(separator: " "), percentile(times, 50), percentile(times, 99), runs))
        }
    }
}

struct JobsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Run N trivial jobs (`run: true`): throughput, and drop-to-start latency with a free slot.")

    @Option(help: "Jobs dropped at once.") var count = 1000
    @Option(help: "Single drops for the latency figure.") var singles = 200
    @Option(help: "max_running (default: the number of cores).") var maxRunning = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Where the temporary spools go.") var dir = "/tmp"
    @Option(help: "A line added to the daemon's config, e.g. 'pages: off' (A/B).") var config: [String] = []

    static let body = "steps: [{name: s, run: \"true\"}]\n"

    func write(_ path: String) {
        let bytes = Array(Self.body.utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = Glibc.write(fd, bytes, bytes.count)
        close(fd)
    }

    /// Whether the job's status.json says a terminal state. A byte search, not a JSON decode:
    /// the benchmark's own polling must not take CPU from the daemon it measures.
    func isTerminal(_ layout: SpoolLayout, _ id: String) -> Bool {
        guard let bytes = try? FileOps.readFile(layout.status(id), limit: 256) else { return false }
        let head = String(decoding: bytes, as: UTF8.self)
        return head.contains("\"state\": \"completed\"") || head.contains("\"state\": \"failed\"") || head.contains("\"state\": \"cancelled\"")
    }

    func run() throws {
        print("hopper \(HopperVersion.current) jobs benchmark: \(count) jobs `run: true`, max_running \(maxRunning), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let fs = (try? FileSystemKind.of(path: dir).name) ?? "?"
        let floor = fsyncFloor(dir)
        print(String(format: "spool in %@ (%@); the disk's own fsync of a small new file: p50 %.2f ms, p99 %.2f ms",
                     dir, fs, floor.p50, floor.p99))
        let extra = config.map { $0 + "\n" }.joined()
        if !extra.isEmpty { print("config: " + config.joined(separator: "; ")) }
        let spool = try BenchSpool(in: dir, config: "max_running: \(maxRunning)\n" + extra)
        defer { spool.stop(); spool.remove() }
        let prepared = spool.base + "/prepared"
        try FileManager.default.createDirectory(atPath: prepared, withIntermediateDirectories: true)
        for i in 0..<count { write("\(prepared)/J\(i).yaml") }
        sync()
        let t0 = now()
        for i in 0..<count { rename("\(prepared)/J\(i).yaml", "\(spool.layout.inbox)/J\(i).yaml") }
        var cursor = 0
        while cursor < count {
            if isTerminal(spool.layout, "J\(cursor)") { cursor += 1 } else { usleep(5_000) }
        }
        let elapsed = now() - t0
        var completed = 0
        for i in 0..<count {
            if let b = try? FileOps.readFile(spool.layout.status("J\(i)")), let s = try? JSON.decode(JobStatus.self, from: b), s.state == .completed { completed += 1 }
        }
        print(String(format: "%d jobs dropped at once, all terminal after %.2f s: %.0f jobs/s (%d completed)", count, elapsed, Double(count) / elapsed, completed))

        // Latency: one drop at a time, every slot free; start = the step's supervisor started.
        var latencies: [Double] = []
        for i in 0..<singles {
            let tmp = spool.base + "/.l\(i).yaml"
            write(tmp)
            let wall = Timestamp.now()
            rename(tmp, "\(spool.layout.inbox)/L\(i).yaml")
            let record = spool.layout.jobWorkspace("L\(i)").record(step: "s", attempt: 1)
            while !isTerminal(spool.layout, "L\(i)") { usleep(500) }
            guard let bytes = try? FileOps.readFile(record),
                  let text = Optional(String(decoding: bytes, as: UTF8.self)),
                  let range = text.range(of: "\"started_at\": "),
                  let started = Double(text[range.upperBound...].prefix { $0 == "." || $0.isNumber }) else { continue }
            latencies.append((started - wall) * 1000)
        }
        print(String(format: "drop -> step started (slot free), %d drops: p50 %.1f ms, p99 %.1f ms", latencies.count,
                     percentile(latencies, 50), percentile(latencies, 99)))
    }
}
