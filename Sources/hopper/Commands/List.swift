// hopper ls — jobs, newest first, from the daemon's store (fast with 100k jobs); when the store
// is out of reach (another host, no daemon yet) from the outbox's status files.
import ArgumentParser
import HopperCore
import HopperStore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List jobs, newest first.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Option(help: ArgumentHelp("Only jobs in this state (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))).", valueName: "state"),
                completion: Completions.states, transform: JobState.parseArgument)
        var state: JobState?

        @Option(help: ArgumentHelp("Only jobs of this owner.", valueName: "user"))
        var owner: String?

        @Option(help: ArgumentHelp("At most this many jobs (0: all).", valueName: "n"))
        var limit: Int = 50

        @Flag(help: "JSON lines, one object per job.")
        var json = false

        func validate() throws {
            if limit < 0 { throw ValidationError("--limit must be 0 or more") }
        }

        func run() async throws {
            let spool = try spoolOptions.resolve()
            let records: [JobRecord]
            if let store = try? JobStore(readOnlyPath: spool.layout.database),
               let rows = try? store.list(state: state, owner: owner, limit: limit == 0 ? nil : limit) {
                records = rows
            } else {
                records = scanOutbox(spool.layout)
            }
            if json {
                for r in records {
                    let line = try JSON.line(r)
                    Console.out(bytes: line)
                }
                return
            }
            if records.isEmpty { print("no jobs"); return }
            let idWidth = max(4, min(40, records.map(\.id.count).max() ?? 4))
            print("ID".padding(idWidth + 1) + "STATE".padding(10) + "QUEUE".padding(12) + "OWNER".padding(10) + "SUBMITTED".padding(25) + "WORKFLOW")
            for r in records {
                print(r.id.padding(idWidth + 1) + r.state.rawValue.padding(10) + r.queue.padding(12) + r.owner.padding(10)
                      + r.submittedAt.padding(25) + (r.workflow ?? "-"))
            }
        }

        /// Without the store: every status.json in the outbox (slow with many jobs, but complete).
        func scanOutbox(_ layout: SpoolLayout) -> [JobRecord] {
            var out: [JobRecord] = []
            for id in (try? FileOps.listDirectory(layout.outbox)) ?? [] where Names.isValid(id) {
                guard let bytes = try? FileOps.readFile(layout.status(id)),
                      let s = try? JSON.decode(JobStatus.self, from: bytes) else { continue }
                if let state, s.state != state { continue }
                if let owner, s.owner != owner { continue }
                out.append(JobRecord(status: s, uid: -1))
            }
            out.sort { ($0.submittedAt, $0.id) > ($1.submittedAt, $1.id) }
            return limit == 0 ? out : Array(out.prefix(limit))
        }
    }
}

extension JobState: ExpressibleByArgument {
    /// `--state NAME`, with the states listed when the name is not one.
    static func parseArgument(_ text: String) throws -> JobState {
        guard let state = JobState(rawValue: text) else {
            throw ValidationError("unknown state \(String(reflecting: text)); states are \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return state
    }
}
