// Notifications — the scheduler's side of `notify:` (SPEC §3): when a job starts or ends, the
// Notifier runs in a task of its own (it never holds up the scheduler or the job), and every
// attempt's outcome becomes a `notify` line in the job's events.jsonl.
import HopperCore
import HopperExec
import HopperStore
import Logging
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
        Task.detached {
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
        Task.detached {
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
