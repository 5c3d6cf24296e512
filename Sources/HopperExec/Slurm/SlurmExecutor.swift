// SlurmExecutor — where a step is submitted to SLURM, followed, cancelled and re-adopted.
//
// One `sbatch --parsable` per attempt, from the job's workspace, with the step's resources
// (`--cpus-per-task`, `--mem`, `--time`, `--gres`), partition, account and qos, output appended
// to the step's log, `--no-requeue` (SLURM must not run an attempt twice) and the mark
// `--comment=hopper:<spool tag>:<job>:<step>:<attempt>`. The step's environment reaches the
// job through sbatch's own environment (`--export=ALL`), never through script text.
//
// Never submitted twice: before sbatch the attempt's intent record is written and fsynced;
// the id sbatch prints is written and fsynced at once. A restarted daemon that finds
// - the id: follows that job;
// - only the intent: looks for the mark in one squeue round — found: follows it; not found:
//   the batch script's own records decide (exit record → that result; start record → lost;
//   neither → the job never reached SLURM or never ran, and the attempt is submitted now).
//
// The result: SLURM's state and exit status (squeue -t all within MinJobAge, else sacct with
// accounting), else the exit record the batch script's EXIT trap wrote. See SlurmPoller.
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What a SLURM attempt asks for.
public struct SlurmRequest: Sendable, Equatable {
    public var jobName: String
    public var partition: String?
    public var account: String?
    public var qos: String?
    public var cpus: Int?
    public var memoryBytes: Int64?
    /// `--time`, in whole minutes (SLURM's unit).
    public var timeMinutes: Int?
    public var gpus: Int?

    public init(jobName: String) { self.jobName = jobName }

    /// The sbatch options for this request.
    public var options: [String] {
        var o: [String] = []
        if let partition { o.append("--partition=\(partition)") }
        if let account { o.append("--account=\(account)") }
        if let qos { o.append("--qos=\(qos)") }
        if let cpus { o.append("--cpus-per-task=\(cpus)") }
        if let memoryBytes { o.append("--mem=\(max(1, (memoryBytes + (1 << 20) - 1) >> 20))M") }
        if let timeMinutes { o.append("--time=\(max(1, timeMinutes))") }
        if let gpus, gpus > 0 { o.append("--gres=gpu:\(gpus)") }
        return o
    }
}

/// What the executor tells the job runner while an attempt is in SLURM's hands.
public enum SlurmUpdate: Sendable, Equatable {
    /// sbatch answered (or the job was found again): its id.
    case submitted(id: String)
    /// SLURM's view changed: queued or running, with a line for the step's `detail`.
    case phase(SlurmPhase, id: String, detail: String)
    /// slurmctld cannot be reached; the state is kept.
    case note(String)
}

public final class SlurmExecutor: Sendable {
    public let commands: SlurmCommands
    public let poller: SlurmPoller
    /// `hopper:<tag>:` — this spool's mark on its SLURM jobs.
    public let commentPrefix: String
    /// For mock steps, which run `hopper-supervise --mock` inside the job.
    public let supervisor: String
    /// Defaults per queue name (partition, account, qos), then the config's.
    public let defaults: SlurmConfig
    public let queueDefaults: [String: QueueConfig]
    let submissions = SlurmGate(limit: 4)
    /// Children of a group at the same step, gathered into job arrays (SlurmArrays).
    let arrays: SlurmArrayBatcher
    let logger: Logger

    public init(config: SlurmConfig, queues: [QueueConfig], spoolRoot: String, supervisor: String,
                logger: Logger = Logger(label: "hopper.slurm")) {
        self.commands = SlurmCommands(binDirectory: config.binDirectory)
        self.commentPrefix = "hopper:\(SlurmExecutor.tag(spoolRoot)):"
        self.supervisor = supervisor
        self.defaults = config
        var byName: [String: QueueConfig] = [:]
        for q in queues { byName[q.name] = q }
        self.queueDefaults = byName
        self.logger = logger
        self.arrays = SlurmArrayBatcher(window: config.arrayWindow.seconds)
        self.poller = SlurmPoller(commands: commands, interval: config.pollInterval.seconds, commentPrefix: commentPrefix, logger: logger)
    }

    /// 8 hex digits of FNV-1a over the spool root: two spools on one cluster never mix their jobs.
    public static func tag(_ root: String) -> String {
        var h: UInt32 = 2_166_136_261
        for b in root.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    public func comment(job: String, step: String, attempt: Int) -> String {
        "\(commentPrefix)\(job):\(step):\(attempt)"
    }

    /// The request for a step: its resources over the job's; partition, account, qos from
    /// there, else the queue, else the config. `timeout` (seconds) caps `--time`.
    public func request(job: String, step: Step, manifest: JobManifest, queue: String, timeout: Double?) -> SlurmRequest {
        var r = SlurmRequest(jobName: "\(job).\(step.name)")
        let s = step.resources ?? Resources()
        let j = manifest.resources ?? Resources()
        let q = queueDefaults[queue]
        r.partition = s.partition ?? j.partition ?? q?.partition ?? defaults.partition
        r.account = s.account ?? j.account ?? q?.account ?? defaults.account
        r.qos = s.qos ?? j.qos ?? q?.qos ?? defaults.qos
        r.cpus = s.cpus ?? j.cpus
        if r.cpus == nil, case .snakemake(let sm) = step.kind { r.cpus = sm.cores }
        r.memoryBytes = (s.memory ?? j.memory)?.bytes
        r.gpus = s.gpus ?? j.gpus
        var minutes: Int? = (s.time ?? j.time).map { Int(($0.seconds / 60).rounded(.up)) }
        if let t = timeout {
            // Hopper enforces `timeout` itself, to the second; SLURM's limit (whole minutes,
            // checked now and then) is a backstop one minute beyond it.
            let m = Int((t / 60).rounded(.up)) + 1
            if minutes == nil || m < minutes! { minutes = m }
        }
        r.timeMinutes = minutes
        return r
    }

    // MARK: - Running an attempt

    /// Submits the attempt (or finds the one submitted before a restart) and follows it to its
    /// end. Cancelling the calling task scancels the job and waits for SLURM to confirm.
    /// `command` is asked only when a submission is really made. Returns the outcome and the
    /// SLURM job id (nil when nothing was submitted).
    /// `group`: the job is a child of this group; with `slurm.array_window` above zero, its
    /// attempt may go to SLURM as a task of an array with its siblings (SlurmArrays).
    public func run(_ launch: StepLaunch, request: SlurmRequest, group: String? = nil,
                    command: @Sendable () async -> StepCommand?,
                    update: @escaping @Sendable (SlurmUpdate) async -> Void) async -> (StepOutcome, String?) {
        let files = SlurmAttemptFiles(workspace: launch.workspace, step: launch.step, attempt: launch.attempt)
        // An intent names what the attempt was submitted as: its own comment or an array task's.
        var mark = Self.readText(files.intent) ?? comment(job: launch.jobID, step: launch.step, attempt: launch.attempt)
        var arrayFolder: String?
        var log = logger
        log[metadataKey: "job.id"] = "\(launch.jobID)"
        log[metadataKey: "step.name"] = "\(launch.step)"
        var id = Self.readText(files.id)

        if id == nil && FileOps.exists(files.intent) {
            // The daemon stopped between the intent and the id: did sbatch reach SLURM?
            if let found = await lookUp(mark, user: launch.user?.name) {
                id = found
                await Self.writeDurably(files.id, found, as: launch.user)
                log.notice("slurm.found_after_restart", metadata: ["slurm.job_id": "\(found)"])
            } else if let outcome = Self.outcomeFromRecords(files, id: nil) {
                return (outcome, nil)
            } else if FileOps.exists(files.started) {
                return (StepOutcome(kind: .lost, finishedAt: Timestamp.now(),
                                    message: "the SLURM job of this attempt ran but SLURM no longer knows it and it left no exit record"), nil)
            }
        }

        if id == nil {
            if Task.isCancelled { return (StepOutcome(kind: .cancelled, finishedAt: Timestamp.now()), nil) }
            guard let cmd = await command() else {
                return (StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(), message: Snakemake.missingMessage), nil)
            }
            mark = comment(job: launch.jobID, step: launch.step, attempt: launch.attempt)
            if let group, defaults.arrayWindow.seconds > 0 {
                let member = ArrayMember(launch: launch, files: files, argv: SlurmBatchScript.argv(cmd, files: files, supervisor: supervisor), update: update)
                let key = ArrayBatchKey(group: group, step: launch.step, options: request.options, uid: launch.user?.uid)
                switch await arrays.join(key, member, submit: { [self] k, m in await submitArray(k, m) }) {
                case .submitted(let taskID, let taskMark, let folder): (id, mark, arrayFolder) = (taskID, taskMark, folder)
                case .failed(let outcome): return (outcome, nil)
                case .single: break
                }
            }
            if id == nil {
                switch await submit(launch, files: files, mark: mark, request: request, command: cmd, update: update, log: log) {
                case .success(let newID): id = newID
                case .failure(let outcome): return (outcome, nil)
                }
            }
        }
        guard let jobID = id else { return (StepOutcome(kind: .lost, message: "no SLURM job id"), nil) }
        await update(.submitted(id: jobID))
        let outcome = await follow(jobID, mark: mark, files: files, timeout: launch.timeout, user: launch.user?.name, update: update)
        if let arrayFolder { await arrays.returned(arrayFolder) }
        return (outcome, jobID)
    }

    /// Follows a submitted job to its end.
    func follow(_ id: String, mark: String, files: SlurmAttemptFiles, timeout: Double?, user: String?,
                update: @Sendable (SlurmUpdate) async -> Void) async -> StepOutcome {
        await poller.watch(comment: mark, id: id, timeout: timeout, startRecord: files.started, user: user)
        let poller = self.poller
        let outcome: StepOutcome = await withTaskCancellationHandler {
            var seen = 0
            var lastDetail = ""
            var lastNote: String?
            while true {
                let snap = await poller.next(comment: mark, after: seen)
                seen = snap.version
                if let note = snap.note, note != lastNote { await update(.note(note)) }
                lastNote = snap.note
                if let final = snap.final {
                    return Self.outcome(final, snapshot: snap, files: files)
                }
                if snap.gone {
                    // A pending task of an array that is cancelled leaves squeue at once, unlisted.
                    if snap.cancelRequested && !snap.timedOut { return StepOutcome(kind: .cancelled, finishedAt: Timestamp.now()) }
                    return Self.outcomeFromRecords(files, id: id)
                        ?? StepOutcome(kind: .lost, finishedAt: Timestamp.now(),
                                       message: "SLURM job \(id) is no longer known to SLURM (past MinJobAge, no accounting) and its batch script left no exit record")
                }
                if let info = snap.info {
                    let reason = info.reason.isEmpty || info.reason == "None" ? "" : " (\(info.reason))"
                    let detail = "SLURM job \(id) \(info.state)\(reason)"
                    if detail != lastDetail {
                        lastDetail = detail
                        await update(.phase(info.phase, id: id, detail: detail))
                    }
                }
            }
        } onCancel: {
            Task { await poller.requestCancel(comment: mark) }
        }
        await poller.unwatch(comment: mark)
        return outcome
    }

    /// One round's answer for a mark: the id of the job carrying it, or nil.
    func lookUp(_ mark: String, user: String?) async -> String? {
        await poller.watch(comment: mark, id: nil, timeout: nil, user: user)
        var seen = 0
        var found: String?
        while true {
            let snap = await poller.next(comment: mark, after: seen)
            seen = snap.version
            if snap.rounds > 0 { found = snap.info?.id ?? snap.id; break }
            if snap.gone { break }
        }
        await poller.unwatch(comment: mark)
        return found
    }

    // MARK: - Outcomes

    static func outcome(_ info: SlurmJobInfo, snapshot: SlurmSnapshot, files: SlurmAttemptFiles) -> StepOutcome {
        let times = recordTimes(files)
        var o = StepOutcome(kind: .exited, exitCode: info.exitCode, signal: nil, startedAt: times.0, finishedAt: times.1 ?? Timestamp.now())
        let word = info.state.split(separator: " ").first.map(String.init) ?? info.state
        switch word {
        case "COMPLETED", "FAILED":
            if let sig = info.signal, sig != 0, (info.exitCode ?? 0) == 0 {
                o.exitCode = nil
                o.signal = sig
            }
            if info.exitCode == nil && o.signal == nil {
                // SLURM gave no status: the script's own record, else a plain failure.
                if let code = recordedExit(files) { o.exitCode = code } else { o.exitCode = word == "COMPLETED" ? 0 : 1 }
            }
        case "TIMEOUT":
            o.kind = .timeout
        case "CANCELLED":
            if snapshot.timedOut {
                o.kind = .timeout
            } else if snapshot.cancelRequested {
                o.kind = .cancelled
            } else {
                o.kind = .lost
                o.message = "SLURM job \(info.id) was cancelled outside Hopper"
            }
        default:
            o.kind = .lost
            let reason = info.reason.isEmpty || info.reason == "None" ? "" : " (\(info.reason))"
            o.message = "SLURM job \(info.id) ended \(info.state)\(reason)"
        }
        return o
    }

    /// The result from the batch script's exit record, when SLURM has forgotten the job.
    static func outcomeFromRecords(_ files: SlurmAttemptFiles, id: String?) -> StepOutcome? {
        guard let code = recordedExit(files) else { return nil }
        let times = recordTimes(files)
        return StepOutcome(kind: .exited, exitCode: code, startedAt: times.0, finishedAt: times.1)
    }

    static func recordedExit(_ files: SlurmAttemptFiles) -> Int? {
        AttemptRecord.read(files.exit)?.exitCode
    }

    /// The start (the batch script's start record) and end (its exit record) of an attempt.
    static func recordTimes(_ files: SlurmAttemptFiles) -> (Double?, Double?) {
        (AttemptRecord.read(files.started)?.startedAt, AttemptRecord.read(files.exit)?.finishedAt)
    }

    // MARK: - Helpers

    /// `--parsable` prints `ID` or `ID;CLUSTER`.
    static func parseSbatch(_ out: String) -> String? {
        let line = out.split(separator: "\n").last.map(String.init) ?? ""
        let id = line.split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy({ $0.isNumber || $0 == "_" }) else { return nil }
        return id
    }

    /// sbatch failures worth retrying: the controller did not answer.
    static func isTransient(_ r: SlurmCommandResult) -> Bool {
        if r.launchError != nil && r.exitCode == nil && r.launchError!.contains("did not answer") { return true }
        let text = r.stderr.lowercased()
        for needle in ["unable to contact", "socket timed out", "connection refused", "zero bytes", "timed out", "try again", "temporarily"] {
            if text.contains(needle) { return true }
        }
        return false
    }

    static func readText(_ path: String) -> String? {
        guard let bytes = try? FileOps.readFile(path, limit: 4096) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return text.isEmpty ? nil : text
    }

    static func writeDurably(_ path: String, _ text: String, as user: FileIdentity?) async {
        _ = await AsUser.run(user) {
            try? FileOps.writeAtomically(path, Array("\(text)\n".utf8), durable: true)
            try? FileOps.fsyncDirectory(FileOps.split(path).0)
        }
    }
}
