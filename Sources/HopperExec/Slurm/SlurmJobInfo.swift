// SlurmJobInfo — one line of `squeue -t all -O …` (or `sacct -P`): a job's id, state, reason,
// comment and exit status, and what each SLURM state means to Hopper.
//
// Hopper marks every job it submits with `--comment=hopper:<spool tag>:<job>:<step>:<attempt>`,
// so one listing finds all of them — also one submitted just before the daemon died, whose id
// was never written down.

/// How Hopper sees a SLURM job state.
public enum SlurmPhase: Sendable, Equatable {
    /// PENDING and the other waiting states: the step is `queued`.
    case queued
    /// RUNNING, CONFIGURING, COMPLETING, SUSPENDED, …: the step is `running`.
    case running
    /// COMPLETED, FAILED, CANCELLED, TIMEOUT, …: the job is over.
    case ended

    public init(state: String) {
        // "CANCELLED by 0" in sacct: the first word is the state.
        let word = state.split(separator: " ").first.map(String.init) ?? state
        switch word {
        case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT":
            self = .queued
        case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
             "BOOT_FAIL", "DEADLINE", "REVOKED":
            self = .ended
        default:
            self = .running
        }
    }
}

public struct SlurmJobInfo: Sendable, Equatable {
    /// The job's id; for a task of a job array `<array job id>_<task index>` (what scancel and
    /// sacct take), which stays the same from PENDING to the end.
    public var id: String
    public var state: String
    public var reason: String
    public var comment: String
    /// The task's index when the job is a task of a job array.
    public var arrayTask: Int?
    /// The batch script's exit code and the signal that ended it, when SLURM knows them.
    public var exitCode: Int?
    public var signal: Int?

    public init(id: String, state: String, reason: String = "", comment: String = "", arrayTask: Int? = nil,
                exitCode: Int? = nil, signal: Int? = nil) {
        self.id = id; self.state = state; self.reason = reason; self.comment = comment
        self.arrayTask = arrayTask; self.exitCode = exitCode; self.signal = signal
    }

    public var phase: SlurmPhase { SlurmPhase(state: state) }

    /// What Hopper follows the job by: its comment, and for a task of an array the comment and
    /// the task's index (`<comment>/<index>`; all tasks of an array share its comment).
    public var key: String { arrayTask.map { SlurmJobInfo.key(comment: comment, task: $0) } ?? comment }

    public static func key(comment: String, task: Int) -> String { "\(comment)/\(task)" }

    /// The `-O` format of `squeue` that `parseSqueue` reads (empty width: no padding). The
    /// comment, the only free text, comes last. With `-r`, every task of an array on its own line.
    public static let squeueFormat = "JobID:|,State:|,Reason:|,exit_code:|,ArrayJobID:|,ArrayTaskID:|,Comment:|"

    /// Lines `ID|STATE|REASON|STATUS|ARRAYJOB|ARRAYTASK|COMMENT|`. STATUS is the raw wait status
    /// (exit code × 256 + signal); ARRAYTASK is `N/A` for a job that is not an array's task.
    /// Only jobs whose comment starts with `prefix` are kept.
    public static func parseSqueue(_ text: String, commentPrefix prefix: String) -> [SlurmJobInfo] {
        var jobs: [SlurmJobInfo] = []
        for line in text.split(separator: "\n") {
            var fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 7 else { continue }
            if fields.count > 7, fields[fields.count - 1].isEmpty { fields.removeLast() }   // the trailing separator
            let comment = fields[6...].joined(separator: "|")
            guard comment.hasPrefix(prefix) else { continue }
            var info = SlurmJobInfo(id: fields[0].trimmed, state: fields[1].trimmed, reason: fields[2].trimmed, comment: comment)
            if let task = Int(fields[5].trimmed), !fields[4].trimmed.isEmpty {
                info.arrayTask = task
                info.id = "\(fields[4].trimmed)_\(task)"
            }
            if let raw = Int(fields[3].trimmed), info.phase == .ended {
                info.exitCode = (raw >> 8) & 0xff
                info.signal = raw & 0x7f
            }
            jobs.append(info)
        }
        return jobs
    }

    /// `sacct -n -P -X -o JobID,State,ExitCode,Comment` lines: `ID|STATE|CODE:SIGNAL|COMMENT`.
    public static func parseSacct(_ text: String) -> [SlurmJobInfo] {
        var jobs: [SlurmJobInfo] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3 else { continue }
            var info = SlurmJobInfo(id: fields[0].trimmed, state: fields[1].trimmed)
            if fields.count > 3 { info.comment = fields[3...].joined(separator: "|") }
            let parts = fields[2].split(separator: ":").map { Int($0) }
            if parts.count == 2, let code = parts[0], let signal = parts[1] {
                info.exitCode = code
                info.signal = signal
            }
            jobs.append(info)
        }
        return jobs
    }
}

extension String {
    fileprivate var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
