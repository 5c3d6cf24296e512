// Daemon — `hopper daemon`: wires the spool, the store, the watcher and the services.
//
// Start-up, in order: create the spool tree; refuse a state directory on a network or FUSE
// filesystem; take the single-daemon lock (`state/daemon.lock`, flock) and the spool lease
// (`system/daemon.lease`: one daemon per spool across hosts, SpoolLease); open the store; run
// Recovery; start the watcher (its first act is a full scan of the inboxes) and the services.
// SIGTERM or SIGINT stops intake and exits (a batch in progress finishes first).
//
// DIAGNOSTICS: one logfmt line per event on stderr; `system/status.json` heartbeat.
import CHopperSys
import HopperCore
import HopperExec
import HopperStore
import HopperWatch
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct DaemonOptions: Sendable {
    public var layout: SpoolLayout
    public var config: HopperConfig
    public var workflowDirectory: String?
    /// The config file the daemon was started with (recorded in the heartbeat for the CLI).
    public var configPath: String?
    public var heartbeatInterval: Duration = .seconds(2)
    /// The step supervisor; default: `hopper-supervise` beside the running executable.
    public var supervisor: String?
    /// SIGHUP: checks the config as the restarted daemon would read it; nil when it is good,
    /// else why it is not (the daemon then goes on with the config it has).
    public var checkReload: (@Sendable () -> String?)?

    public init(layout: SpoolLayout, config: HopperConfig, workflowDirectory: String?) {
        self.layout = layout
        self.config = config
        self.workflowDirectory = workflowDirectory
    }
}

/// How `Daemon.run` ended.
public enum DaemonExit: Sendable {
    /// SIGTERM or SIGINT: exit.
    case stopped
    /// SIGHUP with a good config: the caller re-executes the daemon, which reads it afresh.
    case reload
}

public enum Daemon {
    /// Runs until SIGTERM/SIGINT (`.stopped`) or SIGHUP (`.reload`). A reload is a graceful
    /// stop and a re-exec in place (same pid, so systemd and the lock see one daemon): running
    /// steps go on under their supervisors and the new daemon re-adopts them, as after any restart.
    @discardableResult
    public static func run(_ options: DaemonOptions, logger: Logger) async throws -> DaemonExit {
        // Two malloc arenas, not glibc's 8 per core: each thread that met contention kept an
        // arena of its own with its freed memory (9 arenas, 29 MiB of the daemon's 60 MiB
        // after 80,000 jobs; with 2, 12 MiB less — docs/benchmarks.md, Memory).
        // glibc's own variables in the environment win (an operator's tuning, an A/B run).
        if getenv("MALLOC_ARENA_MAX") == nil { hopper_malloc_arenas(2) }
        // A fixed mmap threshold (glibc's dynamic one climbs to 32 MiB): big transient buffers
        // (pages, JSON of large groups, store batches) come and go whole, not mixed into the heap.
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil { hopper_malloc_mmap_threshold(128 << 10) }
        let layout = options.layout
        let config = options.config
        do { try layout.create() } catch {
            throw DaemonError("cannot create the spool at \(layout.root): \(error)")
        }
        // Acceptance is a rename from inbox/ into outbox/: both must be on one filesystem.
        // silent: both were just created; were one unreadable, the rename at acceptance says so per file.
        if let i = try? FileOps.lstat(layout.inbox), let o = try? FileOps.lstat(layout.outbox), i.st_dev != o.st_dev {
            throw DaemonError("\(layout.inbox) and \(layout.outbox) are on different filesystems; acceptance is a rename, so they must share one")
        }
        let stateFS = try FileSystemKind.of(path: layout.state)
        if stateFS.isNetwork {
            throw DaemonError("the state directory \(layout.state) is on \(stateFS.name); its SQLite database needs local disk: set `state:` in the config to a local path")
        }
        if config.runAs == .owner && geteuid() != 0 {
            throw DaemonError("run_as: owner needs the daemon to run as root (it becomes each job's owner to run its steps); run it as root, or use run_as: service")
        }
        var jobGroup: gid_t? = nil
        if config.runAs == .owner, let name = config.jobGroup {
            guard let g = getgrnam(name) else { throw DaemonError("job_group \(name) is not a group on this host") }
            jobGroup = g.pointee.gr_gid
        }
        checkInboxMode(layout.inbox, logger: logger)
        let lock = try acquireLock(layout)
        defer { close(lock) }
        FallbackLog.install { key, message in
            logger.warning("fs.fallback", metadata: ["fallback": "\(key)", "reason": "\(message)"])
        }
        let renewEvery = Double(options.heartbeatInterval.components.seconds) + Double(options.heartbeatInterval.components.attoseconds) / 1e18
        let lease = try SpoolLease.acquire(layout, timeout: config.leaseTimeout.seconds, renewEvery: renewEvery, logger: logger)
        defer { lease.release() }

        let store: JobStore
        do { store = try JobStore(path: layout.database) } catch {
            throw DaemonError("cannot open the store \(layout.database): \(error)")
        }
        let catalog = options.workflowDirectory.map { WorkflowCatalog(directory: $0) }
        var settings = IntakeSettings()
        settings.maxManifestSize = Int(config.maxManifestSize.bytes)
        settings.defaultExecutor = config.executor
        settings.allowUsers = Set(config.allowUsers)
        settings.maxSteps = config.maxSteps
        settings.maxGroupSize = config.maxGroupSize
        settings.adminGroup = config.adminGroup
        settings.denyUsers = Set(config.denyUsers)
        if config.runAs == .owner {
            settings.owners = OwnerPolicy(minUID: uid_t(config.minUID), mode: config.jobMode, group: jobGroup)
        }
        for q in config.queues {
            if let e = q.executor { settings.queueExecutors[q.name] = e }
            if let w = q.workflow { settings.queueWorkflows[q.name] = w }
        }
        let report = try Recovery.run(layout: layout, store: store, catalog: catalog, settings: settings, logger: logger)
        logger.info("daemon.recovered", metadata: [
            "rolled_forward": "\(report.rolledForward)", "discarded": "\(report.discarded)",
            "indexed": "\(report.indexed)", "unindexed": "\(report.unindexed)", "status_rewritten": "\(report.rewrittenStatus)",
        ])

        let intake = Intake(layout: layout, store: store, catalog: catalog, settings: settings, logger: logger)

        var watch = WatchSettings()
        watch.mode = WatchSettings.Mode(rawValue: config.watch.rawValue) ?? .auto
        watch.pollInterval = .milliseconds(Int64(config.pollInterval.seconds * 1000))
        watch.settle = .milliseconds(Int64(config.settle.seconds * 1000))
        watch.rescanInterval = .milliseconds(Int64(config.rescanInterval.seconds * 1000))
        let watcher = InboxWatcher(inbox: layout.inbox, settings: watch, logger: logger)

        await watcher.start()   // watches set up and the start-up scan begun: ready
        var sched = SchedulerSettings()
        sched.maxRunning = max(1, config.maxRunning)
        sched.perOwnerRunning = config.perOwnerRunning
        for q in config.queues { if let m = q.maxRunning { sched.perQueueRunning[q.name] = m } }
        sched.adminGroup = config.adminGroup
        sched.workflowDirectory = options.workflowDirectory
        sched.logCap = config.maxLogSize.bytes
        sched.grace = config.killGrace.seconds
        sched.notifier = Notifier(mailCommand: config.mailCommand, timeout: config.notifyTimeout.seconds)
        sched.owners = settings.owners
        let pageSignals = config.pages == .off ? nil : PageSignals()
        sched.pageSignals = pageSignals
        sched.maxResultSize = config.maxResultSize?.bytes
        sched.waitPoll = config.pollInterval.seconds
        sched.snakemake = Snakemake.locate(configured: config.snakemake, workflows: options.workflowDirectory)
        logger.info("snakemake.located", metadata: ["snakemake.path": "\(sched.snakemake ?? "not found")"])
        warnAboutSetup(options, snakemake: sched.snakemake, logger: logger)
        let executor = LocalExecutor(supervisor: options.supervisor ?? LocalExecutor.defaultSupervisor(), logger: logger)
        guard access(executor.supervisor, X_OK) == 0 else {
            throw DaemonError("the step supervisor \(executor.supervisor) is missing; install hopper-supervise beside hopper")
        }
        let slurm = SlurmExecutor(config: config.slurm, queues: config.queues, spoolRoot: layout.root,
                                  supervisor: executor.supervisor, logger: logger)
        let metrics = Metrics()
        let turns = OwnerTurns()
        let executors = StepExecutors(local: executor, slurm: slurm)
        let scheduler = Scheduler(layout: layout, store: store, executors: executors, settings: sched, catalog: catalog,
                                  metrics: metrics, turns: turns, logger: logger)
        await scheduler.load()
        let notifications = NotificationService(queue: scheduler.notifications)

        let stats = IntakeStats()
        let reloadFlag = ReloadFlag()
        let diskGuard = DiskGuard(layout: layout, minFree: config.minFreeSpace.bytes, logger: logger)
        diskGuard.check()
        let intakeService = IntakeService(watcher: watcher, intake: intake, scheduler: scheduler, stats: stats,
                                          diskGuard: diskGuard, logger: logger)
        let retention = RetentionService(scheduler: scheduler, layout: layout, retention: config.retention, logger: logger)
        let notifier = SystemdNotifier()
        let running = RunningSettings(config: options.configPath, workflows: options.workflowDirectory, snakemake: sched.snakemake)
        let heartbeat = HeartbeatService(layout: layout, running: running, store: store, watcher: watcher, stats: stats,
                                         interval: options.heartbeatInterval, notifier: notifier, metrics: metrics,
                                         diskGuard: diskGuard, reload: reloadFlag, turns: turns, logger: logger)
        logger.info("daemon.started", metadata: [
            "spool": "\(layout.root)", "state": "\(layout.state)", "pid": "\(getpid())",
            "workflows": "\(options.workflowDirectory ?? "-")", "version": "\(HopperVersion.current)",
        ])
        notifier.ready(status: "watching \(layout.inbox); \(await scheduler.runningCount) running, \(await scheduler.pendingCount) pending")
        var pages: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let pageSignals {
            let ownersOnly = settings.owners != nil
            let detailsPublic = !ownersOnly || config.jobMode & 0o005 == 0o005
            let service = PagesService(layout: layout, store: store, signals: pageSignals, catalog: catalog,
                                       ownersOnly: ownersOnly, detailsPublic: detailsPublic, logger: logger)
            pages.append(.init(service: service, successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(configuration: .init(
            services: pages + [
                .init(service: intakeService),
                .init(service: heartbeat, successTerminationBehavior: .ignore),
                .init(service: retention, successTerminationBehavior: .ignore),
                .init(service: LeaseService(lease: lease, interval: options.heartbeatInterval, logger: logger),
                      successTerminationBehavior: .ignore),
                .init(service: WaitForService(scheduler: scheduler, interval: sched.waitPoll),
                      successTerminationBehavior: .ignore),
                .init(service: notifications, successTerminationBehavior: .ignore),
                .init(service: GroupStatusService(layout: layout, store: store, logger: logger),
                      successTerminationBehavior: .ignore),
                .init(service: ReloadService(flag: reloadFlag, check: options.checkReload, notifier: notifier, logger: logger),
                      successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        let reloading = reloadFlag.requested
        let commits = sched.commits.counts
        logger.info(reloading ? "daemon.reloading" : "daemon.stopped", metadata: [
            "status.durable_writes": "\(commits.files)", "status.commit_rounds": "\(commits.rounds)",
        ])
        return reloading ? .reload : .stopped
    }

    /// A daemon without workflows or without Snakemake runs, but rejects or fails what needs
    /// them: said once at start (and shown by `hopper system`).
    static func warnAboutSetup(_ options: DaemonOptions, snakemake: String?, logger: Logger) {
        if let dir = options.workflowDirectory {
            if !FileOps.isDirectory(dir) {
                logger.warning("daemon.workflows_missing", metadata: [
                    "workflows": "\(dir)",
                    "reason": "the workflow directory does not exist: manifests naming a workflow are rejected until it does; fix `workflows:` in the config",
                ])
            }
        } else {
            logger.warning("daemon.no_workflows", metadata: [
                "reason": "no workflow directory: manifests naming a workflow are rejected, only inline steps run; set `workflows:` in the config",
            ])
        }
        if snakemake == nil {
            logger.warning("daemon.no_snakemake", metadata: [
                "reason": "no Snakemake found (config `snakemake:`, $HOPPER_SNAKEMAKE, PATH, .venv beside the workflows): Snakemake steps fail; run scripts/setup-snakemake or set `snakemake:`",
            ])
        }
    }

    /// A shared inbox should be writable by all with the sticky bit (1733 or 1777, like /tmp):
    /// without it, any user may remove or replace another's manifest before the daemon takes it.
    static func checkInboxMode(_ inbox: String, logger: Logger) {
        guard let st = try? FileOps.lstat(inbox) else { return }   // silent: a warning only; the inbox was just created
        let mode = st.st_mode & 0o7777
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            logger.warning("inbox.unsafe_mode", metadata: [
                "path": "\(inbox)", "mode": "\(String(mode, radix: 8))",
                "reason": "world-writable without the sticky bit: users can remove or replace each other's manifests; chmod 1733 (or 1777)",
            ])
        }
    }

    /// flock(2) on `state/daemon.lock`: one daemon per spool. Returns the descriptor to keep open.
    static func acquireLock(_ layout: SpoolLayout) throws -> Int32 {
        let fd = open(layout.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DaemonError("cannot open \(layout.lockFile): \(SystemError("open", path: layout.lockFile).message)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            // silent: the pid is for the message; "?" says it could not be read.
            let other = (try? FileOps.readUpTo(fd, limit: 32, path: layout.lockFile)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            close(fd)
            throw DaemonError("another hopper daemon (pid \(other.trimmingCharacters())) is already running on \(layout.root)")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
