// HeartbeatService — writes `system/status.json` every few seconds (SPEC §6), atomically.
import HopperCore
import HopperStore
import HopperWatch
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

public final class HeartbeatService: Service {
    let layout: SpoolLayout
    let store: JobStore
    let watcher: InboxWatcher
    let stats: IntakeStats
    let interval: Duration
    let startedAt = Timestamp.rfc3339()
    let logger: Logger

    public init(layout: SpoolLayout, store: JobStore, watcher: InboxWatcher, stats: IntakeStats, interval: Duration, logger: Logger) {
        self.layout = layout; self.store = store; self.watcher = watcher; self.stats = stats
        self.interval = interval; self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            write(state: "running")
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
        write(state: "stopped")
    }

    func write(state: String) {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let snapshot = stats.snapshot
        let status = SystemStatus(
            pid: getpid(), host: String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self),
            startedAt: startedAt, heartbeatAt: Timestamp.rfc3339(),
            intervalSeconds: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18,
            state: state, spool: layout.root, stateDirectory: layout.state,
            inboxes: watcher.watchModes().map { SystemStatus.Inbox(path: $0.folder, queue: queueName($0.folder), mode: $0.mode.rawValue) },
            intake: .init(accepted: snapshot.accepted, rejected: snapshot.rejected),
            jobs: (try? store.countsByState()) ?? [:])
        do {
            try FileOps.writeAtomically(layout.heartbeat, try JSON.pretty(status), durable: false)
        } catch {
            logger.warning("heartbeat.write_failed", metadata: ["error": "\(error)"])
        }
    }

    func queueName(_ folder: String) -> String? {
        folder == layout.inbox ? nil : FileOps.split(folder).1
    }
}
