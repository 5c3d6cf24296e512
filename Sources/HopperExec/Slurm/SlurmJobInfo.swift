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
    public var id: String
    public var state: String
    public var reason: String
    public var comment: String
    /// The batch script's exit code and the signal that ended it, when SLURM knows them.
    public var exitCode: Int?
    public var signal: Int?

    public init(id: String, state: String, reason: String = "", comment: String = "", exitCode: Int? = nil, signal: Int? = nil) {
        self.id = id; self.state = state; self.reason = reason; self.comment = comment
        self.exitCode = exitCode; self.signal = signal
    }

    public var phase: SlurmPhase { SlurmPhase(state: state) }

    /// The `-O` format of `squeue` that `parseSqueue` reads (empty width: no padding).
    public static let squeueFormat = "JobID:|,State:|,Reason:|,Comment:|,exit_code:|"

    /// Lines `ID|STATE|REASON|COMMENT|STATUS|`. STATUS is the raw wait status (exit code × 256
    /// + signal). Only jobs whose comment starts with `prefix` are kept.
    public static func parseSqueue(_ text: String, commentPrefix prefix: String) -> [SlurmJobInfo] {
        var jobs: [SlurmJobInfo] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5 else { continue }
            // The comment is the only free-text field: take it as whatever lies between.
            var last = fields.count - 1
            if fields[last].isEmpty { last -= 1 }       // the trailing separator
            guard last >= 4 else { continue }
            let comment = fields[3..<last].joined(separator: "|")
            guard comment.hasPrefix(prefix) else { continue }
            var info = SlurmJobInfo(id: fields[0].trimmed, state: fields[1].trimmed, reason: fields[2].trimmed, comment: comment)
            if let raw = Int(fields[last].trimmed), info.phase == .ended {
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
