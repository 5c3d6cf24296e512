// GroupStatusService — keeps each group's `outbox/<group>/status.json` in step with its
// children: every half second it asks the store which groups had a child change since its
// last look (one indexed query), counts their children by state, and replaces the status of
// each whose counts changed (temporary file, rename). When a group ends (every child ended)
// its events.jsonl gets one line (`completed`, `failed` or `cancelled`).
// At start-up every group is looked at once, so a change a crash left unwritten is written.
import HopperCore
import HopperStore
import Logging
import ServiceLifecycle

struct GroupStatusService: Service {
    let layout: SpoolLayout
    let store: JobStore
    let logger: Logger
    var interval: Double = 0.5

    func run() async {
        let pause = Duration.milliseconds(Int64(interval * 1000))
        await cancelWhenGracefulShutdown {
            var since = ""
            while !Task.isCancelled {
                let started = Timestamp.now()
                if refresh(since: since) { since = Timestamp.rfc3339(started - 2) }
                try? await Task.sleep(for: pause)   // silent: cancelled means the daemon is stopping
            }
        }
    }

    /// Returns false when the store could not be read (the next look starts from the same time).
    func refresh(since: String) -> Bool {
        guard let changed = store.logged("groups changed", logger: logger, { try $0.groupsChanged(since: since) }) else { return false }
        guard !changed.isEmpty else { return true }
        guard let counts = store.logged("group counts", logger: logger, { try $0.groupCounts(changed) }) else { return false }
        for id in changed {
            GroupStatusService.update(id, counts: counts[id] ?? [:], layout: layout, logger: logger)
        }
        return true
    }

    static func update(_ id: String, counts: [String: Int], layout: SpoolLayout, logger: Logger) {
        let folder = layout.folder(id)
        // silent: a group whose status cannot be read is written again at its next change.
        guard let bytes = try? FileOps.readFile(folder.status), var status = try? JSON.decode(GroupStatus.self, from: bytes) else { return }
        let before = status.state
        guard status.update(counts: counts, at: Timestamp.rfc3339()) else { return }
        do {
            try FileOps.writeAtomically(folder.status, try JSON.pretty(status), durable: status.state.isTerminal)
            if status.state != before && status.state.isTerminal {
                let summary = JobState.allCases.compactMap { s -> String? in
                    let n = status.counts[s.rawValue] ?? 0
                    return n > 0 ? "\(n) \(s.rawValue)" : nil
                }.joined(separator: ", ")
                try folder.appendEvent(JobEvent(event: status.state.rawValue, state: status.state, message: "every job of the group ended: " + summary))
                logger.info("group.ended", metadata: ["group.id": "\(id)", "group.state": "\(status.state.rawValue)"])
            }
        } catch {
            logger.warning("group.status_failed", metadata: ["group.id": "\(id)", "error": "\(error)"])
        }
    }
}
