// hopper status — one job, from outbox/<id>/status.json; says where a job that is not there is.
import ArgumentParser
import HopperCore
import HopperStore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job's status.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs)
        var id: String

        @Flag(help: "Print status.json as it is.")
        var json = false

        func run() async throws {
            let spool = try spoolOptions.resolve()
            let layout = spool.layout
            guard Names.isValid(id) else { throw CLIError(Names.jobIDProblem(id) ?? "invalid job id") }
            guard let bytes = try? FileOps.readFile(layout.status(id)) else {
                throw CLIError(whereabouts(id, layout))
            }
            if json {
                Console.out(bytes: bytes)
                return
            }
            let status: JobStatus
            do { status = try JSON.decode(JobStatus.self, from: bytes) } catch {
                throw CLIError("\(layout.status(id)) is not a valid status file: \(error)")
            }
            print(render(status))
        }

        func render(_ s: JobStatus) -> String {
            var lines: [String] = []
            let pct = Int((s.progress * 100).rounded())
            lines.append("\(s.id)  \(s.state.rawValue)\(s.state == .running ? " \(pct)%" : "")")
            if let d = s.description { lines.append("  description  \(d)") }
            lines.append("  workflow     \(s.workflow ?? "(inline steps)")")
            lines.append("  owner        \(s.owner)    queue \(s.queue)    priority \(s.priority)    executor \(s.executor.kind.rawValue)\(s.executor.id.map { " \($0)" } ?? "")")
            lines.append("  submitted    \(s.submittedAt)")
            if let waiting = s.waitingFor, !waiting.isEmpty {
                lines.append("  waiting for  " + waiting.joined(separator: "\n               "))
            }
            if let t = s.startedAt { lines.append("  started      \(t)") }
            if let t = s.finishedAt { lines.append("  finished     \(t)") }
            if let e = s.error {
                lines.append("  error        \(e.message)")
            }
            if !s.steps.isEmpty {
                lines.append("  steps")
                for step in s.steps {
                    var line = "    \(step.name.padding(16))\(step.state.rawValue.padding(10))"
                    if step.attempt > 0 { line += "attempt \(step.attempt)" }
                    if let code = step.exitCode { line += "  exit \(code)" }
                    if let detail = step.detail { line += "  \(detail)" }
                    lines.append(line)
                }
            }
            if !s.results.isEmpty { lines.append("  results      \(s.results.count) file\(s.results.count == 1 ? "" : "s") (hopper results \(s.id))") }
            return lines.joined(separator: "\n")
        }
    }
}

/// Where a job that has no outbox folder is: still in the inbox, rejected, or unknown.
func whereabouts(_ id: String, _ layout: SpoolLayout) -> String {
    var folders = [layout.inbox]
    for name in (try? FileOps.listDirectory(layout.inbox)) ?? [] where Names.isValid(name) && FileOps.isDirectory(layout.inbox + "/" + name) {
        folders.append(layout.inbox + "/" + name)
    }
    for folder in folders {
        for ext in ["yaml", "yml"] where FileOps.exists("\(folder)/\(id).\(ext)") {
            var msg = "job \(id) is still in the inbox (\(folder)/\(id).\(ext)): the daemon has not picked it up yet"
            if let warning = daemonWarning(layout) { msg += "; \(warning)" }
            return msg
        }
    }
    for ext in ["yaml", "yml"] {
        let file = "\(id).\(ext)"
        if let bytes = try? FileOps.readFile(layout.rejected + "/" + file + ".error.json"),
           let r = try? JSON.decode(Rejection.self, from: bytes) {
            return "\(file) was rejected (\(r.reason)), see \(layout.rejected)/\(file).error.json:\n" + r.formatted
        }
    }
    if let store = try? JobStore(readOnlyPath: layout.database), let record = try? store.job(id: id),
       (try? store.outboxExpired(id: id)) == true {
        return "job \(id) ended \(record.state) and retention has removed its outbox entry since (last change \(record.updatedAt))"
    }
    return "no job \(id) in \(layout.root) (see `hopper ls`)"
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
