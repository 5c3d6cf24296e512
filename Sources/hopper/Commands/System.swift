// hopper system — the daemon's heartbeat (system/status.json), readable.
import ArgumentParser
import HopperCore

extension Hopper {
    struct System: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the daemon's heartbeat: alive or not, inboxes, intake, jobs.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Flag(help: "Print system/status.json as it is.")
        var json = false

        func run() async throws {
            let spool = try spoolOptions.resolve()
            guard let bytes = try? FileOps.readFile(spool.layout.heartbeat) else {
                throw CLIError("no hopper daemon has run on \(spool.layout.root) yet (no system/status.json)")
            }
            if json { Console.out(bytes: bytes); return }
            let s: SystemStatus
            do { s = try JSON.decode(SystemStatus.self, from: bytes) } catch {
                throw CLIError("\(spool.layout.heartbeat) is not a valid heartbeat: \(error)")
            }
            let alive = s.isAlive()
            var lines: [String] = []
            lines.append("daemon     \(alive ? "running" : "NOT RUNNING") (state \(s.state), pid \(s.pid) on \(s.host), hopper \(s.version))")
            if !alive && s.state == "running", let age = s.age() {
                lines.append("           no heartbeat for \(formatAge(age)) (more than 3 intervals of \(formatSeconds(s.intervalSeconds)) s): the daemon was killed or hangs; check `systemctl status hopper` or its log")
            }
            let beat = HumanFormat.localTime(s.heartbeatAt), started = HumanFormat.localTime(s.startedAt)
            lines.append("heartbeat  \(beat) (every \(formatSeconds(s.intervalSeconds)) s); started \(started)")
            lines.append("spool      \(s.spool)")
            lines.append("state      \(s.stateDirectory)")
            lines.append("config     \(s.config ?? "none (defaults)")")
            lines.append("workflows  \(s.workflows ?? "NONE: manifests naming a workflow are rejected; set `workflows:` in the config")")
            lines.append("snakemake  \(s.snakemake ?? "NOT FOUND: Snakemake steps fail; run scripts/setup-snakemake or set `snakemake:`")")
            if let store = s.store {
                lines.append("store      " + (store.ok ? "ok" : "FAILING since \(store.since.map { HumanFormat.localTime($0) } ?? "?"): \(store.error ?? "")"))
            }
            for inbox in s.inboxes {
                lines.append("inbox      \(inbox.path)  \(inbox.mode)\(inbox.queue.map { "  (queue \($0))" } ?? "")")
            }
            if alive {
                lines.append("intake     \(s.intake.paused ? "PAUSED: \(s.intake.reason ?? "")" : "open"); \(s.intake.accepted) accepted, \(s.intake.rejected) rejected since start")
            } else {
                lines.append("intake     unknown: no daemon takes manifests; dropped files wait in the inbox")
            }
            for p in s.problems ?? [] {
                lines.append("problem    \(p.path): \(p.message)")
            }
            for d in s.disk ?? [] {
                let free = d.freeBytes < (s.minFreeBytes ?? 0) ? "  BELOW min_free_space" : ""
                lines.append("disk       \(d.role) \(d.path): \(ByteSize.human(d.freeBytes)) free of \(ByteSize.human(d.totalBytes))\(free)")
            }
            let order = JobState.allCases.map(\.rawValue)
            let jobs = order.compactMap { state in s.jobs[state].map { "\($0) \(state)" } }
            lines.append("jobs       " + (jobs.isEmpty ? "none" : jobs.joined(separator: ", ")))
            print(lines.joined(separator: "\n"))
            if !alive { throw ExitCode(1) }
        }
    }
}

func formatSeconds(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }

/// `42 s`, `5 min`, `3 h`, `2 days`: how long ago, roughly.
func formatAge(_ seconds: Double) -> String {
    let s = Int(max(0, seconds))
    if s < 120 { return "\(s) s" }
    if s < 7200 { return "\(s / 60) min" }
    if s < 172_800 { return "\(s / 3600) h" }
    return "\(s / 86400) days"
}
