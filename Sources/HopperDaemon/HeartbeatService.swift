// HeartbeatService — writes `system/status.json` every few seconds (SPEC §6), atomically.
import CHopperSys
import HopperCore
import HopperStore
import HopperWatch
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The settings the daemon runs with, recorded in every heartbeat so that the CLI finds them.
public struct RunningSettings: Sendable {
    /// The config file (absolute), nil when the daemon runs on defaults.
    public var config: String?
    /// The workflow directory (absolute), nil when there is none.
    public var workflows: String?
    /// The Snakemake executable (absolute), nil when none was found.
    public var snakemake: String?
    public init(config: String?, workflows: String?, snakemake: String?) {
        self.config = config.map(FileOps.absolute)
        self.workflows = workflows.map(FileOps.absolute)
        self.snakemake = snakemake.map(FileOps.absolute)
    }
}

public final class HeartbeatService: Service {
    let layout: SpoolLayout
    let running: RunningSettings
    let store: JobStore
    let watcher: InboxWatcher
    let stats: IntakeStats
    let interval: Duration
    let startedAt = Timestamp.rfc3339()
    let notifier: SystemdNotifier
    let metrics: Metrics
    let diskGuard: DiskGuard?
    let reload: ReloadFlag?
    let turns: OwnerTurns?
    /// The `.error.json` beside each problem in the inbox (ProblemNotes).
    let notes: ProblemNotes
    let logger: Logger
    private let storeFailing = Mutex(false)

    public init(layout: SpoolLayout, running: RunningSettings, store: JobStore, watcher: InboxWatcher, stats: IntakeStats,
                interval: Duration, notifier: SystemdNotifier, metrics: Metrics, diskGuard: DiskGuard? = nil,
                reload: ReloadFlag? = nil, turns: OwnerTurns? = nil, logger: Logger) {
        self.running = running
        self.turns = turns
        self.notes = ProblemNotes(layout: layout, logger: logger)
        self.diskGuard = diskGuard
        self.reload = reload
        self.layout = layout; self.store = store; self.watcher = watcher; self.stats = stats
        self.notifier = notifier; self.metrics = metrics; self.logger = logger
        // Ping the watchdog at least twice per WatchdogSec.
        if let w = notifier.watchdogInterval, w < Double(interval.components.seconds) {
            self.interval = .milliseconds(Int64(max(0.1, w) * 1000))
        } else {
            self.interval = interval
        }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let status = write(state: "running")
            notifier.watchdog(status: Self.summary(status))
            // The free pages of every malloc arena back to the kernel: what a burst (a spool
            // page of 1,000 jobs, a group's 10,000 rows) freed stops counting in the RSS.
            hopper_malloc_trim()
            // silent: the sleep ends early on shutdown, which the loop condition sees.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
        if reload?.requested == true {
            write(state: "reloading")   // the re-executed daemon writes `running` within a second
        } else {
            notifier.stopping()
            write(state: "stopped")
        }
    }

    /// The one-line STATUS= systemd shows: "3 running, 12 pending; 240 accepted, 2 rejected".
    static func summary(_ s: SystemStatus) -> String {
        let running = s.jobs["running"] ?? 0, pending = (s.jobs["pending"] ?? 0) + (s.jobs["queued"] ?? 0)
        return "\(running) running, \(pending) pending; \(s.intake.accepted) accepted, \(s.intake.rejected) rejected since start"
    }

    @discardableResult
    func write(state: String) -> SystemStatus {
        let snapshot = stats.snapshot
        if let diskGuard, diskGuard.check() { watcher.rescanNow() }
        let storeProblem = checkStore()
        var status = SystemStatus(
            pid: getpid(), host: Procfs.hostName(),
            startedAt: startedAt, heartbeatAt: Timestamp.rfc3339(),
            intervalSeconds: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18,
            state: state, spool: layout.root, stateDirectory: layout.state,
            inboxes: watcher.watchModes().map { SystemStatus.Inbox(path: $0.folder, queue: queueName($0.folder), mode: $0.mode.rawValue) },
            intake: .init(paused: diskGuard?.paused ?? false, reason: diskGuard?.reason,
                          accepted: snapshot.accepted, rejected: snapshot.rejected),
            jobs: store.logged("countsByState", logger: logger) { try $0.countsByState() } ?? [:])
        status.config = running.config
        status.workflows = running.workflows
        status.snakemake = running.snakemake
        status.ownerTurns = turns?.order
        status.problems = watcher.problems().map { SystemStatus.Problem(path: $0.path, message: $0.message) }
            + stats.stuckEntries.map { SystemStatus.Problem(path: $0.path, message: $0.message) }
        if state == "running" { notes.update((status.problems ?? []).map { (path: $0.path, message: $0.message) }) }
        if let diskGuard {
            status.disk = diskGuard.volumes
            status.minFreeBytes = diskGuard.minFree
        }
        status.store = SystemStatus.Store(ok: storeProblem == nil, path: store.path, error: storeProblem?.message,
                                          since: storeProblem.map { Timestamp.rfc3339($0.since) })
        if let storeProblem {
            status.intake.paused = true
            status.intake.reason = "the store \(store.path) fails (\(storeProblem.message)): intake is paused, dropped files stay in the inbox until it works again"
        }
        do {
            try FileOps.writeAtomically(layout.heartbeat, try JSON.pretty(status), durable: false)
            let text = metrics.render(jobs: status.jobs, backlog: Metrics.backlog(layout, watcher: watcher), accepted: snapshot.accepted,
                                      rejected: snapshot.rejected, now: Timestamp.now())
            try FileOps.writeAtomically(layout.metrics + "/hopper.prom", Array(text.utf8), durable: false)
        } catch {
            logger.warning("heartbeat.write_failed", metadata: ["error": "\(error)"])
        }
        return status
    }

    /// A store that failed is probed with a write at every beat; the first failure and the
    /// recovery are logged once each, and at recovery the inboxes are scanned again (intake
    /// skipped their files meanwhile). Returns the problem, nil when the store works.
    func checkStore() -> StoreProblem? {
        if store.problem != nil {
            do { try store.probe() } catch {
                // Still failing: the problem (updated by the probe itself) is reported below.
            }
        }
        let problem = store.problem
        let was = storeFailing.withLock { failing -> Bool in
            defer { failing = problem != nil }
            return failing
        }
        if let problem, !was {
            logger.critical("store.failing", metadata: ["path": "\(store.path)", "error": "\(problem.message)",
                                                        "action": "intake paused; dropped files stay in the inbox"])
        } else if problem == nil && was {
            logger.notice("store.recovered", metadata: ["path": "\(store.path)"])
            watcher.rescanNow()
        }
        return problem
    }

    func queueName(_ folder: String) -> String? {
        folder == layout.inbox ? nil : FileOps.split(folder).1
    }
}
