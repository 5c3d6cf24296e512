// hopper cancel | retry | rerun | clean — write a control request (SPEC §4) and wait for the
// daemon to take it.
//
// The request is a small YAML file (`action:`, `job:`, for rerun `steps:`) dropped into the
// inbox like a manifest (Drop.swift), named `<id>.<action>.<unix-ms>.<pid>.yaml`. The command
// refuses at once when the job does not exist or is in a state where the action means
// nothing; the daemon checks again (and checks that the request's owner may act on the job).
// Then it waits until the daemon has taken the file: moved to `outbox/<id>/requests/<file>`
// (honoured) or to `rejected/<file>` with `<file>.error.json` saying why (refused).
//
// DIAGNOSTICS: `cancel S001: accepted` (exit 0); `hopper: cancel S001 refused: <why>` (exit 1);
// when the daemon has not taken the request within --wait-timeout, where the request waits
// and whether a daemon runs (exit 0: the request stands).
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel jobs: a pending job never starts, a running step is killed.",
            discussion: "Name the jobs, or choose them as `hopper ls` does: --state (default: every state cancel applies to) and --owner.")

        @OptionGroup var spoolOptions: SpoolOptions
        @Argument(help: ArgumentHelp("The job ids.", valueName: "id"), completion: Completions.jobIDs) var ids: [String] = []

        @Option(help: ArgumentHelp("Every job in these states, comma-separated or repeated.", valueName: "states"),
                completion: Completions.states)
        var state: [String] = []

        @Option(help: ArgumentHelp("Every job of this owner (with --state: in those states).", valueName: "user"))
        var owner: String?

        @OptionGroup var request: RequestOptions

        func validate() throws {
            if ids.isEmpty && state.isEmpty && owner == nil { throw ValidationError("give job ids, or choose jobs with --state and --owner") }
            for id in ids { try RequestOptions.check(id: id) }
            _ = try JobState.parseList(state)
        }

        func run() async throws {
            let spool = try spoolOptions.resolve()
            var targets: [String] = []
            for id in ids where !targets.contains(id) { targets.append(id) }
            if !state.isEmpty || owner != nil {
                var states = try JobState.parseList(state)
                if states.isEmpty { states = ControlAction.cancel.appliesTo }
                let filter = List.Filter(states: states, owner: owner)
                for job in List.JobSource(layout: spool.layout).list(filter, limit: nil, statuses: false) where !targets.contains(job.record.id) {
                    targets.append(job.record.id)
                }
                if targets.isEmpty { print("no jobs to cancel"); return }
            }
            if targets.count == 1 {
                try await request.send(.cancel, job: targets[0], steps: nil, spool: spool)
                return
            }
            var refused = 0
            for id in targets {
                do { try await request.send(.cancel, job: id, steps: nil, spool: spool) } catch let error as CLIError {
                    Console.err("hopper: \(error.message)\n")
                    refused += 1
                }
            }
            if refused > 0 { throw CLIError("\(refused) of \(targets.count) cancel requests were refused") }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a failed or cancelled job again from its first unfinished step.")

        @OptionGroup var spoolOptions: SpoolOptions
        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs) var id: String
        @OptionGroup var request: RequestOptions

        func validate() throws { try RequestOptions.check(id: id) }

        func run() async throws {
            try await request.send(.retry, job: id, steps: nil, spool: spoolOptions.resolve())
        }
    }

    struct Rerun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run steps of a finished job again, as new attempts (default: every step; --step X: X and the steps after it).")

        @OptionGroup var spoolOptions: SpoolOptions
        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs) var id: String

        @Option(name: .customLong("step"), help: ArgumentHelp("Run this step again and every step after it (repeat for more; default: all).", valueName: "name"),
                completion: Completions.steps)
        var steps: [String] = []

        @Flag(help: "Run only the named steps, not the steps after them (their outputs may then be stale).")
        var only = false

        @OptionGroup var request: RequestOptions

        func validate() throws {
            try RequestOptions.check(id: id)
            for step in steps where !Names.isValid(step, maxLength: 64) {
                throw ValidationError("step name \(String(reflecting: step)) is not valid")
            }
        }

        func run() async throws {
            var unique: [String] = []
            for step in steps where !unique.contains(step) { unique.append(step) }
            let spool = try spoolOptions.resolve()
            if !only && !unique.isEmpty {
                unique = Self.withLaterSteps(unique, of: try loadJob(id, spool.layout).steps.map(\.name))
            }
            try await request.send(.rerun, job: id, steps: unique.isEmpty ? nil : unique, spool: spool)
        }

        /// The named steps and every step after the first of them, in the job's order; names the
        /// job does not have are kept (at the end) for the check that refuses them.
        static func withLaterSteps(_ named: [String], of all: [String]) -> [String] {
            guard let first = all.firstIndex(where: named.contains) else { return named }
            return Array(all[first...]) + named.filter { !all.contains($0) }
        }
    }

    struct Clean: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a finished job's workspace; the outbox stays.")

        @OptionGroup var spoolOptions: SpoolOptions
        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs) var id: String
        @OptionGroup var request: RequestOptions

        func validate() throws { try RequestOptions.check(id: id) }

        func run() async throws {
            try await request.send(.clean, job: id, steps: nil, spool: spoolOptions.resolve())
        }
    }
}

/// How long to wait for the daemon to take a request; the sending itself.
struct RequestOptions: ParsableArguments {
    @Option(name: .customLong("wait-timeout"),
            help: ArgumentHelp("How long to wait for the daemon to take the request, e.g. 15s, 2m.", valueName: "duration"))
    var waitTimeout: String = "15s"

    @Flag(name: .customLong("no-wait"), help: "Return as soon as the request is in the inbox.")
    var noWait = false

    func validate() throws {
        if DurationValue(waitTimeout) == nil {
            throw ValidationError("--wait-timeout \(String(reflecting: waitTimeout)) is not a duration (e.g. 500ms, 15s, 2m)")
        }
    }

    static func check(id: String) throws {
        if let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
    }

    /// The request file's text. Ids and step names match `Names.idRule`, so quoting is enough.
    static func yaml(_ action: ControlAction, job: String, steps: [String]?) -> String {
        var text = "action: \(action.rawValue)\njob: \"\(job)\"\n"
        if let steps { text += "steps: [" + steps.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n" }
        return text
    }

    func send(_ action: ControlAction, job id: String, steps: [String]?, spool: SpoolOptions.Resolved) async throws {
        let layout = spool.layout
        // A group: the daemon applies the request to the jobs of it where it applies.
        let isGroup = (try? FileOps.readFile(layout.status(id))).map { GroupStatus.isGroup($0) } ?? false
        if !isGroup { try check(action, job: id, steps: steps, layout: layout) }
        try await drop(action, job: id, steps: steps, layout: layout)
    }

    /// The checks the daemon would make, done here to answer at once.
    func check(_ action: ControlAction, job id: String, steps: [String]?, layout: SpoolLayout) throws {
        let status = try loadJob(id, layout)
        if let refusal = action.refusal(job: id, state: status.state) { throw CLIError(refusal) }
        // Where this host sees the workspaces (runs/, or the config's scratch space) and the job's is gone.
        if FileOps.isDirectory(layout.workspaces) && !FileOps.exists(layout.workspace(id)),
           let refusal = action.cleanedRefusal(status, steps: steps) {
            throw CLIError(refusal)
        }
        if let steps {
            let known = status.steps.map(\.name)
            for step in steps where !known.contains(step) {
                throw CLIError("job \(id) has no step \(String(reflecting: step)); its steps are \(known.joined(separator: ", "))")
            }
        }
    }

    func drop(_ action: ControlAction, job id: String, steps: [String]?, layout: SpoolLayout) async throws {

        let millis = Int64((Timestamp.now() * 1000).rounded(.down))
        let name = "\(id).\(action.rawValue).\(millis).\(getpid()).yaml"
        let path: String
        do {
            path = try dropFile(Array(Self.yaml(action, job: id, steps: steps).utf8), named: name, into: layout.inbox)
        } catch {
            throw CLIError("cannot write the \(action.rawValue) request into \(layout.inbox): \(error.cause)")
        }
        let what = "\(action.rawValue) \(id)"
        if noWait {
            print("\(what): requested (\(path))")
            if let warning = daemonWarning(layout) { Console.err("hopper: warning: \(warning)\n") }
            return
        }

        let timeout = DurationValue(waitTimeout) ?? DurationValue(seconds: 15)
        let honoured = layout.folder(id).requests + "/" + name
        let refused = layout.rejected + "/" + name
        let deadline = ContinuousClock.now + timeout.duration
        while true {
            if FileOps.exists(honoured) {
                print("\(what): accepted")
                return
            }
            if FileOps.exists(refused) {
                throw CLIError("\(what) refused: \(try await refusal(refused))")
            }
            let left = deadline - ContinuousClock.now
            if left <= .zero { break }
            try await Task.sleep(for: min(left, .milliseconds(200)))
        }
        if let warning = daemonWarning(layout) {
            print("\(what): requested; the request waits in the inbox (\(path))")
            Console.err("hopper: warning: \(warning)\n")
        } else {
            print("\(what): requested; a daemon is running but has not taken the request within \(timeout) (it waits in \(path))")
        }
    }

    /// The first reason in `rejected/<file>.error.json` (the daemon writes it before moving the file).
    func refusal(_ rejected: String) async throws -> String {
        for attempt in 0..<10 {
            if let bytes = try? FileOps.readFile(rejected + ".error.json"),
               let r = try? JSON.decode(Rejection.self, from: bytes) {
                return r.errors.first?.message ?? r.reason
            }
            if attempt < 9 { try await Task.sleep(for: .milliseconds(200)) }
        }
        return "see \(rejected)"
    }
}

/// A job's status.json, or a one-line error saying where the job is (inbox, rejected, unknown).
func loadJob(_ id: String, _ layout: SpoolLayout) throws -> JobStatus {
    guard let bytes = try? FileOps.readFile(layout.status(id)) else { throw missingJob(id, layout) }
    do {
        return try JSON.decode(JobStatus.self, from: bytes)
    } catch {
        throw CLIError("\(layout.status(id)) is not a valid status file: \(error)")
    }
}
