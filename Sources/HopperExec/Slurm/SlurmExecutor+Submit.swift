// SlurmExecutor+Submit — one submission: the attempt's files and intent written, then sbatch,
// retried while slurmctld cannot be reached (SlurmExecutor explains what is recorded and why).
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension SlurmExecutor {
    enum Submission {
        case success(String)
        case failure(StepOutcome)
    }

    func submit(_ launch: StepLaunch, files: SlurmAttemptFiles, mark: String, request: SlurmRequest, command: StepCommand,
                update: @Sendable (SlurmUpdate) async -> Void, log: Logger) async -> Submission {
        let argv = SlurmBatchScript.argv(command, files: files, supervisor: supervisor)
        let workspace = launch.workspace
        do {
            // With run_as: owner, the workspace and log are the owner's: written with their rights.
            try await AsUser.run(launch.user) {
                try Self.writeAttemptFiles(launch, files, argv: argv, environmentFile: false, how: "")
                try Self.writeIntent(launch, files, mark: mark)
            }
        } catch {
            return .failure(StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(), message: "cannot prepare the SLURM batch script: \(error)"))
        }
        let env = Self.withSlurmSettings(launch.environment)
        let args: [String] = ["--parsable", "--job-name=\(request.jobName)", "--comment=\(mark)",
                              "--chdir=\(launch.workspace)", "--output=\(launch.logPath)", "--error=\(launch.logPath)",
                              "--open-mode=append", "--export=ALL", "--no-requeue"] + request.options + [files.script]
        let result = await sbatch(args, environment: env, workingDirectory: workspace, user: launch.user,
                                  lostAnswerMark: mark, note: update)
        switch result {
        case .success(let id):
            await Self.writeDurably(files.id, id, as: launch.user)
            log.info("slurm.submitted", metadata: ["slurm.job_id": "\(id)", "step.attempt": "\(launch.attempt)"])
        case .failure(let outcome):
            await Self.withdrawIntent(launch, files, saying: outcome.message ?? "sbatch refused the step")
        }
        return result
    }

    /// An attempt's own files before its submission (alone, or as a task of an array): argv,
    /// batch script, environment file (a task's; removed otherwise), stale records removed, the
    /// log's header. Runs with the job's owner's rights (AsUser).
    static func writeAttemptFiles(_ launch: StepLaunch, _ files: SlurmAttemptFiles, argv: [String],
                                  environmentFile: Bool, how: String) throws {
        let script = SlurmBatchScript.text(files: files, jobID: launch.jobID, step: launch.step, attempt: launch.attempt)
        let header = "==> hopper: step \(launch.step) attempt \(launch.attempt) submitted to SLURM\(how) \(Timestamp.rfc3339()) <==\n"
        try FileOps.makeDirectories(JobWorkspace(path: launch.workspace).records)
        try FileOps.writeAtomically(files.argv, SlurmBatchScript.argvBytes(argv), durable: false)
        if environmentFile {
            try FileOps.writeAtomically(files.environment, SlurmBatchScript.environmentBytes(launch.environment), mode: 0o600, durable: false)
        } else {
            unlink(files.environment)
        }
        try FileOps.writeAtomically(files.script, Array(script.utf8), mode: 0o755, durable: false)
        for stale in [files.started, files.exit] { unlink(stale) }
        try FileOps.appendLine(launch.logPath, Array(header.utf8))
    }

    /// The commit point, fsynced: from here on a SLURM job may exist for this attempt, marked `mark`.
    static func writeIntent(_ launch: StepLaunch, _ files: SlurmAttemptFiles, mark: String) throws {
        try FileOps.writeAtomically(files.intent, Array("\(mark)\n".utf8), durable: true)
        try FileOps.fsyncDirectory(JobWorkspace(path: launch.workspace).records)
    }

    /// sbatch refused: no job exists, so the intent goes, and the log says why.
    static func withdrawIntent(_ launch: StepLaunch, _ files: SlurmAttemptFiles, saying text: String) async {
        _ = await AsUser.run(launch.user) {
            unlink(files.intent)
            try? FileOps.appendLine(launch.logPath, Array("==> hopper: \(text) <==\n".utf8))   // silent: the outcome says it
        }
    }

    /// sbatch's environment: `environment` and SLURM's own settings from the daemon's.
    static func withSlurmSettings(_ environment: [String: String]) -> [String: String] {
        var env = environment
        for key in ["SLURM_CONF"] { if let v = ProcessEnvironment.value(key) { env[key] = v } }
        return env
    }

    /// Runs sbatch until it answers: retried while slurmctld cannot be reached (1 s, 2 s, … 30 s;
    /// `note` hears of it once); a refusal or a cancel ends it. An sbatch that failed may still
    /// have reached slurmctld: a job marked `lostAnswerMark` found then is the answer.
    func sbatch(_ args: [String], environment: [String: String], workingDirectory: String, user: FileIdentity?,
                lostAnswerMark: String, note: @Sendable (SlurmUpdate) async -> Void) async -> Submission {
        var delay = 1.0
        var noted = false
        while true {
            // Not a child of the (cancellable) step task: a half-run sbatch would leave a job unknown.
            let commands = self.commands
            let gate = submissions
            let result = await Task.detached {
                await gate.acquire()
                let r = await commands.run("sbatch", args, environment: environment, workingDirectory: workingDirectory, user: user)
                await gate.release()
                return r
            }.value
            if result.succeeded, let id = Self.parseSbatch(result.stdout) { return .success(id) }
            // sbatch failed; did the job reach slurmctld anyway (a lost answer)?
            if let found = await lookUp(lostAnswerMark, user: user?.name) { return .success(found) }
            if !Self.isTransient(result) || Task.isCancelled {
                return .failure(StepOutcome(kind: Task.isCancelled ? .cancelled : .failedToStart, finishedAt: Timestamp.now(),
                                            message: "sbatch refused the step: \(result.problem)"))
            }
            if !noted {
                noted = true
                await note(.note("slurmctld cannot be reached to submit (\(result.problem)); retrying"))
            }
            logger.warning("slurm.submit_retry", metadata: ["error": "\(result.problem)"])
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))   // silent: a cancel is seen at the loop's top
            delay = min(30, delay * 2)
        }
    }
}
