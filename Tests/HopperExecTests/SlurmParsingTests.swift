// The SLURM executor's pure parts, without a cluster: squeue and sacct lines, state mapping,
// sbatch options from resources, the spool tag, the batch script's quoting.
import HopperCore
@testable import HopperExec
import Testing

struct SlurmParsingTests {
    @Test func squeueLinesKeepOnlyThisSpoolsJobsWithTheirExitStatus() {
        let text = """
            41|RUNNING|None|0|41|N/A|hopper:0badcafe:S1:qc:1|
            42|FAILED|NonZeroExitCode|1792|42|N/A|hopper:0badcafe:S1:call:2|
            43|CANCELLED|None|15|43|N/A|hopper:0badcafe:S2:a|b:1|
            44|COMPLETED|None|0|44|N/A|hopper:12345678:S3:a:1|
            45|PENDING|Priority|0|45|N/A|someone else's job|
            """
        let jobs = SlurmJobInfo.parseSqueue(text, commentPrefix: "hopper:0badcafe:")
        #expect(jobs.map(\.id) == ["41", "42", "43"])
        #expect(jobs.map(\.key) == jobs.map(\.comment))
        #expect(jobs[0].phase == .running && jobs[0].exitCode == nil)
        #expect(jobs[1].phase == .ended && jobs[1].exitCode == 7 && jobs[1].signal == 0 && jobs[1].reason == "NonZeroExitCode")
        #expect(jobs[2].comment == "hopper:0badcafe:S2:a|b:1" && jobs[2].exitCode == 0 && jobs[2].signal == 15)
    }

    /// As the test cluster prints them (`squeue -r`): a pending task shows the array's own id,
    /// a started one its own; both are followed as `<array>_<task>`.
    @Test func arrayTasksAreKeyedByTheirIndex() {
        let text = """
            877|PENDING|JobArrayTaskLimit|0|877|3|hopper:0badcafe:g:map:a1|
            880|FAILED|NonZeroExitCode|512|877|2|hopper:0badcafe:g:map:a1|
            """
        let jobs = SlurmJobInfo.parseSqueue(text, commentPrefix: "hopper:0badcafe:")
        #expect(jobs.map(\.id) == ["877_3", "877_2"])
        #expect(jobs.map(\.key) == ["hopper:0badcafe:g:map:a1/3", "hopper:0badcafe:g:map:a1/2"])
        #expect(jobs[0].phase == .queued && jobs[1].exitCode == 2)
    }

    @Test func sacctLinesGiveCodeAndSignal() {
        let jobs = SlurmJobInfo.parseSacct("12|COMPLETED|0:0|hopper:x:J:s:1\n13|CANCELLED by 0|0:15|\n")
        #expect(jobs.count == 2)
        #expect(jobs[0].exitCode == 0 && jobs[0].phase == .ended && jobs[0].comment == "hopper:x:J:s:1")
        #expect(jobs[1].signal == 15 && jobs[1].phase == .ended)
    }

    @Test func statesMapToQueuedRunningEnded() {
        #expect(SlurmPhase(state: "PENDING") == .queued)
        #expect(SlurmPhase(state: "REQUEUE_HOLD") == .queued)
        #expect(SlurmPhase(state: "RUNNING") == .running)
        #expect(SlurmPhase(state: "COMPLETING") == .running)
        #expect(SlurmPhase(state: "CONFIGURING") == .running)
        for s in ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"] {
            #expect(SlurmPhase(state: s) == .ended, "\(s)")
        }
    }

    @Test func outcomesFromSlurmStates() {
        let files = SlurmAttemptFiles(workspace: "/nonexistent", step: "s", attempt: 1)
        var snap = SlurmSnapshot()
        let failed = SlurmExecutor.outcome(SlurmJobInfo(id: "1", state: "FAILED", exitCode: 7, signal: 0), snapshot: snap, files: files)
        #expect(failed.kind == .exited && failed.exitCode == 7)
        let killed = SlurmExecutor.outcome(SlurmJobInfo(id: "1", state: "FAILED", exitCode: 0, signal: 9), snapshot: snap, files: files)
        #expect(killed.kind == .exited && killed.exitCode == nil && killed.signal == 9)
        #expect(SlurmExecutor.outcome(SlurmJobInfo(id: "1", state: "TIMEOUT", exitCode: 0, signal: 15), snapshot: snap, files: files).kind == .timeout)
        #expect(SlurmExecutor.outcome(SlurmJobInfo(id: "1", state: "CANCELLED", exitCode: 0, signal: 15), snapshot: snap, files: files).kind == .lost)
        snap.cancelRequested = true
        #expect(SlurmExecutor.outcome(SlurmJobInfo(id: "1", state: "CANCELLED", exitCode: 0, signal: 15), snapshot: snap, files: files).kind == .cancelled)
        snap.timedOut = true
        #expect(SlurmExecutor.outcome(SlurmJobInfo(id: "1", state: "CANCELLED", exitCode: 0, signal: 15), snapshot: snap, files: files).kind == .timeout)
        let oom = SlurmExecutor.outcome(SlurmJobInfo(id: "9", state: "OUT_OF_MEMORY", exitCode: 0, signal: 9), snapshot: SlurmSnapshot(), files: files)
        #expect(oom.kind == .lost && oom.message == "SLURM job 9 ended OUT_OF_MEMORY" && !oom.succeeded)
    }

    @Test func requestTakesStepOverJobOverQueueOverConfig() throws {
        var config = SlurmConfig()
        config.partition = "cfg-part"
        config.account = "cfg-acct"
        config.qos = "cfg-qos"
        let executor = SlurmExecutor(config: config, queues: [QueueConfig(name: "seq", partition: "q-part", account: "q-acct")],
                                     spoolRoot: "/srv/hopper", supervisor: "/usr/bin/hopper-supervise")
        let step = Step(name: "align", kind: .run(command: "true"), timeout: DurationValue(seconds: 90),
                        resources: Resources(cpus: 4, partition: "step-part"))
        let manifest = JobManifest(resolvedSteps: [step], resources: Resources(cpus: 2, memory: ByteSize(bytes: 3 << 30), time: DurationValue(seconds: 7200)))
        let r = executor.request(job: "S1", step: step, manifest: manifest, queue: "seq", timeout: 90)
        #expect(r.options == ["--partition=step-part", "--account=q-acct", "--qos=cfg-qos", "--cpus-per-task=4", "--mem=3072M", "--time=3"])
        #expect(r.jobName == "S1.align")
        let plain = executor.request(job: "S1", step: Step(name: "x", kind: .snakemake(SnakemakeStep(snakefile: "/S", cores: 8))),
                                     manifest: JobManifest(resolvedSteps: []), queue: "default", timeout: nil)
        #expect(plain.options == ["--partition=cfg-part", "--account=cfg-acct", "--qos=cfg-qos", "--cpus-per-task=8"])
        #expect(executor.comment(job: "S1", step: "x", attempt: 3) == "hopper:\(SlurmExecutor.tag("/srv/hopper")):S1:x:3")
        #expect(SlurmExecutor.tag("/srv/hopper").count == 8 && SlurmExecutor.tag("/srv/hopper") != SlurmExecutor.tag("/srv/hopper2"))
    }

    @Test func sbatchAnswersAndScriptQuoting() {
        #expect(SlurmExecutor.parseSbatch("1234\n") == "1234")
        #expect(SlurmExecutor.parseSbatch("1234;cluster\n") == "1234")
        #expect(SlurmExecutor.parseSbatch("sbatch: error: oops\n") == nil)
        #expect(SlurmBatchScript.quote("/a b/it's") == "'/a b/it'\\''s'")
        #expect(SlurmBatchScript.argvBytes(["bash", "-c", "echo $X"]) == Array("bash\u{0}-c\u{0}echo $X\u{0}".utf8))
    }

    @Test func configSlurmSection() throws {
        let text = "executor: slurm\nslurm:\n  poll_interval: 500ms\n  partition: batch\n  account: lab\n  qos: low\n  bin_dir: slurm/bin\n"
        let config = try HopperConfig.parse(bytes: Array(text.utf8), fileName: "config.yaml", baseDirectory: "/etc/hopper")
        #expect(config.executor == .slurm)
        #expect(config.slurm.pollInterval.seconds == 0.5)
        #expect(config.slurm.partition == "batch" && config.slurm.account == "lab" && config.slurm.qos == "low")
        #expect(config.slurm.binDirectory == "/etc/hopper/slurm/bin")
        #expect(HopperConfig.default.slurm.pollInterval.seconds == 2 && HopperConfig.default.slurm.partition == nil)
        do {
            _ = try HopperConfig.parse(bytes: Array("slurm: {pol_interval: 1s}\n".utf8), fileName: "config.yaml")
            Issue.record("an unknown slurm key was accepted")
        } catch {
            #expect("\(error.diagnostics.map(\.message))".contains("pol_interval"), "\(error.diagnostics)")
        }
    }
}
