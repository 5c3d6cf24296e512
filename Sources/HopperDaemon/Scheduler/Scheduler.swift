// Scheduler — which pending job starts next, and the control requests that change a job.
//
// Postfix's qmgr for jobs: a bounded number run at once (`max_running`, per queue
// `queues.<q>.max_running`, per owner `per_owner_running`). Among pending jobs the highest
// priority goes first; within a priority, owners take turns (the owner whose last start is
// oldest goes first), and each owner's jobs start in the order they were submitted. So one
// user's 1,000 queued jobs never starve another user's single job: it starts at the next free
// slot.
//
// Running jobs belong to JobRunners (one task each, not children of the service group: a
// SIGTERM to the daemon stops intake and scheduling but leaves running steps alone). At start
// the scheduler re-adopts jobs the store says are running.
import HopperCore
import HopperExec
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

public struct SchedulerSettings: Sendable {
    public var maxRunning: Int = 2
    public var perOwnerRunning: Int = 0
    public var perQueueRunning: [String: Int] = [:]
    public var grace: Double = 10
    public var logCap: Int64 = 100 << 20
    public var adminGroup: String?
    public var workflowDirectory: String?
    /// The Snakemake executable (resolved at start-up), or nil when none was found.
    public var snakemake: String?
    /// For jobs with `executor: slurm` (JobRunner+Slurm.swift).
    public var slurm: SlurmExecutor?
    /// Mail and notify commands for `notify:`; nil sends nothing.
    public var notifier: Notifier?
    /// Seconds between two looks at the `wait_for` paths of waiting jobs.
    public var waitPoll: Double = 2
    /// run_as: owner — jobs run as their owners, whose folders these are; nil: as the daemon.
    public var owners: OwnerPolicy?
    /// Bytes one step may publish; nil: no cap.
    public var maxResultSize: Int64?
    /// Durable status writes of all jobs, many per disk commit (shared by every JobRunner).
    public var commits = GroupCommit()
    public init() {}
}

struct QueuedJob {
    let id: String
    let owner: String
    let queue: String
    let priority: Int
    let seq: Int
}

public actor Scheduler {
    let layout: SpoolLayout
    let store: JobStore
    let executor: LocalExecutor
    let settings: SchedulerSettings
    let catalog: WorkflowCatalog?
    let metrics: Metrics
    let logger: Logger

    /// priority → owner → FIFO of jobs
    var pending: [Int: [String: [QueuedJob]]] = [:]
    var pendingIDs: Set<String> = []
    var running: [String: JobRunner] = [:]
    private var runningByOwner: [String: Int] = [:]
    private var runningByQueue: [String: Int] = [:]
    private var lastStart: [String: UInt64] = [:]
    private var startCounter: UInt64 = 0
    private var seq = 0
    private var accepting = true
    /// Jobs held back by `wait_for` (see WaitFor.swift), and the task that looks at their paths.
    var waitList: [String: WaitEntry] = [:]
    var waitLoop: Task<Void, Never>?
    /// For jobs just accepted: their status and plan, so the runner need not read them back.
    /// Kept beside the queue, not in it: a queued job is small and cheap to move.
    var initials: [String: (JobStatus, JobManifest)] = [:]

    public init(layout: SpoolLayout, store: JobStore, executor: LocalExecutor, settings: SchedulerSettings,
                catalog: WorkflowCatalog?, metrics: Metrics = Metrics(), logger: Logger) {
        self.metrics = metrics
        self.layout = layout
        self.store = store
        self.executor = executor
        self.settings = settings
        self.catalog = catalog
        self.logger = logger
    }

    // MARK: - Loading and queueing

    /// Start-up: queue the store's pending jobs, re-adopt its running ones.
    public func load() {
        let jobs = store.logged("jobs", logger: logger) { try $0.jobs(inStates: [.pending, .waiting, .queued, .running]) } ?? []
        // Only these can have a wait_for to honour: the others' plans are not read at start-up.
        let waiting = store.logged("ids", logger: logger) { try $0.ids(inStates: [.pending, .waiting], withPlanKey: "wait_for") } ?? []
        for job in jobs {
            if job.state == JobState.running.rawValue || job.state == JobState.queued.rawValue {
                start(QueuedJob(id: job.id, owner: job.owner, queue: job.queue, priority: job.priority, seq: nextSeq()),
                      resuming: true)
            } else {
                let queued = QueuedJob(id: job.id, owner: job.owner, queue: job.queue, priority: job.priority, seq: nextSeq())
                if waiting.contains(job.id), let (wait, submitted) = pendingWait(job.id, state: job.state) {
                    holdForWait(queued, wait: wait, submittedAt: submitted, marked: job.state == JobState.waiting.rawValue)
                } else {
                    enqueue(queued)
                }
            }
        }
        logger.info("scheduler.loaded", metadata: ["jobs.pending": "\(pendingIDs.count)", "jobs.adopted": "\(running.count)"])
        pump()
    }

    /// Jobs just accepted by the intake.
    public func submitted(_ jobs: [AcceptedJob]) {
        for job in jobs {
            let queued = QueuedJob(id: job.id, owner: job.status.owner, queue: job.status.queue,
                                   priority: job.status.priority, seq: nextSeq())
            initials[job.id] = (job.status, job.manifest)
            if let wait = job.manifest.waitFor {
                holdForWait(queued, wait: wait, submittedAt: job.status.submittedAt, marked: false)
            } else {
                enqueue(queued)
            }
        }
        pump()
    }

    /// Stops starting jobs (SIGTERM). Running ones go on under their supervisors.
    public func stop() {
        accepting = false
    }

    public var runningCount: Int { running.count }
    public var pendingCount: Int { pendingIDs.count }

    private func nextSeq() -> Int { seq += 1; return seq }

    /// A job whose `wait_for` is over goes to the pending queue.
    func requeueAfterWait(_ job: QueuedJob) {
        enqueue(job)
        pump()
    }

    /// At load: the `wait_for` of a pending or waiting job that has not started yet (a retried
    /// job waited before its first start), with its submission time.
    private func pendingWait(_ id: String, state: String) -> (WaitFor, String)? {
        guard let text = store.logged("plan", job: id, logger: logger, { try $0.plan(id: id) }) ?? nil,
              let plan = Plan.decode(text), let wait = plan.waitFor,
              let status = JobRunner.readStatus(layout, id), status.startedAt == nil || state == JobState.waiting.rawValue
        else { return nil }
        return (wait, status.submittedAt)
    }

    private func enqueue(_ job: QueuedJob) {
        guard !pendingIDs.contains(job.id), running[job.id] == nil else { return }
        pending[job.priority, default: [:]][job.owner, default: []].append(job)
        pendingIDs.insert(job.id)
    }

    private func removePending(_ id: String) -> QueuedJob? {
        guard pendingIDs.remove(id) != nil else { return nil }
        // Found first, removed after the loop: removing while the loop still holds the array
        // would copy it whole (copy on write) for every job started.
        var found: (priority: Int, owner: String, index: Int)?
        search: for (priority, owners) in pending {
            for (owner, jobs) in owners {
                if let i = jobs.firstIndex(where: { $0.id == id }) { found = (priority, owner, i); break search }
            }
        }
        guard let (priority, owner, index) = found else { return nil }
        let job = pending[priority]![owner]!.remove(at: index)
        if pending[priority]![owner]!.isEmpty { pending[priority]![owner] = nil }
        if pending[priority]!.isEmpty { pending[priority] = nil }
        return job
    }

    // MARK: - Starting

    /// Starts jobs while slots are free.
    private func pump() {
        while accepting && running.count < settings.maxRunning, let job = pickNext() {
            _ = removePending(job.id)
            start(job, resuming: false)
        }
    }

    private func eligible(_ job: QueuedJob) -> Bool {
        if settings.perOwnerRunning > 0 && runningByOwner[job.owner, default: 0] >= settings.perOwnerRunning { return false }
        if let cap = settings.perQueueRunning[job.queue], cap > 0, runningByQueue[job.queue, default: 0] >= cap { return false }
        return true
    }

    /// Highest priority first; within it, the owner who started least recently; their oldest job.
    private func pickNext() -> QueuedJob? {
        for priority in pending.keys.sorted(by: >) {
            guard let owners = pending[priority] else { continue }
            let order = owners.keys.sorted { (lastStart[$0] ?? 0, $0) < (lastStart[$1] ?? 0, $1) }
            for owner in order {
                // Within an owner, FIFO; a job blocked by its queue's cap lets a later one of another queue go.
                if let job = owners[owner]!.first(where: eligible) { return job }
            }
        }
        return nil
    }

    private func start(_ job: QueuedJob, resuming: Bool) {
        startCounter += 1
        lastStart[job.owner] = startCounter
        runningByOwner[job.owner, default: 0] += 1
        runningByQueue[job.queue, default: 0] += 1
        let runner = JobRunner(id: job.id, layout: layout, store: store, executor: executor, settings: settings,
                               catalog: catalog, metrics: metrics, logger: logger)
        running[job.id] = runner
        let initial = initials.removeValue(forKey: job.id)
        let manifest = initial?.1
        runner.start(resuming: resuming, initial: initial) { [weak self] in
            await self?.finished(job, manifest: manifest)
        }
        if !resuming { notifyStarted(job.id, manifest: manifest) }
    }

    private func finished(_ job: QueuedJob, manifest: JobManifest?) {
        running[job.id] = nil
        runningByOwner[job.owner, default: 1] -= 1
        if runningByOwner[job.owner] == 0 { runningByOwner[job.owner] = nil }
        runningByQueue[job.queue, default: 1] -= 1
        if runningByQueue[job.queue] == 0 { runningByQueue[job.queue] = nil }
        notifyFinished(job.id, manifest: manifest)
        pump()
    }

    // MARK: - Control requests

    /// Honours or refuses each request; returns nil (honoured) or the reason it was refused.
    public func apply(_ drop: ControlDrop) async -> String? {
        let request = drop.request
        let id = request.job
        let found = store.logged("job", job: id, logger: logger) { try $0.job(id: id) }
        guard let found else { return "the daemon cannot read its store just now; drop the request again later" }
        guard let record = found, let state = JobState(rawValue: record.state) else {
            return "job \(id) does not exist"
        }
        if let refusal = authorize(drop, owner: record) { return refusal }
        if let refusal = request.action.refusal(job: id, state: state) { return refusal }
        let action = request.action.rawValue
        switch request.action {
        case .cancel:
            if let runner = running[id] {
                runner.cancel(by: requester(drop))
            } else if stopWaiting(id) || removePending(id) != nil || state == .pending || state == .waiting {
                initials[id] = nil
                JobRunner.cancelPending(id: id, layout: layout, store: store, by: requester(drop), logger: logger)
                notifyFinished(id)
            }
        case .retry:
            JobRunner.requeue(id: id, layout: layout, store: store, steps: nil, action: .retry, by: requester(drop), logger: logger)
            enqueue(QueuedJob(id: id, owner: record.owner, queue: record.queue, priority: record.priority, seq: nextSeq()))
        case .rerun:
            if let names = request.steps, let status = JobRunner.readStatus(layout, id) {
                let known = Set(status.steps.map(\.name))
                let unknown = names.filter { !known.contains($0) }
                if !unknown.isEmpty {
                    return "job \(id) has no step \(unknown.joined(separator: ", ")); its steps are \(status.steps.map(\.name).joined(separator: ", "))"
                }
            }
            let markers = JobRunner.requeue(id: id, layout: layout, store: store, steps: request.steps ?? [], action: .rerun, by: requester(drop), logger: logger)
            let logger = self.logger
            _ = await AsUser.run(ownerIdentity(id)) {
                for m in markers {
                    do { try FileOps.writeNew(m, []) } catch {
                        logger.warning("rerun.marker_failed", metadata: ["job.id": "\(id)", "path": "\(m)", "error": "\(error)"])
                    }
                }
            }
            enqueue(QueuedJob(id: id, owner: record.owner, queue: record.queue, priority: record.priority, seq: nextSeq()))
        case .clean:
            await JobRunner.clean(id: id, layout: layout, by: requester(drop), logger: logger)
        }
        logger.notice("request.honoured", metadata: ["job.id": "\(id)", "request.action": "\(action)", "request.by": "\(requester(drop))"])
        pump()
        return nil
    }

    func requester(_ drop: ControlDrop) -> String { Accounts.userName(drop.uid) }

    /// A request is honoured only from the job's owner, root, or a member of the admin group.
    func authorize(_ drop: ControlDrop, owner record: JobRecord) -> String? {
        if drop.uid == 0 || Int64(drop.uid) == record.uid { return nil }
        if let group = settings.adminGroup, Accounts.isMember(uid: drop.uid, gid: drop.gid, ofGroup: group) { return nil }
        return "\(Accounts.userName(drop.uid)) may not \(drop.request.action.rawValue) job \(drop.request.job): it belongs to \(record.owner) (only its owner, root or the admin group may)"
    }
}
