// Notifications — the scheduler's side of `notify:` (SPEC §3): when a job starts or ends, a
// delivery is queued (it never holds up the scheduler or the job) and NotificationService, a
// Service in the daemon's group, sends it — at most `NotificationService.concurrency` at once.
// Every attempt's outcome becomes a `notify` line in the job's events.jsonl. At a graceful stop
// the service sends what was queued before it returns.
import HopperCore
import HopperExec
import HopperStore
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

extension Scheduler {
    /// The job's `notify:` section, from its stored plan (nil when it has none).
    func notifySection(_ id: String, manifest: JobManifest? = nil) -> Notify? {
        if let manifest { return manifest.notify }
        guard let text = store.logged("plan", job: id, logger: logger, { try $0.plan(id: id) }) ?? nil,
              let plan = Plan.decode(text) else { return nil }
        return plan.notify
    }

    /// A job reached a terminal state: sends what its `notify:` asks for. `manifest`: the job's
    /// plan when at hand (saves reading it from the store).
    func notifyFinished(_ id: String, manifest: JobManifest? = nil) {
        guard let notifier = settings.notifier, let notify = notifySection(id, manifest: manifest) else { return }
        let layout = self.layout, logger = self.logger, user = ownerIdentity(id)
        notifications.post {
            guard let status = JobRunner.readStatus(layout, id), status.state.isTerminal,
                  let event = NotifyEvent(rawValue: status.state.rawValue), notify.on.contains(event) else { return }
            await Self.deliver(notifier, notify, event: event, status: status, layout: layout, user: user, logger: logger)
        }
    }

    /// run_as: owner — the job's owner, whose rights notifications and file work in the job's
    /// folders get; nil under run_as: service.
    func ownerIdentity(_ id: String) -> FileIdentity? {
        guard settings.owners != nil, let record = store.logged("job", job: id, logger: logger, { try $0.job(id: id) }) ?? nil else { return nil }
        return FileIdentity.of(uid: uid_t(record.uid))
    }

    /// A job was started (not resumed): sends the `started` notification, if asked for.
    func notifyStarted(_ id: String, manifest: JobManifest?) {
        guard let notifier = settings.notifier, let notify = notifySection(id, manifest: manifest),
              notify.on.contains(.started) else { return }
        let layout = self.layout, logger = self.logger, user = ownerIdentity(id)
        notifications.post {
            guard var status = JobRunner.readStatus(layout, id) else { return }
            if !status.state.isTerminal { status.state = .running }
            if status.startedAt == nil { status.startedAt = Timestamp.rfc3339() }
            await Self.deliver(notifier, notify, event: .started, status: status, layout: layout, user: user, logger: logger)
        }
    }

    static func deliver(_ notifier: Notifier, _ notify: Notify, event: NotifyEvent, status: JobStatus,
                        layout: SpoolLayout, user: FileIdentity?, logger: Logger) async {
        let json = (try? JSON.pretty(status)) ?? []   // silent: a JobStatus always encodes
        let attempts = await notifier.send(notify, event: event, status: status, statusJSON: json,
                                           statusPath: layout.status(status.id), workingDirectory: layout.job(status.id), user: user)
        for a in attempts {
            let message = "\(event.rawValue): \(a.target): \(a.outcome)"
            JobRunner.event(layout, status.id, JobEvent(event: "notify", state: status.state, message: message))
            if a.ok {
                logger.info("notify.sent", metadata: ["job.id": "\(status.id)", "notify.event": "\(event.rawValue)", "notify.target": "\(a.target)"])
            } else {
                logger.warning("notify.failed", metadata: ["job.id": "\(status.id)", "notify.event": "\(event.rawValue)",
                                                           "notify.target": "\(a.target)", "reason": "\(a.outcome)"])
            }
        }
    }
}

/// Deliveries waiting to be sent, in the order they were queued.
public final class NotificationQueue: Sendable {
    typealias Delivery = @Sendable () async -> Void
    let deliveries: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation

    public init() {
        (deliveries, continuation) = AsyncStream.makeStream(of: Delivery.self)
    }

    func post(_ delivery: @escaping Delivery) { continuation.yield(delivery) }

    /// No more deliveries: the service sends what is queued, then returns.
    func finish() { continuation.finish() }
}

/// Sends the queued notifications (mail, commands), a few at once.
public struct NotificationService: Service {
    /// Deliveries in flight at most (each bounded by `notify_timeout`).
    static let concurrency = 8
    let queue: NotificationQueue

    public init(queue: NotificationQueue) { self.queue = queue }

    public func run() async {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for await delivery in queue.deliveries {
                    if inFlight >= Self.concurrency {
                        await group.next()
                        inFlight -= 1
                    }
                    group.addTask { await delivery() }
                    inFlight += 1
                }
            }
        } onGracefulShutdown: {
            queue.finish()
        }
    }
}
