// hopper wait — blocks until every named job is terminal; exit 0 if all completed, 1 otherwise.
//
// Polls each job's status.json every 200 ms (plain reads: works over NFS, where no change
// notification crosses hosts). A job still in the inbox (just submitted) is waited for; an id
// that is nowhere, or whose manifest was rejected, is an error at once. On a terminal, one
// progress line is kept up to date; at the end, one line per job: `S001 completed`,
// `S002 failed: step align exited with 3`. A --timeout that passes is exit 124 (as timeout(1));
// a job that did not complete is exit 1; a usage error 64. While no daemon writes a heartbeat
// (three intervals), a warning on stderr says so and how to check (DaemonWatch).
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until jobs end; exit 0 if all completed, 1 otherwise, 124 on --timeout.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("The job ids.", valueName: "id"), completion: Completions.jobIDs)
        var ids: [String]

        @Option(help: ArgumentHelp("Give up after this long, e.g. 30s, 2h (default: wait for ever).", valueName: "duration"))
        var timeout: String?

        func validate() throws {
            for id in ids { if let problem = Names.jobIDProblem(id) { throw ValidationError(problem) } }
            if let timeout, DurationValue(timeout) == nil {
                throw ValidationError("--timeout \(String(reflecting: timeout)) is not a duration (e.g. 30s, 2h)")
            }
        }

        /// Where a job is, as far as waiting goes.
        enum Place {
            case outbox(JobStatus)
            /// In the inbox, or being accepted (between the inbox and outbox/<id>/status.json).
            case inbox
            case rejected(String)
            case unknown

            var isFinal: Bool {
                switch self {
                case .outbox(let s): s.state.isTerminal
                case .rejected: true
                case .inbox, .unknown: false
                }
            }
        }

        func run() async throws {
            let layout = try spoolOptions.resolve().layout
            var jobs: [String] = []
            for id in ids where !jobs.contains(id) { jobs.append(id) }

            var places: [String: Place] = [:]
            for id in jobs {
                let place = locate(id, layout)
                switch place {
                case .unknown, .rejected: throw missingJob(id, layout)
                default: places[id] = place
                }
            }

            let limit = timeout.flatMap { DurationValue($0) }
            let deadline = limit.map { ContinuousClock.now + $0.duration }
            let terminal = isatty(1) == 1
            var shown = ""
            var timedOut = false
            var watch = DaemonWatch(layout)
            while true {
                for id in jobs where !(places[id]?.isFinal ?? false) {
                    let place = locate(id, layout)
                    if case .unknown = place { continue }  // in flight between inbox and outbox: keep the last answer
                    places[id] = place
                }
                if jobs.allSatisfy({ places[$0]?.isFinal ?? false }) { break }
                if let warning = watch.check() {
                    if terminal && !shown.isEmpty { Console.out("\r\u{1B}[K"); shown = "" }
                    Console.err(warning)
                }
                if terminal {
                    let line = progressLine(jobs.map { places[$0] ?? .unknown })
                    if line != shown { Console.out("\r" + line + "\u{1B}[K"); shown = line }
                }
                var pause = Duration.milliseconds(200)
                if let deadline {
                    let left = deadline - ContinuousClock.now
                    if left <= .zero { timedOut = true; break }
                    pause = min(pause, left)
                }
                try await Task.sleep(for: pause)
            }
            if terminal && !shown.isEmpty { Console.out("\r\u{1B}[K") }

            var allCompleted = true
            for id in jobs {
                let place = places[id] ?? .unknown
                if case .outbox(let s) = place, s.state == .completed {} else { allCompleted = false }
                print("\(id) \(describe(place))")
            }
            if timedOut {
                let open = jobs.filter { !(places[$0]?.isFinal ?? false) }
                throw CLIError("timed out after \(limit?.text ?? "") waiting for \(open.joined(separator: ", "))", code: Self.timedOutCode)
            }
            if !allCompleted { throw ExitCode(1) }
        }

        /// A group stands for one job here: its state, its share of ended children, and for a
        /// group that did not complete, its counts as the error ("2 failed, 1 cancelled of 24 jobs").
        static func asJob(_ g: GroupStatus) -> JobStatus {
            var s = JobStatus(id: g.id, state: g.state, workflow: g.workflow, owner: g.owner, queue: g.queue, priority: g.priority,
                              description: g.description, submittedAt: g.submittedAt, steps: [], executor: ExecutorInfo(kind: .local))
            s.progress = g.progress
            s.finishedAt = g.finishedAt
            s.startedAt = g.state == .pending ? nil : g.submittedAt
            if g.state == .failed || g.state == .cancelled {
                let failed = g.counts[JobState.failed.rawValue] ?? 0
                let cancelled = g.counts[JobState.cancelled.rawValue] ?? 0
                s.error = JobErrorInfo(step: nil, message: "group: \(failed) failed, \(cancelled) cancelled of \(g.children.count) jobs", exitCode: nil)
            }
            return s
        }

        /// Exit status when --timeout passes: 124, as timeout(1); 1 is a job that did not complete.
        static let timedOutCode: Int32 = 124

        func locate(_ id: String, _ layout: SpoolLayout) -> Place {
            if let bytes = try? FileOps.readFile(layout.status(id)), GroupStatus.isGroup(bytes),
               let group = try? JSON.decode(GroupStatus.self, from: bytes) {
                return .outbox(Self.asJob(group))
            }
            if let bytes = try? FileOps.readFile(layout.status(id)),
               let status = try? JSON.decode(JobStatus.self, from: bytes) {
                return .outbox(status)
            }
            if FileOps.exists(layout.job(id)) || FileOps.exists(layout.staging + "/" + id) { return .inbox }
            var folders = [layout.inbox]
            for name in (try? FileOps.listDirectory(layout.inbox)) ?? [] where Names.isValid(name) && FileOps.isDirectory(layout.inbox + "/" + name) {
                folders.append(layout.inbox + "/" + name)
            }
            for folder in folders {
                for ext in ["yaml", "yml"] where FileOps.exists("\(folder)/\(id).\(ext)") { return .inbox }
            }
            for ext in ["yaml", "yml"] {
                if let bytes = try? FileOps.readFile(layout.rejected + "/\(id).\(ext).error.json"),
                   let r = try? JSON.decode(Rejection.self, from: bytes) {
                    return .rejected(r.errors.first.map { "\(r.reason): \($0.message)" } ?? r.reason)
                }
            }
            return .unknown
        }

        /// `completed`, `failed: step align exited with 3`, `running (42%)`, `still in the inbox`.
        func describe(_ place: Place) -> String {
            switch place {
            case .outbox(let s):
                switch s.state {
                case .failed: return "failed" + (s.error.map { ": " + Self.reason($0) } ?? "")
                case .running: return "running (\(Self.percent(s.progress)))"
                default: return s.state.rawValue
                }
            case .inbox: return "still in the inbox"
            case .rejected(let why): return "rejected: \(why)"
            case .unknown: return "not found"
            }
        }

        static func reason(_ e: JobErrorInfo) -> String {
            guard let step = e.step else { return e.message }
            guard let code = e.exitCode else { return "step \(step): \(e.message)" }
            var text = "step \(step) exited with \(code)"
            if !e.message.isEmpty && !e.message.contains("exited with") { text += " (\(e.message))" }
            return text
        }

        static func percent(_ p: Double) -> String { "\(Int((min(max(p, 0), 1) * 100).rounded()))%" }

        /// `waiting for 3 jobs: 1 completed, 1 running (42%), 1 pending`
        func progressLine(_ places: [Place]) -> String {
            var inbox = 0, rejected = 0
            var counts: [JobState: Int] = [:]
            var running: [String] = []
            for place in places {
                switch place {
                case .outbox(let s):
                    counts[s.state, default: 0] += 1
                    if s.state == .running { running.append(Self.percent(s.progress)) }
                case .inbox, .unknown: inbox += 1
                case .rejected: rejected += 1
                }
            }
            var parts: [String] = []
            for state in [JobState.completed, .failed, .cancelled, .running, .queued, .waiting, .pending] {
                guard let n = counts[state] else { continue }
                var part = "\(n) \(state.rawValue)"
                if state == .running {
                    part += " (" + running.prefix(3).joined(separator: ", ") + (running.count > 3 ? ", …" : "") + ")"
                }
                parts.append(part)
            }
            if inbox > 0 { parts.append("\(inbox) in the inbox") }
            if rejected > 0 { parts.append("\(rejected) rejected") }
            return "waiting for \(places.count) job\(places.count == 1 ? "" : "s"): " + parts.joined(separator: ", ")
        }
    }
}
