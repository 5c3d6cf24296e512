// JobRunner+Control — status changes of jobs that are not running: cancel before start,
// retry and rerun, clean; and the helpers they share with running jobs.
import HopperCore
import HopperExec
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension JobRunner {
    // MARK: - Shared helpers (also for jobs that are not running)

    static func progress(_ status: JobStatus) -> Double { status.computedProgress }

    static func readStatus(_ layout: SpoolLayout, _ id: String) -> JobStatus? { layout.folder(id).readStatus() }

    /// Appends to events.jsonl. The history is best effort: status.json is the record, so a
    /// failed append is logged and the job goes on.
    static func event(_ layout: SpoolLayout, _ id: String, _ event: JobEvent, durable: Bool = false, logger: Logger? = nil) {
        do { try layout.folder(id).appendEvent(event, durable ? .durable : .atomic) } catch {
            (logger ?? Logger(label: "hopper")).warning("events.append_failed", metadata: ["job.id": "\(id)", "event": "\(event.event)", "error": "\(error)"])
        }
    }

    /// Replaces status.json durably (written, fsynced, renamed: never a rename ahead of its bytes).
    static func write(_ layout: SpoolLayout, _ status: JobStatus, logger: Logger) {
        do { try layout.folder(status.id).writeStatus(status, .durable) } catch {
            logger.error("status.write_failed", metadata: ["job.id": "\(status.id)", "error": "\(error)"])
        }
    }

    static func setState(_ store: JobStore, _ id: String, _ state: JobState, logger: Logger) {
        _ = store.logged("setState \(state.rawValue)", job: id, logger: logger) { try $0.setState(id: id, state: state) }
    }

    /// A pending job cancelled before it started: it never starts.
    static func cancelPending(id: String, layout: SpoolLayout, store: JobStore, by user: String, logger: Logger) {
        guard var status = readStatus(layout, id) else { return }
        event(layout, id, JobEvent(event: "request", state: nil, message: "cancel: accepted by \(user)"), logger: logger)
        let now = Timestamp.rfc3339()
        guard apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.cancelBeforeStart(at: now) }) else { return }
        keepProvenance(status, layout: layout, store: store, logger: logger)
        write(layout, status, logger: logger)
        event(layout, id, JobEvent(event: "cancelled", state: .cancelled, message: "cancelled by \(user) before it started"), durable: true, logger: logger)
        setState(store, id, .cancelled, logger: logger)
    }

    /// retry (steps nil: every unfinished step) or rerun (steps: these, or all when empty):
    /// the steps go back to pending (their attempts stay in the history), the job to pending.
    /// Returns the marker files to create (`.hopper/<step>.rerun`, with the job owner's rights).
    @discardableResult
    static func requeue(id: String, layout: SpoolLayout, store: JobStore, steps: [String]?, action: ControlAction, by user: String, logger: Logger) -> [String] {
        var markers: [String] = []
        guard var status = readStatus(layout, id) else { return markers }
        guard apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.requeue(action, steps: steps) }) else {
            return markers
        }
        if action == .rerun {
            // Marks for the runner: these steps' Snakemake runs are forced (--forceall).
            let workspace = layout.jobWorkspace(id)
            for step in status.steps where steps.map({ $0.isEmpty || $0.contains(step.name) }) ?? false {
                markers.append(workspace.rerunMarker(step: step.name))
            }
        }
        let which = steps.map { $0.isEmpty ? "all steps" : $0.joined(separator: ", ") } ?? "from the first unfinished step"
        event(layout, id, JobEvent(event: "request", state: .pending, message: "\(action.rawValue): accepted by \(user) (\(which))"), logger: logger)
        write(layout, status, logger: logger)
        dropCrate(layout, id, logger: logger)
        setState(store, id, .pending, logger: logger)
        return markers
    }

    /// Removes the workspace of a finished job; the outbox stays.
    static func clean(id: String, layout: SpoolLayout, by user: String, logger: Logger) async {
        let path = layout.workspace(id)
        let existed = FileOps.exists(path)
        do {
            try await AsUser.removeTree(path)
            event(layout, id, JobEvent(event: "request", state: nil,
                                       message: "clean: accepted by \(user); " + (existed ? "workspace removed" : "there was no workspace")))
        } catch {
            event(layout, id, JobEvent(event: "request", state: nil, message: "clean: accepted by \(user); removing the workspace failed: \(error)"))
        }
    }
}
