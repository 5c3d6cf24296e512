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
    /// How long a failed attempt waits before the next one.
    public var retryBackoff = RetryBackoff()
    /// Told of every status a runner writes (the pages); nil: pages are off.
    public var pageSignals: PageSignals?
    public init() {}
}

/// The wait before a failed step's next attempt: `base` seconds after the first failure,
/// doubled after each further one, at most `cap` seconds.
public struct RetryBackoff: Sendable, Equatable {
    public var base: Double
    public var cap: Double
    public init(base: Double = 0.5, cap: Double = 30) { self.base = base; self.cap = cap }

    /// Seconds to wait after the `failures`-th failure in a row (1, 2, …).
    public func delay(afterFailures failures: Int) -> Double {
        let doublings = min(max(failures - 1, 0), 20)
        return min(cap, base * Double(1 << doublings))
    }
}

public actor Scheduler {
    let layout: SpoolLayout
    let store: JobStore
    let executors: StepExecutors
    let settings: SchedulerSettings
    let catalog: WorkflowCatalog?
    let metrics: Metrics
    let logger: Logger

    /// The pending jobs to choose from: a bounded window per (priority, owner), the rest in the store.
    var queue = PendingQueue()
    /// The running jobs: each one's runner (the owner of its status) and the task running it.
    var running: [String: RunningJob] = [:]
    private var runningByOwner: [String: Int] = [:]
    private var runningByQueue: [String: Int] = [:]
    /// Each owner's last start: whose turn it is (StartOrder); the heartbeat publishes it.
    nonisolated let turns: OwnerTurns
    private var seq = 0
    private var accepting = true
    /// Jobs held back by `wait_for` (see WaitFor.swift; WaitForService looks at their paths).
    var waitList: [String: WaitEntry] = [:]
    /// Jobs held back by `after:` (see Dependencies.swift).
    var blocked: [String: BlockedEntry] = [:]
    /// For jobs just accepted: their status and plan, so the runner need not read them back.
    /// Kept beside the queue, not in it: a queued job is small and cheap to move. Bounded
    /// (`initialsLimit`): with a backlog, the jobs beyond it read theirs back when they start
    /// (about 2.4 KB each that memory would otherwise hold per pending job).
    var initials: [String: (JobStatus, JobManifest)] = [:]
    var initialsLimit: Int { max(256, 4 * settings.maxRunning) }
    /// `notify:` deliveries, sent by NotificationService.
    public let notifications = NotificationQueue()

    public init(layout: SpoolLayout, store: JobStore, executors: StepExecutors, settings: SchedulerSettings,
                catalog: WorkflowCatalog?, metrics: Metrics = Metrics(), turns: OwnerTurns = OwnerTurns(), logger: Logger) {
        self.metrics = metrics
        self.turns = turns
        self.layout = layout
        self.store = store
        self.executors = executors
        self.settings = settings
        self.catalog = catalog
        self.logger = logger
    }

    // MARK: - Loading and queueing

    /// Start-up: queue the store's pending jobs, re-adopt its running ones.
    /// Memory stays bounded whatever the backlog: pending jobs are counted per bucket and read
    /// from the store a window at a time (PendingQueue); only running jobs and jobs with a
    /// `wait_for` are read one by one.
    public func load() {
        let active = store.logged("jobs", logger: logger) { try $0.jobs(inStates: [.queued, .running]) } ?? []
        for job in active {
            start(QueuedJob(id: job.id, owner: job.owner, queue: job.queue, priority: job.priority, seq: nextSeq()), resuming: true)
        }
        for bucket in store.logged("buckets", logger: logger, { try $0.buckets(in: .pending) }) ?? [] {
            queue.addStored(priority: bucket.priority, owner: bucket.owner, count: bucket.count)
        }
        // Only these can have an after: or a wait_for to honour: the others' plans are not read at start-up.
        let dependants = store.logged("ids", logger: logger) { try $0.ids(inStates: [.pending, .waiting], withPlanKey: "after") } ?? []
        for id in dependants.sorted() {
            guard let record = store.logged("job", job: id, logger: logger, { try $0.job(id: id) }) ?? nil,
                  let text = store.logged("plan", job: id, logger: logger, { try $0.plan(id: id) }) ?? nil,
                  let plan = Plan.decode(text), let status = JobRunner.readStatus(layout, id) else { continue }
            let queued = QueuedJob(id: id, owner: record.owner, queue: record.queue, priority: record.priority, seq: nextSeq())
            if record.state == .pending { queue.discount(1) }   // counted in its bucket above
            holdForDependencies(queued, manifest: plan, submittedAt: status.submittedAt, marked: record.state == .waiting)
        }
        let waiting = store.logged("ids", logger: logger) { try $0.ids(inStates: [.pending, .waiting], withPlanKey: "wait_for") } ?? []
        for id in waiting.subtracting(dependants).sorted() {
            guard let record = store.logged("job", job: id, logger: logger, { try $0.job(id: id) }) ?? nil else { continue }
            let queued = QueuedJob(id: id, owner: record.owner, queue: record.queue, priority: record.priority, seq: nextSeq())
            if let (wait, submitted) = pendingWait(id, state: record.state) {
                if record.state == .pending { queue.discount(1) }   // counted in its bucket above
                holdForWait(queued, wait: wait, submittedAt: submitted, marked: record.state == .waiting)
            } else if record.state == .waiting {
                queue.add(queued, inStore: false)   // buckets hold pending jobs only
            }
        }
        logger.info("scheduler.loaded", metadata: ["jobs.pending": "\(queue.total)", "jobs.adopted": "\(running.count)"])
        checkDependencies()
        pump()
    }

    /// Jobs just accepted by the intake.
    public func submitted(_ jobs: [AcceptedJob]) {
        for job in jobs {
            let queued = QueuedJob(id: job.id, owner: job.status.owner, queue: job.status.queue,
                                   priority: job.status.priority, seq: nextSeq())
            if initials.count < initialsLimit { initials[job.id] = (job.status, job.manifest) }
            if job.manifest.after?.isEmpty == false {
                holdForDependencies(queued, manifest: job.manifest, submittedAt: job.status.submittedAt, marked: false)
            } else if let wait = job.manifest.waitFor {
                holdForWait(queued, wait: wait, submittedAt: job.status.submittedAt, marked: false)
            } else {
                // A job whose insert into the store failed is known to memory alone.
                enqueue(queued, inStore: store.problem == nil)
            }
        }
        checkDependencies()
        pump()
    }

    /// Stops starting jobs (SIGTERM). Running ones go on under their supervisors.
    public func stop() {
        accepting = false
    }

    public var runningCount: Int { running.count }
    public var pendingCount: Int { queue.total }

    private func nextSeq() -> Int { seq += 1; return seq }

    /// A job whose `wait_for` is over goes to the pending queue.
    func requeueAfterWait(_ job: QueuedJob) {
        enqueue(job)
        pump()
    }

    /// At load: the `wait_for` of a pending or waiting job that has not started yet (a retried
    /// job waited before its first start), with its submission time.
    private func pendingWait(_ id: String, state: JobState) -> (WaitFor, String)? {
        guard let text = store.logged("plan", job: id, logger: logger, { try $0.plan(id: id) }) ?? nil,
              let plan = Plan.decode(text), let wait = plan.waitFor,
              let status = JobRunner.readStatus(layout, id), status.startedAt == nil || state == .waiting
        else { return nil }
        return (wait, status.submittedAt)
    }

    private func enqueue(_ job: QueuedJob, inStore: Bool = true) {
        guard running[job.id] == nil else { return }
        queue.add(job, inStore: inStore)
    }

    private func removePending(_ id: String) -> QueuedJob? {
        queue.remove(id)
    }

    /// A cancel of a job that has not started: taken off the wait list or the queue (or only
    /// uncounted, when the store alone held it). True when it was waiting or pending.
    private func cancelQueued(_ id: String, state: JobState) -> Bool {
        let wasWaiting = stopWaiting(id) || stopBlocking(id)
        let wasQueued = removePending(id) != nil
        if !wasWaiting && !wasQueued && state == .pending { queue.remove(id, stored: true) }
        return wasWaiting || wasQueued || state == .pending || state == .waiting
    }

    /// Fills the emptied window of a bucket from the store. The spool is the truth: a job the
    /// store still lists as pending but whose status.json says otherwise (the store missed an
    /// update while it failed) is not started again, and the store is corrected.
    private func refill(_ priority: Int, _ owner: String) {
        let excluded = Set(running.keys).union(waitList.keys).union(blocked.keys)
        let limit = queue.window
        guard let records = store.logged("bucket", logger: logger, {
            try $0.bucket(.pending, priority: priority, owner: owner, limit: limit, excluding: excluded)
        }) else { return }   // the store fails: the bucket waits, the heartbeat says why
        var jobs: [QueuedJob] = []
        var stale = 0
        for r in records {
            if let status = JobRunner.readStatus(layout, r.id), status.state != .pending {
                stale += 1
                JobRunner.setState(store, r.id, status.state, logger: logger)
                continue
            }
            jobs.append(QueuedJob(id: r.id, owner: r.owner, queue: r.queue, priority: r.priority, seq: nextSeq()))
        }
        queue.discount(stale)
        queue.refill(priority: priority, owner: owner, with: jobs, exhausted: records.count < limit)
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

    /// Highest priority first; within it, the owner who started least recently; their oldest
    /// job (StartOrder, the rule `hopper ls` uses for a pending job's position).
    private func pickNext() -> QueuedJob? {
        let lastStart = turns.lastStart
        for priority in StartOrder.priorities(queue.buckets.keys) {
            guard let owners = queue.buckets[priority] else { continue }
            for owner in StartOrder.owners(owners.keys, lastStart: lastStart) {
                if queue.buckets[priority]?[owner]?.jobs.isEmpty == true { refill(priority, owner) }
                // Within an owner, FIFO; a job blocked by its queue's cap lets a later one of another queue go.
                if let job = queue.buckets[priority]?[owner]?.jobs.first(where: eligible) { return job }
            }
        }
        return nil
    }

    private func start(_ job: QueuedJob, resuming: Bool) {
        turns.started(job.owner)
        runningByOwner[job.owner, default: 0] += 1
        runningByQueue[job.queue, default: 0] += 1
        let initial = initials.removeValue(forKey: job.id)
        let manifest = initial?.1
        let runner = JobRunner(id: job.id, layout: layout, store: store, executors: executors, settings: settings,
                               catalog: catalog, metrics: metrics, logger: logger, initial: initial)
        // Its own task, not a child of the service group: see the top of this file.
        let task = Task.detached { [weak self] in
            await runner.run(resuming: resuming)
            await self?.finished(job, manifest: manifest)
        }
        running[job.id] = RunningJob(runner: runner, task: task)
        if !resuming { notifyStarted(job.id, manifest: manifest) }
    }

    private func finished(_ job: QueuedJob, manifest: JobManifest?) {
        running[job.id] = nil
        runningByOwner[job.owner, default: 1] -= 1
        if runningByOwner[job.owner] == 0 { runningByOwner[job.owner] = nil }
        runningByQueue[job.queue, default: 1] -= 1
        if runningByQueue[job.queue] == 0 { runningByQueue[job.queue] = nil }
        notifyFinished(job.id, manifest: manifest)
        checkDependencies()
        pump()
    }

    // MARK: - Control requests

    /// Honours or refuses each request; returns nil (honoured) or the reason it was refused.
    public func apply(_ drop: ControlDrop) async -> String? {
        let request = drop.request
        let id = request.job
        let found = store.logged("job", job: id, logger: logger) { try $0.job(id: id) }
        guard let found else { return "the daemon cannot read its store just now; drop the request again later" }
        guard let record = found else {
            if let group = store.logged("group", job: id, logger: logger, { try $0.group(id: id) }) ?? nil {
                return await applyToGroup(drop, group: group)
            }
            return "job \(id) does not exist"
        }
        if let refusal = authorize(drop, owner: record) { return refusal }
        let state = record.state
        if let refusal = request.action.refusal(job: id, state: state) { return refusal }
        if !FileOps.exists(layout.workspace(id)), let status = JobRunner.readStatus(layout, id),
           let refusal = request.action.cleanedRefusal(status, steps: request.steps) { return refusal }
        let action = request.action.rawValue
        switch request.action {
        case .cancel:
            if let job = running[id] {
                await job.runner.noteCancel(by: requester(drop))
                job.task.cancel()
            } else if cancelQueued(id, state: state) {
                initials[id] = nil
                JobRunner.cancelPending(id: id, layout: layout, store: store, by: requester(drop), logger: logger)
                notifyFinished(id)
            }
        case .retry:
            JobRunner.requeue(id: id, layout: layout, store: store, steps: nil, action: .retry, by: requester(drop), logger: logger)
            admit(QueuedJob(id: id, owner: record.owner, queue: record.queue, priority: record.priority, seq: nextSeq()))
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
            admit(QueuedJob(id: id, owner: record.owner, queue: record.queue, priority: record.priority, seq: nextSeq()))
        case .clean:
            await JobRunner.clean(id: id, layout: layout, by: requester(drop), logger: logger)
        }
        logger.notice("request.honoured", metadata: ["job.id": "\(id)", "request.action": "\(action)", "request.by": "\(requester(drop))"])
        checkDependencies()
        pump()
        return nil
    }

    /// A retried or rerun job: held back again by its `after:` (if any), else queued.
    private func admit(_ job: QueuedJob) {
        if let text = store.logged("plan", job: job.id, logger: logger, { try $0.plan(id: job.id) }) ?? nil,
           let plan = Plan.decode(text), plan.after?.isEmpty == false, let status = JobRunner.readStatus(layout, job.id) {
            holdForDependencies(job, manifest: plan, submittedAt: status.submittedAt, marked: false)
            return
        }
        enqueue(job)
    }

    func requester(_ drop: ControlDrop) -> String { Accounts.userName(drop.uid) }

    /// A request is honoured only from the job's owner, root, or a member of the admin group.
    func authorize(_ drop: ControlDrop, owner record: JobRecord) -> String? {
        if drop.uid == 0 || Int64(drop.uid) == record.uid { return nil }
        if let group = settings.adminGroup, Accounts.isMember(uid: drop.uid, gid: drop.gid, ofGroup: group) { return nil }
        return "\(Accounts.userName(drop.uid)) may not \(drop.request.action.rawValue) job \(drop.request.job): it belongs to \(record.owner) (only its owner, root or the admin group may)"
    }
}

/// A job being run: its runner and the task running it (cancelled by a cancel request).
struct RunningJob {
    let runner: JobRunner
    let task: Task<Void, Never>
}
