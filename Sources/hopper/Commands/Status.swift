// hopper status — one job, from outbox/<id>/status.json; says where a job that is not there is
// (exit 66 when no job has the id, 1 when it is still in the inbox, rejected or expired).
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

        func validate() throws {
            if let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
        }

        func run() async throws {
            let spool = try spoolOptions.resolve()
            let layout = spool.layout
            guard let bytes = try? FileOps.readFile(layout.status(id)) else {
                throw missingJob(id, layout)
            }
            if GroupStatus.isGroup(bytes) {
                try showGroup(bytes, layout)
                return
            }
            let decoded: Result<JobStatus, any Error>
            do { decoded = .success(try JSON.decode(JobStatus.self, from: bytes)) } catch { decoded = .failure(error) }
            if case .success(let s) = decoded, !s.state.isTerminal {
                var watch = DaemonWatch(layout)
                watch.warn()   // "running" means nothing while no daemon runs
            }
            if json {
                Console.out(bytes: bytes)   // as it is, even a file this version cannot read
                return
            }
            switch decoded {
            case .success(let status):
                print(render(status, waiting: status.state == .pending ? pendingLine(status, spool) : nil))
                if status.state == .failed, let tail = failedLogTail(status, layout) { print(tail) }
            case .failure(let error): throw CLIError("\(layout.status(id)) is not a valid status file: \(error)")
            }
        }

        /// Why a pending job has not started and where it stands, as `hopper ls` says it.
        func pendingLine(_ s: JobStatus, _ spool: SpoolOptions.Resolved) -> String {
            let reason = List.Capacity(spool).reason(owner: s.owner, queue: s.queue)
            guard let position = List.QueuePositions.of([s.id], layout: spool.layout)[s.id] else { return reason }
            return "\(reason); position \(position) in the start order (hopper ls --state pending)"
        }

        func render(_ s: JobStatus, waiting: String? = nil) -> String {
            var lines: [String] = []
            let pct = Int((s.progress * 100).rounded())
            lines.append("\(s.id)  \(s.state.rawValue)\(s.state == .running ? " \(pct)%" : "")")
            if let d = s.description { lines.append("  description  \(d)") }
            lines.append("  workflow     \(s.workflow ?? "(inline steps)")")
            if let g = s.group { lines.append("  group        \(g) (hopper status \(g))") }
            lines.append("  owner        \(s.owner)    queue \(s.queue)    priority \(s.priority)    executor \(s.executor.kind.rawValue)\(s.executor.id.map { " \($0)" } ?? "")")
            lines.append("  submitted    \(HumanFormat.localTime(s.submittedAt))")
            if let waiting { lines.append("  pending      \(waiting)") }
            if let waiting = s.waitingFor, !waiting.isEmpty {
                lines.append("  waiting for  " + waiting.joined(separator: "\n               "))
            }
            if let t = s.startedAt { lines.append("  started      \(HumanFormat.localTime(t))") }
            if let t = s.finishedAt {
                let took = HumanFormat.runSeconds(s).map { " (ran \(HumanFormat.elapsed($0)))" } ?? ""
                lines.append("  finished     \(HumanFormat.localTime(t))\(took)")
            }
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

extension Hopper.Status {
    static let tailLines = 10

    /// A group: its state and counts, then one line per child that is not completed (or all
    /// children, when there are 50 or fewer).
    func showGroup(_ bytes: [UInt8], _ layout: SpoolLayout) throws {
        let g: GroupStatus
        do { g = try JSON.decode(GroupStatus.self, from: bytes) } catch {
            throw CLIError("\(layout.status(id)) is not a valid group status file: \(error)")
        }
        if !g.state.isTerminal {
            var watch = DaemonWatch(layout)
            watch.warn()
        }
        if json {
            Console.out(bytes: bytes)
            return
        }
        print(Self.renderGroup(g, layout))
    }

    static func renderGroup(_ g: GroupStatus, _ layout: SpoolLayout) -> String {
        var lines: [String] = []
        let pct = Int((g.progress * 100).rounded())
        lines.append("\(g.id)  group  \(g.state.rawValue)  \(pct)% of \(g.children.count) jobs ended")
        if let d = g.description { lines.append("  description  \(d)") }
        lines.append("  workflow     \(g.workflow ?? "(inline steps)")")
        lines.append("  owner        \(g.owner)    queue \(g.queue)    priority \(g.priority)")
        lines.append("  submitted    \(HumanFormat.localTime(g.submittedAt))")
        if let sheet = g.samplesheet { lines.append("  samplesheet  \(layout.job(g.id))/\(sheet)") }
        if let after = g.after, !after.isEmpty { lines.append("  after        \(after.joined(separator: ", "))") }
        if let t = g.finishedAt { lines.append("  finished     \(HumanFormat.localTime(t))") }
        let counts = JobState.allCases.compactMap { s -> String? in
            let n = g.counts[s.rawValue] ?? 0
            return n > 0 ? "\(n) \(s.rawValue)" : nil
        }
        lines.append("  jobs         " + counts.joined(separator: ", "))
        let all = g.children.count <= 50
        var shown = 0
        var listed: [String] = []
        for child in g.children {
            guard let status = layout.folder(child).readStatus() else { continue }
            if !all && status.state == .completed { continue }
            shown += 1
            if shown > 50 { break }
            var line = "    \(child.padding(24))\(status.state.rawValue.padding(10))"
            if let e = status.error { line += e.message }
            else if let w = status.waitingFor, !w.isEmpty { line += w.joined(separator: "; ") }
            else if let step = status.currentStep { line += step }
            listed.append(line)
        }
        if !listed.isEmpty {
            lines.append(all ? "  children" : "  children not completed (hopper ls --group \(g.id) for all)")
            lines += listed
        }
        return lines.joined(separator: "\n")
    }

    /// The failing step's last lines, and the command for the rest; nil when it has no log.
    func failedLogTail(_ s: JobStatus, _ layout: SpoolLayout) -> String? {
        guard let step = s.error?.step ?? s.steps.last(where: { $0.state == .failed })?.name else { return nil }
        let path = layout.folder(s.id).log(step: step)
        let bytes = Self.readTail(path, bytes: 64 << 10)
        guard !bytes.isEmpty else { return nil }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        let shown = lines.suffix(Self.tailLines)
        var out = "  last \(shown.count) line\(shown.count == 1 ? "" : "s") of \(JobFolder.logRelative(step: step)):\n"
        out += shown.map { "    " + $0 }.joined(separator: "\n")
        out += "\n  the whole log: hopper logs \(s.id) \(step)"
        return out
    }

    /// The last `count` bytes of a file; empty when it cannot be read (a step that failed
    /// before writing anything has no log, and the error line says why it failed).
    static func readTail(_ path: String, bytes count: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return [] }
        let start = max(0, Int(st.st_size) - count)
        var buffer = [UInt8](repeating: 0, count: Int(st.st_size) - start)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        return n > 0 ? Array(buffer.prefix(n)) : []
    }
}

/// Where a job that has no outbox folder is, as the error to exit with: still in the inbox,
/// rejected, or removed by retention (exit 1), or no such job at all (exit 66, `noSuchJobCode`).
func missingJob(_ id: String, _ layout: SpoolLayout) -> CLIError {
    let message = whereabouts(id, layout)
    return CLIError(message, code: message == unknownJob(id, layout) ? noSuchJobCode : 1)
}

/// The exit status of `status`, `wait`, `logs`, `results` and the control commands for an id
/// that no job has: 66 (EX_NOINPUT of sysexits.h), apart from 1 (a job that did not complete,
/// a refusal) and 64 (a usage error).
let noSuchJobCode: Int32 = 66

func unknownJob(_ id: String, _ layout: SpoolLayout) -> String {
    "no job \(id) in \(layout.root) (see `hopper ls`)"
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
    // Dropped as RUN.YAML or RUN.yaml.txt: rejected under its own name, saying how to name it.
    for file in (try? FileOps.listDirectory(layout.rejected)) ?? [] where !file.hasSuffix(".error.json") {
        guard case .misnamed(let rename) = DropNames.classify(file), DropNames.stem(of: rename) == id,
              let bytes = try? FileOps.readFile(layout.rejected + "/" + file + ".error.json"),
              let r = try? JSON.decode(Rejection.self, from: bytes) else { continue }
        return "\(file) was rejected (\(r.reason)), see \(layout.rejected)/\(file).error.json:\n" + r.formatted
    }
    if let store = try? JobStore(readOnlyPath: layout.database), let record = try? store.job(id: id),
       (try? store.outboxExpired(id: id)) == true {
        return "job \(id) ended \(record.state) and retention has removed its outbox entry since (last change \(record.updatedAt))"
    }
    return unknownJob(id, layout)
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
