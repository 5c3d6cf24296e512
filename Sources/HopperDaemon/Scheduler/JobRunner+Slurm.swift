// JobRunner+Slurm — a step of an `executor: slurm` job: handed to SlurmExecutor, with the
// job's status following SLURM's view of it.
//
// status.json: the job and the step are `queued` while SLURM says PENDING and `running` once it
// says RUNNING; `executor` is `{"kind": "slurm", "id": "<SLURM job id>"}` (the current or last
// attempt's job) and the step's `detail` says e.g. "SLURM job 42 PENDING (Resources)". The id is
// also in the workspace (`.hopper/<step>.<attempt>.slurm-id`), which is what a restarted daemon
// re-adopts by. A Snakemake step (the whole Snakemake run is one SLURM job) still gets its
// progress from its log, which SLURM appends to.
import HopperCore
import HopperExec
import Synchronization

extension JobRunner {
    /// The SLURM executor when this job runs on SLURM.
    func slurmExecutor(for status: JobStatus) -> SlurmExecutor? {
        guard status.executor.kind == ExecutorKind.slurm.rawValue else { return nil }
        return settings.slurm
    }

    /// Runs (or re-adopts) one attempt on SLURM; `status` comes back with the SLURM id and the
    /// job `running` again (the attempt's end is recorded by the caller).
    func runOnSlurm(_ slurm: SlurmExecutor, launch: StepLaunch, step: Step, manifest: JobManifest,
                    workspace: PreparedWorkspace, status: inout JobStatus, index: Int) async -> StepOutcome {
        var launch = launch
        launch.user = identity     // run_as: owner: sbatch as the owner, so SLURM runs the job as them
        let request = slurm.request(job: id, step: step, manifest: manifest, queue: status.queue, timeout: launch.timeout)
        let live = LiveStatus(status)
        let attempt = launch.attempt
        let params = manifest.params
        let tail = progressTail(step: step, live: live, index: index, logPath: launch.logPath)
        let (outcome, slurmID) = await slurm.run(launch, request: request, command: { [self] in
            await command(for: step, workspace: workspace, attempt: attempt, params: params)
        }, update: { [self] update in
            await applySlurm(update, live: live, index: index)
        })
        tail?.cancel()
        await tail?.value
        if case .snakemake = step.kind { await keepSnakemakeLog(step: step.name, workspace: workspace.path) }
        status = live.value.withLock { $0 }
        if let slurmID { status.executor.id = slurmID }
        status.state = .running
        if status.steps[index].state == .queued { status.steps[index].state = .running }
        return outcome
    }

    func applySlurm(_ update: SlurmUpdate, live: LiveStatus, index: Int) async {
        var event: JobEvent?
        var storeState: JobState?
        let snapshot: JobStatus = live.value.withLock { s in
            switch update {
            case .submitted(let slurmID):
                s.executor.id = slurmID
                if s.state != .queued { storeState = .queued }
                s.state = .queued
                s.steps[index].state = .queued
                s.steps[index].detail = "SLURM job \(slurmID) submitted"
                event = JobEvent(event: "slurm_submitted", state: .queued, step: s.steps[index].name, message: "SLURM job \(slurmID)")
            case .phase(let phase, let slurmID, let detail):
                s.executor.id = slurmID
                s.steps[index].detail = detail
                if phase == .running && s.state != .running {
                    s.state = .running
                    s.steps[index].state = .running
                    storeState = .running
                    event = JobEvent(event: "slurm_running", state: .running, step: s.steps[index].name, message: detail)
                } else if phase == .queued && s.state != .queued {
                    s.state = .queued
                    s.steps[index].state = .queued
                    storeState = .queued
                }
            case .note(let note):
                s.steps[index].detail = note
                event = JobEvent(event: "slurm_note", state: s.state, step: s.steps[index].name, message: note)
            }
            return s
        }
        if let storeState { storeSetState(storeState) }
        await save(snapshot, event: event)
        if case .note(let note) = update { logger.warning("slurm.note", metadata: ["message": "\(note)"]) }
    }
}

/// The status a running step's updates go into: for a SLURM step shared by its poll rounds'
/// updates and the Snakemake progress tail; for a local step, the progress tail's alone.
final class LiveStatus: Sendable {
    let value: Mutex<JobStatus>
    init(_ status: JobStatus) { value = Mutex(status) }
}
