// AttemptRecord — what an attempt leaves in the workspace's `.hopper/`, as one Codable type.
//
// Written by hopper-supervise (Sources/hopper-supervise/records.c):
//   <step>.<attempt>.json        when it claims the attempt:
//                                {"supervisor_pid", "pgid", "proc_start", "started_at", "grace"}
//   <step>.<attempt>.json.exit   when the attempt has ended:
//                                {"outcome", "exit_code", "signal", "finished_at", "log_bytes", "log_dropped"}
// and by the SLURM batch script (SlurmBatchScript):
//   <step>.<attempt>.slurm-started  {"started_at", "slurm_job_id", "host"}
//   <step>.<attempt>.slurm-exit     {"exit_code", "finished_at", "slurm_job_id"}
//
// Each record has some of the fields; all are optional. `outcome` is `exited`, `cancelled` or
// `timed_out` (`timeout` in records of supervisors before this type, still read). `grace` is
// missing from those older claims.
import HopperCore

public struct AttemptRecord: Codable, Sendable, Equatable {
    // The start.
    public var supervisorPID: Int32?
    /// The supervisor's process group (and session: it leads both). The step runs in a group
    /// of its own inside that session.
    public var pgid: Int32?
    /// The supervisor's start time in clock ticks (field 22 of /proc/<pid>/stat).
    public var procStart: Int?
    public var startedAt: Double?
    /// Seconds between the supervisor's SIGTERM to the step and its SIGKILL.
    public var grace: Double?
    public var slurmJobID: String?
    public var host: String?
    // The end.
    public var outcome: String?
    public var exitCode: Int?
    public var signal: Int?
    public var finishedAt: Double?
    public var logBytes: Int64?
    public var logDropped: Int64?

    enum CodingKeys: String, CodingKey {
        case supervisorPID = "supervisor_pid", pgid, procStart = "proc_start", startedAt = "started_at", grace
        case slurmJobID = "slurm_job_id", host
        case outcome, exitCode = "exit_code", signal, finishedAt = "finished_at"
        case logBytes = "log_bytes", logDropped = "log_dropped"
    }

    public init() {}

    /// The record at `path`; nil when it is missing, empty (a claim being written) or not one.
    public static func read(_ path: String) -> AttemptRecord? {
        guard let bytes = try? FileOps.readFile(path, limit: 1 << 16), !bytes.isEmpty else { return nil }
        return try? JSON.decode(AttemptRecord.self, from: bytes)
    }

    /// How the attempt ended, by `outcome`: unknown or missing words read as `exited`.
    public var kind: StepOutcome.Kind {
        switch outcome {
        case "cancelled": return .cancelled
        case "timed_out", "timeout": return .timeout
        default: return .exited
        }
    }

    /// An exit record as a StepOutcome; `claim` (the start record) gives the start time.
    public func stepOutcome(claim: AttemptRecord?) -> StepOutcome {
        StepOutcome(kind: kind, exitCode: exitCode, signal: signal, startedAt: claim?.startedAt,
                    finishedAt: finishedAt, logDropped: logDropped ?? 0)
    }
}
