// wait_for — a job held back until an instrument has finished writing (SPEC §3).
//
//   wait_for: {paths: [/nfs/seq/run42/CopyComplete.txt], timeout: 12h, stable_for: 30s}
//
// A job with `wait_for` does not take a slot while it waits. The scheduler keeps it in a wait
// list and looks at every listed path each `poll_interval` (stat(2) only: this works the same on
// NFS, where inotify sees nothing). A path counts once it exists and, with `stable_for`, its size
// and mtime have not changed for that long. When all count, the job goes to `pending` and is
// scheduled like any other; when `timeout` (counted from submission) passes first, it fails with
// the paths still missing. While it waits, status.json says `waiting` and lists those paths in
// `waiting_for`. A job whose paths are all there at once never shows `waiting`.
//
// Relative paths are resolved against the spool root, as inputs are.
import HopperCore
import HopperExec
import HopperStore
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// What the wait list remembers about a path between two looks.
struct SeenPath: Sendable, Equatable {
    var size: Int64
    var mtime: Int64
    /// When this size and mtime were first seen.
    var since: Double
}

struct WaitEntry: Sendable {
    var job: QueuedJob
    let wait: WaitFor
    /// Submission time: `timeout` counts from here (it survives daemon restarts).
    let since: Double
    var seen: [String: SeenPath] = [:]
    /// Whether status.json already says `waiting`.
    var marked: Bool
    var pending: [String] = []
}

enum WaitVerdict: Sendable, Equatable {
    case ready
    case waiting(pending: [String])
    case timedOut(message: String)
}

enum WaitProbe {
    /// Looks at every path of `entry`; returns the verdict and what was seen.
    static func check(_ entry: WaitEntry, root: String, now: Double) -> (WaitVerdict, [String: SeenPath]) {
        var seen: [String: SeenPath] = [:]
        var missing: [String] = []
        var changing: [String] = []
        let stable = entry.wait.stableFor?.seconds ?? 0
        for path in entry.wait.paths {
            var st = stat()
            guard stat(FileOps.resolve(path, against: root), &st) == 0 else {
                missing.append(path)
                continue
            }
            let size = Int64(st.st_size)
            let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            var now_seen = SeenPath(size: size, mtime: mtime, since: now)
            if let before = entry.seen[path], before.size == size, before.mtime == mtime { now_seen.since = before.since }
            seen[path] = now_seen
            if stable > 0 && now - now_seen.since < stable { changing.append(path) }
        }
        if missing.isEmpty && changing.isEmpty { return (.ready, seen) }
        if let timeout = entry.wait.timeout, now - entry.since >= timeout.seconds {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("still missing: " + missing.joined(separator: ", ")) }
            if !changing.isEmpty { parts.append("not yet unchanged for \(entry.wait.stableFor!.text): " + changing.joined(separator: ", ")) }
            return (.timedOut(message: "wait_for timed out after \(timeout.text) (" + parts.joined(separator: "; ") + ")"), seen)
        }
        return (.waiting(pending: missing + changing), seen)
    }
}

extension Scheduler {
    /// Holds a job back until its `wait_for` paths are there. `marked`: status.json already says waiting.
    func holdForWait(_ job: QueuedJob, wait: WaitFor, submittedAt: String, marked: Bool) {
        let since = Timestamp.parse(submittedAt) ?? Timestamp.now()
        waitList[job.id] = WaitEntry(job: job, wait: wait, since: since, marked: marked)
    }

    /// One look at every waiting job (WaitForService calls it each `poll_interval`).
    func checkWaiting() async {
        guard !waitList.isEmpty else { return }
        let entries = Array(waitList.values)
        let root = layout.root
        let results = await BlockingIO.run { () -> [(String, WaitVerdict, [String: SeenPath])] in
            let now = Timestamp.now()
            return entries.map { entry in
                let (verdict, seen) = WaitProbe.check(entry, root: root, now: now)
                return (entry.job.id, verdict, seen)
            }
        }
        for (id, verdict, seen) in results {
            guard var entry = waitList[id] else { continue }   // cancelled meanwhile
            entry.seen = seen
            switch verdict {
            case .ready:
                waitList[id] = nil
                if entry.marked {
                    releaseWaiting(id)
                    initials[id] = nil   // status.json changed since acceptance: the runner reads it
                }
                logger.info("job.wait_over", metadata: ["job.id": "\(id)"])
                requeueAfterWait(entry.job)
            case .timedOut(let message):
                waitList[id] = nil
                initials[id] = nil
                failWaiting(id, message: message)
                logger.notice("job.wait_timeout", metadata: ["job.id": "\(id)", "reason": "\(message)"])
            case .waiting(let pending):
                if !entry.marked || pending != entry.pending { markWaiting(id, pending: pending, first: !entry.marked) }
                entry.marked = true
                entry.pending = pending
                waitList[id] = entry
            }
        }
    }

    /// Drops a job from the wait list (cancel). Returns whether it was there.
    func stopWaiting(_ id: String) -> Bool {
        waitList.removeValue(forKey: id) != nil
    }

    private func markWaiting(_ id: String, pending: [String], first: Bool) {
        guard var status = JobRunner.readStatus(layout, id), !status.state.isTerminal else { return }
        guard JobRunner.apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.wait(for: pending) }) else { return }
        JobRunner.write(layout, status, logger: logger)
        if first {
            JobRunner.event(layout, id, JobEvent(event: "waiting", state: .waiting, message: "waiting for " + pending.joined(separator: ", ")), logger: logger)
            JobRunner.setState(store, id, .waiting, logger: logger)
            logger.info("job.waiting", metadata: ["job.id": "\(id)", "wait.paths": "\(pending.joined(separator: ","))"])
        }
    }

    private func releaseWaiting(_ id: String) {
        guard var status = JobRunner.readStatus(layout, id), !status.state.isTerminal else { return }
        guard JobRunner.apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in try s.waitOver() }) else { return }
        JobRunner.write(layout, status, logger: logger)
        JobRunner.event(layout, id, JobEvent(event: "wait_over", state: .pending, message: "every wait_for path is there"), logger: logger)
        JobRunner.setState(store, id, .pending, logger: logger)
    }

    private func failWaiting(_ id: String, message: String) {
        guard var status = JobRunner.readStatus(layout, id), !status.state.isTerminal else { return }
        let now = Timestamp.rfc3339()
        guard JobRunner.apply(&status, logger: logger, { (s: inout JobStatus) throws(TransitionError) in
            try s.failBeforeStart(message, skipDetail: "not run: wait_for timed out", at: now)
        }) else { return }
        JobRunner.keepProvenance(status, layout: layout, store: store, logger: logger)
        JobRunner.write(layout, status, logger: logger)
        JobRunner.event(layout, id, JobEvent(event: "failed", state: .failed, message: message), durable: true, logger: logger)
        JobRunner.setState(store, id, .failed, logger: logger)
        notifyFinished(id)
    }
}

/// Looks at the `wait_for` paths of the waiting jobs every `interval` seconds, as a Service in
/// the daemon's group (it ends with the group's graceful shutdown).
struct WaitForService: Service {
    let scheduler: Scheduler
    let interval: Double

    func run() async {
        let pause = Duration.milliseconds(Int64(interval * 1000))
        let scheduler = self.scheduler
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await scheduler.checkWaiting()
                await scheduler.checkDependencies()
                try? await Task.sleep(for: pause)   // silent: cancelled means the daemon is stopping
            }
        }
    }
}
