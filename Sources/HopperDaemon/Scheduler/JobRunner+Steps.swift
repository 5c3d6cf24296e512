// JobRunner+Steps — what a step runs: its command, environment, Snakemake glue, progress, results.
import HopperCore
import HopperExec
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension JobRunner {
    // MARK: - Steps

    /// The command of a new attempt; nil when it cannot run (Snakemake missing).
    func command(for step: Step, workspace: PreparedWorkspace, attempt: Int, params: [String: ParamValue] = [:]) async -> StepCommand? {
        switch step.kind {
        case .run(let script):
            return .shell(script)
        case .mock(let mock):
            // The job's params `duration` and `fail_rate`, when given, override every mock step's
            // (the demo workflow declares them, so each demo job can choose).
            var seconds = mock.duration.seconds, failRate = mock.failRate
            if case .string(let text)? = params["duration"], let d = DurationValue(text) { seconds = d.seconds }
            switch params["fail_rate"] {
            case .number(let r)?: failRate = r
            case .integer(let r)?: failRate = Double(r)
            default: break
            }
            return .mock(seconds: seconds, failRate: failRate, seed: UInt64(mock.seed ?? 0))
        case .snakemake(let sm):
            guard let snakemake = settings.snakemake else { return nil }
            // A killed run leaves its lock; no attempt of this step runs now, so it is stale.
            let path = workspace.path
            let cleared = await AsUser.run(identity) { Snakemake.clearStaleLocks(workspace: path) } ?? 0
            if cleared > 0 {
                JobRunner.event(layout, id, JobEvent(event: "snakemake_unlocked", state: .running, step: step.name,
                                                     message: "removed \(cleared) stale Snakemake lock file(s) left by an earlier run"))
            }
            var argv = Snakemake.argv(executable: snakemake, step: sm, workspace: workspace.path, rerun: true)
            // A `rerun` request redoes the step's work; Snakemake alone would find it up to date.
            let forced = layout.jobWorkspace(id).rerunMarker(step: step.name)
            let removed: Bool? = await AsUser.run(identity) { () -> Bool in unlink(forced) == 0 }
            if removed == true { argv.insert("--forceall", at: argv.count - sm.targets.count) }
            return .argv(argv)
        }
    }

    /// While a Snakemake step runs: reads its log as it grows and publishes its progress
    /// ("rule call (3 of 10)") into status.json. Nil for other steps.
    func progressTail(step: Step, index: Int, logPath: String) -> Task<Void, Never>? {
        guard case .snakemake = step.kind else { return nil }
        let start = (try? FileOps.lstat(logPath)).flatMap { $0 }.map { Int64($0.st_size) } ?? 0   // silent: no log yet: from its start
        return Task { [self] in
            var parser = SnakemakeProgress()
            var offset = start
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(300))   // silent: cancelled ends the loop
                let chunk = JobRunner.readFrom(logPath, offset: offset)
                offset += Int64(chunk.count)
                guard parser.consume(chunk) else { continue }
                await noteProgress(index: index, fraction: parser.fraction, detail: parser.detail)
            }
        }
    }

    /// A running step's progress, into the status (and status.json, not waiting for the disk).
    func noteProgress(index: Int, fraction: Double?, detail: String?) async {
        status.steps[index].progress = fraction
        status.steps[index].detail = detail
        status.progress = JobRunner.progress(status)
        await save(event: nil)
    }

    /// Appends the log Snakemake wrote in the workspace (`.snakemake/log/`, newest) to
    /// `logs/<step>.snakemake.log` in the outbox, beside the step's own log.
    func keepSnakemakeLog(step: String, workspace: String) async {
        let dir = workspace + "/.snakemake/log"
        let target = layout.folder(id).snakemakeLog(step: step)
        _ = await AsUser.run(identity) {
            // silent: Snakemake's own log is a copy kept for convenience; the step's log has its output.
            let names = ((try? FileOps.listDirectory(dir)) ?? []).filter { $0.hasSuffix(".snakemake.log") }.sorted()
            guard let newest = names.last, let bytes = try? FileOps.readFile(dir + "/" + newest, limit: 64 << 20) else { return }   // silent: as above
            try? FileOps.appendLine(target, Array("==> \(newest) <==\n".utf8) + bytes)   // silent: as above
        }
    }

    /// Bytes of a file from `offset` on (at most 1 MiB).
    static func readFrom(_ path: String, offset: Int64) -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { Glibc.close(fd) }
        guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { return [] }
        return (try? FileOps.readUpTo(fd, limit: 1 << 20, path: path)) ?? []   // silent: progress is read again in 300 ms
    }

    func environment(step: String, attempt: Int, manifest: JobManifest, workspace: PreparedWorkspace) -> [String: String] {
        var env: [String: String] = [:]
        for key in ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"] {
            if let v = ProcessEnvironment.value(key) { env[key] = v }
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        if let who = identity {
            env["HOME"] = who.home
            env["USER"] = who.name
            env["LOGNAME"] = who.name
        }
        env["TMPDIR"] = workspace.path + "/tmp"
        env["HOPPER_JOB_ID"] = id
        env["HOPPER_STEP"] = step
        env["HOPPER_WORKSPACE"] = workspace.path
        env["HOPPER_ATTEMPT"] = String(attempt)
        if let dir = settings.workflowDirectory { env["HOPPER_WORKFLOW_DIR"] = dir }
        for (name, value) in manifest.params { env["HOPPER_PARAM_" + Names.environmentName(name)] = value.stringValue }
        for (name, path) in workspace.inputs { env["HOPPER_INPUT_" + Names.environmentName(name)] = path }
        return env
    }

    /// Publishes a completed step's outputs; returns a problem that fails the job, or nil.
    func publish(step: Step) async -> String? {
        guard !step.outputs.isEmpty else { return nil }
        let publisher = ResultPublisher(workspace: layout.workspace(id), results: layout.folder(id).results,
                                        maxBytes: settings.maxResultSize)
        do {
            let previous = status.results
            let (report, all) = try await AsUser.run(identity) { () throws -> (PublishReport, [ResultFile]) in
                let report = try publisher.publish(patterns: step.outputs)
                var byPath: [String: ResultFile] = [:]
                for r in previous { byPath[r.path] = r }
                for r in report.files { byPath[r.path] = r }
                let all = byPath.keys.sorted().map { byPath[$0]! }
                try publisher.writeChecksums(all)
                return (report, all)
            }
            status.results = all
            for warning in report.warnings + report.unmatched.map({ "output pattern \($0) matched no file" }) {
                JobRunner.event(layout, id, JobEvent(event: "results_warning", state: .running, step: step.name, message: warning))
            }
            return nil
        } catch {
            return "publishing the results of step \(step.name) failed: \(error)"
        }
    }
}
