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
            lines.append("heartbeat  \(s.heartbeatAt) (every \(formatSeconds(s.intervalSeconds)) s); started \(s.startedAt)")
            lines.append("spool      \(s.spool)")
            lines.append("state      \(s.stateDirectory)")
            if let store = s.store {
                lines.append("store      " + (store.ok ? "ok" : "FAILING since \(store.since ?? "?"): \(store.error ?? "")"))
            }
            for inbox in s.inboxes {
                lines.append("inbox      \(inbox.path)  \(inbox.mode)\(inbox.queue.map { "  (queue \($0))" } ?? "")")
            }
            lines.append("intake     \(s.intake.paused ? "PAUSED: \(s.intake.reason ?? "")" : "open"); \(s.intake.accepted) accepted, \(s.intake.rejected) rejected since start")
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
