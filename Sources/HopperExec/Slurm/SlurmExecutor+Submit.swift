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
        let script = SlurmBatchScript.text(files: files, jobID: launch.jobID, step: launch.step, attempt: launch.attempt)
        let header = "==> hopper: step \(launch.step) attempt \(launch.attempt) submitted to SLURM \(Timestamp.rfc3339()) <==\n"
        let (workspace, logPath) = (launch.workspace, launch.logPath)
        do {
            // With run_as: owner, the workspace and log are the owner's: written with their rights.
            try await AsUser.run(launch.user) {
            try FileOps.makeDirectories(JobWorkspace(path: workspace).records)
            try FileOps.writeAtomically(files.argv, SlurmBatchScript.argvBytes(argv), durable: false)
            try FileOps.writeAtomically(files.script, Array(script.utf8), mode: 0o755, durable: false)
            for stale in [files.started, files.exit, files.environment] { unlink(stale) }
            try FileOps.appendLine(logPath, Array(header.utf8))
            // The commit point: from here on a SLURM job may exist for this attempt.
            try FileOps.writeAtomically(files.intent, Array("\(mark)\n".utf8), durable: true)
            try FileOps.fsyncDirectory(JobWorkspace(path: workspace).records)
            }
        } catch {
            return .failure(StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(), message: "cannot prepare the SLURM batch script: \(error)"))
        }
        var env = launch.environment
        for key in ["SLURM_CONF"] { if let v = ProcessEnvironment.value(key) { env[key] = v } }
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
            let text = outcome.message ?? "sbatch refused the step"
            let intent = files.intent
            _ = await AsUser.run(launch.user) {
                unlink(intent)
                try? FileOps.appendLine(logPath, Array("==> hopper: \(text) <==\n".utf8))   // silent: the outcome says it
            }
        }
        return result
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
