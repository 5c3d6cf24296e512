// JobRunner+Slurm — a step in a cluster's hands (`executor: slurm`): the job's status follows
// SLURM's view of it, as the executor reports it (StepUpdate).
//
// status.json: the job and the step are `queued` while SLURM says PENDING and `running` once it
// says RUNNING; `executor` is `{"kind": "slurm", "id": "<SLURM job id>"}` (the current or last
// attempt's job) and the step's `detail` says e.g. "SLURM job 42 PENDING (Resources)". The id is
// also in the workspace (`.hopper/<step>.<attempt>.slurm-id`), which is what a restarted daemon
// re-adopts by. A Snakemake step (the whole Snakemake run is one SLURM job) still gets its
// progress from its log, which SLURM appends to.
import HopperCore
import HopperExec

extension JobRunner {
    /// An executor's report on the running attempt of step `index`.
    func apply(_ update: StepUpdate, index: Int) async {
        var event: JobEvent?
        var storeState: JobState?
        switch update {
        case .submitted(let slurmID):
            status.executor.id = slurmID
            if status.state != .queued { storeState = .queued }
            status.state = .queued
            status.steps[index].state = .queued
            status.steps[index].detail = "SLURM job \(slurmID) submitted"
            event = JobEvent(event: "slurm_submitted", state: .queued, step: status.steps[index].name, message: "SLURM job \(slurmID)")
        case .phase(let phase, let slurmID, let detail):
            status.executor.id = slurmID
            status.steps[index].detail = detail
            if phase == .running && status.state != .running {
                status.state = .running
                status.steps[index].state = .running
                storeState = .running
                event = JobEvent(event: "slurm_running", state: .running, step: status.steps[index].name, message: detail)
            } else if phase == .queued && status.state != .queued {
                status.state = .queued
                status.steps[index].state = .queued
                storeState = .queued
            }
        case .note(let note):
            status.steps[index].detail = note
            event = JobEvent(event: "slurm_note", state: status.state, step: status.steps[index].name, message: note)
            logger.warning("slurm.note", metadata: ["message": "\(note)"])
        }
        if let storeState { storeSetState(storeState) }
        await save(event: event)
    }
}
