// hopper-bench memory — the daemon's memory under a backlog, and after many jobs.
//
//   swift run -c release hopper-bench memory [--backlog 100000] [--jobs 1000000]
//
// 1. `--backlog` manifests dropped at once while one long job holds the only slot: all are
//    accepted and wait pending. Printed: the daemon's peak RSS (VmHWM) and RSS once every
//    manifest is accepted.
// 2. `--jobs` trivial jobs (`run: true`) dropped in rounds of 10,000 and run to their end.
//    Printed: RSS after each round and at the end (memory that grew with jobs run would show);
//    then the daemon is restarted on that spool: its peak RSS through recovery and start-up.
import ArgumentParser
import Foundation
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

struct MemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory", abstract: "Peak RSS with a backlog of pending jobs; RSS after many trivial jobs.")

    @Option(help: "Manifests dropped at once and held pending.") var backlog = 100_000
    @Option(help: "Trivial jobs run to their end, in rounds of 10,000 (0: skip).") var jobs = 100_000
    @Option(help: "Where the temporary spools go.") var dir = "/tmp"
    @Option(help: "A line added to the daemon's config, e.g. 'pages: off' (A/B).") var config: [String] = []

    /// VmRSS and VmHWM of `pid`, in MiB.
    static func memory(_ pid: Int32) -> (rss: Double, peak: Double) {
        guard let bytes = try? FileOps.readFile("/proc/\(pid)/status", limit: 16384) else { return (0, 0) }
        var rss = 0.0, peak = 0.0
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Double(parts[1]) else { continue }
            if parts[0] == "VmRSS:" { rss = kb / 1024 }
            if parts[0] == "VmHWM:" { peak = kb / 1024 }
        }
        return (rss, peak)
    }

    func count(_ folder: String) -> Int { ((try? FileOps.listDirectory(folder)) ?? []).count }

    func drop(_ n: Int, prefix: String, body: String, into spool: BenchSpool) throws {
        let prepared = spool.base + "/prepared"
        try FileManager.default.createDirectory(atPath: prepared, withIntermediateDirectories: true)
        let bytes = Array(body.utf8)
        for i in 0..<n {
            let fd = open("\(prepared)/\(prefix)\(i).yaml", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = Glibc.write(fd, bytes, bytes.count)
            close(fd)
        }
        for i in 0..<n { rename("\(prepared)/\(prefix)\(i).yaml", "\(spool.layout.inbox)/\(prefix)\(i).yaml") }
    }

    func run() throws {
        say("hopper \(HopperVersion.current) memory benchmark, spool in \(dir)")
        if backlog > 0 {
            let spool = try BenchSpool(in: dir, config: "max_running: 1\nmin_free_space: 0\n" + config.map { $0 + "\n" }.joined())
            defer { spool.stop(); spool.remove() }
            let pid = spool.daemon.processIdentifier
            let idle = Self.memory(pid)
            try drop(1, prefix: "hold", body: "steps: [{name: s, run: \"sleep 100000\"}]\n", into: spool)
            let t0 = now()
            try drop(backlog, prefix: "B", body: "steps: [{name: s, run: \"true\"}]\n", into: spool)
            while count(spool.layout.outbox) < backlog + 2 { usleep(200_000) }   // + hold + .staging
            let accepted = now() - t0
            let m = Self.memory(pid)
            say(String(format: "backlog: %d manifests dropped at once, all accepted and pending after %.1f s; daemon RSS idle %.1f MiB, now %.1f MiB, peak %.1f MiB",
                         backlog, accepted, idle.rss, m.rss, m.peak))
            pageSizes(spool, jobs: backlog + 1)
            spool.stop()
            if let pgid = try? FileOps.readFile(spool.layout.jobWorkspace("hold").record(step: "s", attempt: 1)),
               let text = Optional(String(decoding: pgid, as: UTF8.self)),
               let r = text.range(of: "\"pgid\": "), let g = Int32(text[r.upperBound...].prefix { $0.isNumber }) {
                kill(-g, SIGKILL)
            }
        }
        if jobs > 0 {
            let spool = try BenchSpool(in: dir, config: "min_free_space: 0\n" + config.map { $0 + "\n" }.joined())
            defer { spool.stop(); spool.remove() }
            let pid = spool.daemon.processIdentifier
            var done = 0
            let t0 = now()
            while done < jobs {
                let n = min(10_000, jobs - done)
                try drop(n, prefix: "R\(done / 10_000)-", body: "steps: [{name: s, run: \"true\"}]\n", into: spool)
                let last = "R\(done / 10_000)-\(n - 1)"
                while !isDone(spool, last) { usleep(100_000) }
                done += n
                let m = Self.memory(pid)
                say(String(format: "after %d jobs (%.0f s): daemon RSS %.1f MiB, peak %.1f MiB", done, now() - t0, m.rss, m.peak))
            }
            // A restart with every job in the store: recovery reads the store a page at a time.
            spool.stop()
            let t1 = now()
            try spool.start()
            let ready = now() - t1
            let m = Self.memory(spool.daemon.processIdentifier)
            say(String(format: "restart with %d jobs in the store: running after %.1f s; daemon RSS %.1f MiB, peak %.1f MiB",
                         done, ready, m.rss, m.peak))
        }
    }

    /// With pages on: once the last further page of all jobs is written (at most every 30 s),
    /// the size of the first page and of the largest one.
    func pageSizes(_ spool: BenchSpool, jobs: Int) {
        let pages = min(SpoolPage.maxPages, (jobs + SpoolPage.jobsPerPage - 1) / SpoolPage.jobsPerPage)
        let last = spool.layout.page(SpoolPage.fileName(state: nil, page: pages))
        let t0 = now()
        while !FileOps.exists(last) && now() - t0 < 90 { usleep(500_000) }
        guard FileOps.exists(last) else {
            say("pages: \(SpoolPage.fileName(state: nil, page: pages)) not written within 90 s (pages off?)")
            return
        }
        // silent: a page being replaced is skipped; the figures are what could be read.
        let names = ((try? FileOps.listDirectory(spool.layout.root)) ?? []).filter { $0.hasPrefix("index") && $0.hasSuffix(".html") }
        var largest = (name: "", bytes: 0)
        var first = 0
        for name in names {
            // silent: as above.
            guard let st = (try? FileOps.lstat(spool.layout.page(name))) ?? nil else { continue }
            let bytes = Int(st.st_size)
            if name == "index.html" { first = bytes }
            if bytes > largest.bytes { largest = (name, bytes) }
        }
        say(String(format: "pages with %d jobs: %d spool pages; index.html %.0f KiB, largest %@ %.0f KiB (%.0f s after all were accepted)",
                     jobs, names.count, Double(first) / 1024, largest.name, Double(largest.bytes) / 1024, now() - t0))
    }

    func isDone(_ spool: BenchSpool, _ id: String) -> Bool {
        guard let bytes = try? FileOps.readFile(spool.layout.status(id), limit: 256) else { return false }
        let head = String(decoding: bytes, as: UTF8.self)
        return head.contains("\"state\": \"completed\"") || head.contains("\"state\": \"failed\"")
    }
}

/// A line on standard output at once (write(2)), also into a file: the run takes hours, and
/// print's buffer would hold every figure until the end.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
