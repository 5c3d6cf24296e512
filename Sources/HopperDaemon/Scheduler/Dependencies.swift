// Dependencies — jobs held back by `after:` until the jobs or groups they name have ended.
//
//   after: [demux-run42]     # start when it completed (a group: when all its children did)
//   after_mode: any          # start when every one ended, however
//
// A job with `after:` takes no slot while it waits: the scheduler keeps it here, status.json
// says `waiting` and `waiting_for` names each dependency not done, with its state
// ("after demux-run42 (running)"). It is looked at when any job ends and each poll_interval.
// With `after_mode: all` (the default), a dependency that failed or was cancelled cancels the
// job at once ("dependency demux-run42 failed"): it never waits forever; the cancel of one
// job reaches the jobs that wait for it in the same pass. When every dependency is done, the
// job's `wait_for` (if any) is honoured next, then it is pending like any other.
import HopperCore
import HopperExec
import HopperStore
import Logging

struct BlockedEntry: Sendable {
    var job: QueuedJob
    let after: [String]
    let mode: AfterMode
    let waitFor: WaitFor?
    let submittedAt: String
    /// Whether status.json already says `waiting` (and with which reasons).
    var marked: Bool
    var reasons: [String] = []
}

enum DependencyVerdict: Sendable, Equatable {
    case ready
    case waiting([String])
    case cancel(String)
}

extension Scheduler {
    /// Holds a job back until the jobs and groups it names are done.
    func holdForDependencies(_ job: QueuedJob, manifest: JobManifest, submittedAt: String, marked: Bool) {
        guard let after = manifest.after, !after.isEmpty else { return }
        blocked[job.id] = BlockedEntry(job: job, after: after, mode: manifest.afterMode ?? .all, waitFor: manifest.waitFor,
                                       submittedAt: submittedAt, marked: marked)
    }

    /// Looks at every blocked job's dependencies; repeats while a pass cancelled a job (its
    /// own dependants are decided in the next pass).
    func checkDependencies() {
        var passes = 0
        while !blocked.isEmpty && passes < 100 {
            passes += 1
            guard let cancelled = dependencyPass(), cancelled > 0 else { break }
        }
    }

    /// One pass; returns how many jobs it cancelled, nil when the store could not be read.
    private func dependencyPass() -> Int? {
        var names = Set<String>()
        for entry in blocked.values { names.formUnion(entry.after) }
        let ids = Array(names)
        guard let jobs = store.logged("states", logger: logger, { try $0.states(of: ids) }) else { return nil }
        let groupIDs = ids.filter { jobs[$0] == nil }
        guard let counts = store.logged("group counts", logger: logger, { try $0.groupCounts(groupIDs) }) else { return nil }
        var states: [String: JobState] = [:]
        for (id, job) in jobs { states[id] = job.state }
        for (id, c) in counts { states[id] = GroupStatus.state(of: c) }
        var cancelled = 0
        for (id, entry) in blocked {
            switch DependencyRules.verdict(entry, states: states, groups: Set(counts.keys)) {
            case .ready:
                blocked[id] = nil
                dependenciesDone(entry)
            case .cancel(let message):
                blocked[id] = nil
                initials[id] = nil
                cancelForDependency(id, message: message)
                cancelled += 1
            case .waiting(let reasons):
                guard var e = blocked[id], !e.marked || e.reasons != reasons else { continue }
                markBlocked(id, reasons: reasons, first: !e.marked)
                e.marked = true
                e.reasons = reasons
                blocked[id] = e
            }
        }
        return cancelled
    }

    private func dependenciesDone(_ entry: BlockedEntry) {
        let id = entry.job.id
        if entry.marked, var status = JobRunner.readStatus(layout, id), !status.state.isTerminal {
            if JobRunner.apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.waitOver() }) {
                JobRunner.write(layout, status, logger: logger)
                JobRunner.event(layout, id, JobEvent(event: "dependencies_done", state: .pending,
                                                     message: "every job it waits for ended: " + entry.after.joined(separator: ", ")), logger: logger)
                JobRunner.setState(store, id, .pending, logger: logger)
            }
            initials[id] = nil   // status.json changed since acceptance: the runner reads it
        }
        logger.info("job.dependencies_done", metadata: ["job.id": "\(id)"])
        if let wait = entry.waitFor {
            holdForWait(entry.job, wait: wait, submittedAt: entry.submittedAt, marked: false)
        } else {
            requeueAfterWait(entry.job)
        }
    }

    private func markBlocked(_ id: String, reasons: [String], first: Bool) {
        guard var status = JobRunner.readStatus(layout, id), !status.state.isTerminal else { return }
        guard JobRunner.apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.wait(for: reasons) }) else { return }
        JobRunner.write(layout, status, logger: logger)
        if first {
            JobRunner.event(layout, id, JobEvent(event: "waiting", state: .waiting, message: "waiting: " + reasons.joined(separator: ", ")), logger: logger)
            JobRunner.setState(store, id, .waiting, logger: logger)
        }
    }

    private func cancelForDependency(_ id: String, message: String) {
        guard var status = JobRunner.readStatus(layout, id), !status.state.isTerminal else { return }
        let now = Timestamp.rfc3339()
        guard JobRunner.apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.cancelBeforeStart(at: now) }) else { return }
        status.error = JobErrorInfo(step: nil, message: message, exitCode: nil)
        for i in status.steps.indices where status.steps[i].state == .skipped { status.steps[i].detail = "not run: " + message }
        JobRunner.write(layout, status, logger: logger)
        JobRunner.event(layout, id, JobEvent(event: "cancelled", state: .cancelled, message: message), durable: true, logger: logger)
        JobRunner.setState(store, id, .cancelled, logger: logger)
        logger.notice("job.dependency_failed", metadata: ["job.id": "\(id)", "reason": "\(message)"])
        notifyFinished(id)
    }

    /// Drops a job from the blocked list (cancel). Returns whether it was there.
    func stopBlocking(_ id: String) -> Bool {
        blocked.removeValue(forKey: id) != nil
    }
}

enum DependencyRules {
    static func verdict(_ entry: BlockedEntry, states: [String: JobState], groups: Set<String>) -> DependencyVerdict {
        var reasons: [String] = []
        for dep in entry.after {
            let kind = groups.contains(dep) ? "group" : "job"
            guard let state = states[dep] else {
                if entry.mode == .any { continue }
                return .cancel("dependency \(dep) does not exist any more")
            }
            switch state {
            case .completed:
                continue
            case .failed, .cancelled:
                if entry.mode == .any { continue }
                let verb = state == .failed ? "failed" : "was cancelled"
                return .cancel("dependency \(dep) \(verb)")
            default:
                reasons.append("after \(kind) \(dep) (\(state.rawValue))")
            }
        }
        return reasons.isEmpty ? .ready : .waiting(reasons)
    }
}
