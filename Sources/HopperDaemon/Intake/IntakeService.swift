// IntakeService — feeds the watcher's candidates to the Intake, one batch at a time, on a
// dedicated thread (the intake blocks in fsync; it must not hold a cooperative-pool thread);
// hands accepted jobs and control requests to the Scheduler.
import Dispatch
import HopperCore
import HopperStore
import HopperWatch
import Logging
import ServiceLifecycle
import Synchronization

/// Counters the heartbeat reads while the intake runs, and the entries it could not move.
public final class IntakeStats: Sendable {
    private let counts = Mutex(IntakeCounts())
    private let stuck = Mutex<[String: String]>([:])
    public init() {}

    /// Entries rejected but left in the inbox (path → why), as the intake last reported them.
    public func setStuck(_ entries: [String: String]) { stuck.withLock { $0 = entries } }

    /// The stuck entries still there, sorted by path (one lstat each: few, and rare).
    public var stuckEntries: [(path: String, message: String)] {
        // silent: an entry that cannot be examined any more is not reported as stuck.
        stuck.withLock { $0 }.filter { (try? FileOps.lstat($0.key)).flatMap { $0 } != nil }
            .map { (path: $0.key, message: $0.value) }.sorted { $0.path < $1.path }
    }

    public func add(_ c: IntakeCounts) {
        counts.withLock { $0.accepted += c.accepted; $0.rejected += c.rejected; $0.vanished += c.vanished; $0.deferred += c.deferred }
    }
    public var snapshot: IntakeCounts { counts.withLock { $0 } }
}

/// The Intake is not thread-safe; this box confines it to one serial queue.
final class IntakeWorker: @unchecked Sendable {
    private let intake: Intake
    private let queue = DispatchQueue(label: "hopper.intake")
    init(_ intake: Intake) { self.intake = intake }

    func process(_ batch: [DropCandidate]) async -> IntakeBatch {
        await withCheckedContinuation { cont in
            queue.async { cont.resume(returning: self.intake.process(batch)) }
        }
    }

    func settle(_ drop: ControlDrop, refusal: String?) async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            queue.async { self.intake.settle(drop, refusal: refusal); cont.resume() }
        }
    }
}

public final class IntakeService: Service {
    let watcher: InboxWatcher
    let worker: IntakeWorker
    let scheduler: Scheduler
    let stats: IntakeStats
    let diskGuard: DiskGuard?
    let store: JobStore
    let logger: Logger

    public init(watcher: InboxWatcher, intake: Intake, scheduler: Scheduler, stats: IntakeStats, diskGuard: DiskGuard? = nil, logger: Logger) {
        self.diskGuard = diskGuard
        self.watcher = watcher
        self.worker = IntakeWorker(intake)
        self.store = intake.store
        self.scheduler = scheduler
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        let stream = watcher.batches  // the daemon started the watcher before the services
        await withGracefulShutdownHandler {
            for await batch in stream {
                // Short of space: the files stay in the inbox; the rescan at resumption takes them.
                if let diskGuard {
                    if diskGuard.check() { watcher.rescanNow() }
                    if diskGuard.paused { continue }
                }
                // A store that fails (read-only, full, corrupt): nothing is taken in; the
                // heartbeat probes it and scans the inboxes again once it works.
                if store.problem != nil { continue }
                let result = await worker.process(batch)
                stats.add(result.counts)
                if let stuck = result.stuck { stats.setStuck(stuck) }
                if !result.accepted.isEmpty { await scheduler.submitted(result.accepted) }
                // A request is acted on first, then its file moved: a crash in between leaves it
                // in the inbox, where it is examined again (and refused if it no longer applies).
                for drop in result.controls {
                    let refusal = await scheduler.apply(drop)
                    if let refusal {
                        logger.notice("request.refused", metadata: ["job.id": "\(drop.request.job)", "request.action": "\(drop.request.action.rawValue)", "reason": "\(refusal)"])
                    }
                    await worker.settle(drop, refusal: refusal)
                }
                if result.counts.deferred > 0 { watcher.rescanNow() }
            }
        } onGracefulShutdown: { [watcher] in
            watcher.stop()
        }
        await scheduler.stop()
        logger.info("intake.stopped")
    }
}
