// Retention — finished jobs' workspaces and outbox entries removed after the configured time.
//
//   retention: {workspaces: 7d, outbox: 90d, interval: 1h}    # `never` keeps
//
// Each `interval` the RetentionService asks the store for finished jobs whose last change is
// older than the limit. For each, the scheduler (so that a retry or rerun arriving at the same
// moment is not raced) writes an event, then renames the folder aside (`.expired-<id>`, one
// rename: a reader sees the whole entry or none); the service deletes the renamed trees off the
// scheduler. The store row of a job whose outbox entry went stays, marked, so its id is still
// taken and a re-drop of the same manifest is refused as a duplicate rather than run again.
// SLURM job arrays' folders (`runs/.slurm-arrays/`) that no task needs go at each pass too.
import HopperCore
import HopperExec
import HopperStore
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

extension Scheduler {
    /// Jobs looked at in one batch.
    static let expiryBatch = 1000

    /// Renames aside what has expired, one batch of jobs; returns the paths to delete, and
    /// whether the batch was full (more may be due).
    func expire(_ what: JobStore.Expiry, olderThan limit: DurationValue, now: Double) -> (doomed: [String], full: Bool) {
        let cutoff = Timestamp.rfc3339(now - limit.seconds)
        let batch = Self.expiryBatch
        guard let ids = store.logged("expiryCandidates", logger: logger, { try $0.expiryCandidates(what, before: cutoff, limit: batch) }) else {
            return ([], false)
        }
        var doomed: [String] = []
        var marked = 0
        for id in ids where running[id] == nil && !queue.contains(id) && waitList[id] == nil {
            let path = what == .workspace ? layout.workspace(id) : layout.job(id)
            let noun = what == .workspace ? "workspace" : "outbox entry"
            if FileOps.exists(path) {
                JobRunner.event(layout, id, JobEvent(event: what == .workspace ? "workspace_expired" : "outbox_expired", state: nil,
                                                     message: "retention: the \(noun) is removed \(limit.text) after the job ended"),
                                durable: what == .outbox)
                let aside = FileOps.split(path).0 + "/.expired-" + id
                do {
                    if FileOps.exists(aside) { try FileOps.rename(aside, aside + "-\(Int(now))") }
                    try FileOps.rename(path, aside)
                    doomed.append(aside)
                } catch {
                    logger.warning("retention.failed", metadata: ["job.id": "\(id)", "path": "\(path)", "error": "\(error)"])
                    continue
                }
            }
            if store.logged("markExpired", job: id, logger: logger, { try $0.markExpired(id: id, what) }) != nil { marked += 1 }
            logger.info("job.expired", metadata: ["job.id": "\(id)", "retention.what": "\(noun)", "retention.after": "\(limit.text)"])
        }
        // Full and moving: a store that takes no marks would hand out the same batch forever.
        return (doomed, ids.count >= batch && marked > 0)
    }
}

public final class RetentionService: Service {
    let scheduler: Scheduler
    let layout: SpoolLayout
    let retention: Retention
    let logger: Logger

    public init(scheduler: Scheduler, layout: SpoolLayout, retention: Retention, logger: Logger) {
        self.scheduler = scheduler; self.layout = layout; self.retention = retention; self.logger = logger
    }

    public func run() async throws {
        // Trees a previous daemon renamed aside but did not finish deleting.
        var leftovers: [String] = []
        for dir in [layout.workspaces, layout.outbox] {
            // silent: leftovers are looked for again at the next start.
            for name in (try? FileOps.listDirectory(dir)) ?? [] where name.hasPrefix(".expired-") { leftovers.append(dir + "/" + name) }
        }
        await remove(leftovers)
        sweepArrays()
        guard retention.workspaces != nil || retention.outbox != nil else { return }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await pass()
            // silent: the sleep ends early on shutdown, which the loop condition sees.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.retention.interval.duration) }
        }
    }

    /// One look for expired jobs (also called by tests through the service's loop): batch
    /// after batch until none is full, so that retention keeps up with any rate of jobs (one
    /// batch per interval had removed at most 1,000 jobs an hour with the default interval).
    func pass() async {
        var more = true
        while more && !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = Timestamp.now()
            var doomed: [String] = []
            more = false
            if let limit = retention.workspaces {
                let r = await scheduler.expire(.workspace, olderThan: limit, now: now)
                doomed += r.doomed
                more = more || r.full
            }
            if let limit = retention.outbox {
                let r = await scheduler.expire(.outbox, olderThan: limit, now: now)
                doomed += r.doomed
                more = more || r.full
            }
            await remove(doomed)
        }
        sweepArrays()
    }

    /// SLURM job arrays' folders that no task needs any more (left by a daemon that stopped
    /// while an array ran; otherwise the last task's return removes its folder).
    func sweepArrays() {
        let n = SlurmArrayFolder.sweep(workspaces: layout.workspaces)
        if n > 0 { logger.info("retention.slurm_arrays_removed", metadata: ["count": "\(n)"]) }
    }

    func remove(_ paths: [String]) async {
        guard !paths.isEmpty else { return }
        let logger = self.logger
        for path in paths {
            do { try await AsUser.removeTree(path) } catch {
                logger.warning("retention.remove_failed", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
    }
}
