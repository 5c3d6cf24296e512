// SlurmPoller — follows every SLURM job of this daemon with ONE `squeue` per round.
//
// slurmctld serves every user of the cluster; a daemon that asked about each of its jobs
// separately would hurt it. Each round runs
//
//     squeue --me -h -r -t all -O JobID:|,State:|,Reason:|,exit_code:|,ArrayJobID:|,ArrayTaskID:|,Comment:|
//
// once, whatever the number of jobs, and keeps the lines whose comment carries this spool's
// tag (`hopper:<tag>:…`). A job is watched by its key: its comment, or for a task of a job array
// (SlurmArrays; `-r` lists each task on its own line) `<comment>/<task index>`.
// `-t all` includes jobs that ended less than MinJobAge ago, with their exit status, so a
// finished job's result normally comes from that same call. A job that has left slurmctld's memory (the daemon was down longer than MinJobAge) is looked up with at most
// one `sacct` per round for all such jobs, when accounting is enabled; otherwise the waiting
// executor falls back to the exit record its batch script wrote (SlurmBatchScript).
// Cancels (and local timeouts) are sent as one `scancel` per round for all of them.
//
// A round that fails (slurmctld down, squeue missing) changes nothing: every job keeps its
// state, waiters get a note, and the next round tries again. A polling error never fails a job.
//
// The loop runs only while someone is watched; it is started by the first `watch`.
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What the poller knows about one watched attempt; waiters get a new one at every change.
public struct SlurmSnapshot: Sendable {
    public var version = 0
    /// The SLURM job id, when known.
    public var id: String?
    /// The job's line in the latest successful round; nil when it was not listed.
    public var info: SlurmJobInfo?
    /// Successful rounds since the watch began.
    public var rounds = 0
    /// The job's end as SLURM recorded it (squeue -t all, or sacct).
    public var final: SlurmJobInfo?
    /// Ended, and SLURM no longer knows it (no accounting, past MinJobAge).
    public var gone = false
    /// Set while slurmctld cannot be reached.
    public var note: String?
    /// Hopper cancelled it because its timeout passed.
    public var timedOut = false
    public var cancelRequested = false
}

public actor SlurmPoller {
    struct Entry {
        var snapshot = SlurmSnapshot()
        var waiters: [CheckedContinuation<SlurmSnapshot, Never>] = []
        var timeout: Double?
        /// The batch script's start record: when it started, across daemon restarts.
        var startRecord: String?
        /// The job's SLURM user when it is not the daemon's (run_as: owner).
        var user: String?
        var runningSince: Double?
        var cancelSent = false
    }

    let commands: SlurmCommands
    let interval: Double
    let commentPrefix: String
    let logger: Logger
    private var entries: [String: Entry] = [:]
    private var loop: Task<Void, Never>?
    private var wakeRequested = false
    private var reachable = true
    /// `sacct` said accounting is disabled: not asked again until this time.
    private var accountingOffUntil: Double = 0
    /// Rounds run, and SLURM queries made (squeue + sacct), since the start: for logs and tests.
    public private(set) var roundCount = 0
    public private(set) var queryCount = 0

    public init(commands: SlurmCommands, interval: Double, commentPrefix: String, logger: Logger) {
        self.commands = commands
        self.interval = max(0.05, interval)
        self.commentPrefix = commentPrefix
        self.logger = logger
    }

    // MARK: - Watching

    /// Starts following the attempt marked `comment` (its id may still be unknown).
    /// `timeout`: seconds of RUNNING after which Hopper cancels it itself, counted from the time
    /// in `startRecord` (written by the batch script) when there is one.
    public func watch(comment: String, id: String?, timeout: Double?, startRecord: String? = nil, user: String? = nil) {
        var entry = entries[comment] ?? Entry()
        if let id { entry.snapshot.id = id }
        entry.timeout = timeout
        entry.startRecord = startRecord
        entry.user = user
        entries[comment] = entry
        if loop == nil {
            loop = Task { await self.run() }
        }
    }

    public func unwatch(comment: String) {
        guard let entry = entries.removeValue(forKey: comment) else { return }
        for w in entry.waiters { w.resume(returning: entry.snapshot) }
    }

    /// The snapshot once its version is above `version` (immediately if it already is).
    /// Not cancellable: a cancelled step still waits for SLURM to confirm the end.
    public func next(comment: String, after version: Int) async -> SlurmSnapshot {
        guard let entry = entries[comment] else { return SlurmSnapshot(version: version + 1, gone: true) }
        if entry.snapshot.version > version { return entry.snapshot }
        return await withCheckedContinuation { c in
            entries[comment]?.waiters.append(c)
        }
    }

    /// Asks for `scancel` of the attempt, sent at the next round (which comes at once).
    public func requestCancel(comment: String) {
        guard entries[comment] != nil else { return }
        entries[comment]!.snapshot.cancelRequested = true
        wakeRequested = true
    }

    // MARK: - Rounds

    private func run() async {
        while !entries.isEmpty {
            await round()
            let deadline = Timestamp.now() + interval
            while Timestamp.now() < deadline && !wakeRequested && !entries.isEmpty {
                try? await Task.sleep(for: .milliseconds(50))
            }
            wakeRequested = false
        }
        loop = nil
    }

    private func publish(_ comment: String, _ change: (inout SlurmSnapshot) -> Void) {
        guard var entry = entries[comment] else { return }
        change(&entry.snapshot)
        entry.snapshot.version += 1
        let waiters = entry.waiters
        entry.waiters = []
        entries[comment] = entry
        for w in waiters { w.resume(returning: entry.snapshot) }
    }

    func round() async {
        roundCount += 1
        let watched = Array(entries.keys)
        queryCount += 1
        let result = await commands.run("squeue", ["-h", "-r", "-t", "all", "-O", SlurmJobInfo.squeueFormat] + whose())
        guard result.succeeded else {
            let message = "slurmctld cannot be asked (squeue: \(result.problem)); every SLURM job keeps its state until it answers"
            if reachable {
                reachable = false
                logger.warning("slurm.unreachable", metadata: ["error": "\(result.problem)", "slurm.jobs": "\(watched.count)"])
                for comment in watched { publish(comment) { $0.note = message } }
            }
            await sendCancels()
            return
        }
        if !reachable {
            reachable = true
            logger.notice("slurm.reachable", metadata: ["slurm.jobs": "\(watched.count)"])
        }
        var listed: [String: SlurmJobInfo] = [:]
        for info in SlurmJobInfo.parseSqueue(result.stdout, commentPrefix: commentPrefix) {
            // A comment reused by a resubmission after a lost intent: the newest (highest id) wins.
            if let old = listed[info.key], (Int(old.id) ?? 0) > (Int(info.id) ?? 0) { continue }
            listed[info.key] = info
        }
        let now = Timestamp.now()
        var missing: [String: String] = [:]     // id → comment: ended and purged from slurmctld
        for comment in watched {
            guard let entry = entries[comment] else { continue }
            if let info = listed[comment] {
                if info.phase == .running && entry.runningSince == nil {
                    entries[comment]!.runningSince = entry.startRecord.flatMap(SlurmPoller.recordedStart) ?? now
                }
                let ended = info.phase == .ended
                publish(comment) { s in
                    s.rounds += 1
                    s.note = nil
                    s.id = info.id
                    s.info = info
                    if ended { s.final = info }
                }
            } else if let id = entry.snapshot.id {
                // Ended and purged (MinJobAge), perhaps while the daemon was down.
                missing[id] = comment
            } else {
                publish(comment) { s in s.rounds += 1; s.note = nil; s.info = nil }
            }
        }
        if !missing.isEmpty { await lookUpPurged(missing) }
        // Hopper's own timeouts: SLURM's --time is in minutes and checked only now and then.
        for (comment, entry) in entries {
            guard let limit = entry.timeout, let since = entry.runningSince, !entry.cancelSent,
                  entry.snapshot.final == nil, now - since > limit else { continue }
            logger.notice("slurm.timeout", metadata: ["slurm.job_id": "\(entry.snapshot.id ?? "-")", "slurm.comment": "\(comment)"])
            publish(comment) { s in s.timedOut = true; s.cancelRequested = true }
        }
        await sendCancels()
    }

    /// Whose jobs to list: `--me`, or with run_as: owner every watched job's user (and the
    /// daemon's own name when some are its own): still one squeue call.
    private func whose() -> [String] {
        var users: Set<String> = []
        var mine = false
        for entry in entries.values {
            if let u = entry.user { users.insert(u) } else { mine = true }
        }
        if users.isEmpty { return ["--me"] }
        if mine { users.insert(Accounts.userName(geteuid())) }
        return ["-u", users.sorted().joined(separator: ",")]
    }

    /// `started_at` of a batch script's start record.
    static func recordedStart(_ path: String) -> Double? {
        AttemptRecord.read(path)?.startedAt
    }

    /// Jobs that ended and left slurmctld's memory: one `sacct` for all, when accounting is on;
    /// else they are `gone`, and their batch scripts' exit records tell the result.
    private func lookUpPurged(_ missing: [String: String]) async {
        var found: [String: SlurmJobInfo] = [:]
        if Timestamp.now() >= accountingOffUntil {
            queryCount += 1
            let ids = missing.keys.sorted().joined(separator: ",")
            let r = await commands.run("sacct", ["-n", "-P", "-X", "-j", ids, "-o", "JobID,State,ExitCode,Comment"])
            if r.succeeded {
                for info in SlurmJobInfo.parseSacct(r.stdout) where missing[info.id] != nil { found[info.id] = info }
            } else {
                // "Slurm accounting storage is disabled": ask again in ten minutes.
                accountingOffUntil = Timestamp.now() + 600
                logger.info("slurm.no_accounting", metadata: ["error": "\(r.problem)"])
            }
        }
        for (id, comment) in missing {
            if let info = found[id], info.phase == .ended {
                publish(comment) { s in s.rounds += 1; s.note = nil; s.final = info }
            } else if found[id] != nil {
                publish(comment) { s in s.rounds += 1; s.note = nil; s.info = found[id] }
            } else {
                publish(comment) { s in s.rounds += 1; s.note = nil; s.gone = true }
            }
        }
    }

    private func sendCancels() async {
        var ids: [String] = []
        var comments: [String] = []
        for (comment, entry) in entries where entry.snapshot.cancelRequested && !entry.cancelSent {
            guard let id = entry.snapshot.id else { continue }
            ids.append(id)
            comments.append(comment)
        }
        guard !ids.isEmpty else { return }
        let r = await commands.run("scancel", ids)
        if r.succeeded {
            for c in comments { entries[c]?.cancelSent = true }
            logger.info("slurm.cancelled", metadata: ["slurm.job_ids": "\(ids.joined(separator: ","))"])
        } else {
            logger.warning("slurm.cancel_failed", metadata: ["slurm.job_ids": "\(ids.joined(separator: ","))", "error": "\(r.problem)"])
        }
    }
}
