// ReloadService — SIGHUP: check the config, then stop gracefully so the caller can re-exec.
//
// A Service in the daemon's ServiceGroup, listening with swift-service-lifecycle's UnixSignals.
// A config that does not load is refused with a log line (`config.reload_refused`) and the
// daemon goes on unchanged: a typo in /etc/hopper/config.yaml never takes the service down.
// A good one ends this service, and the group (`successTerminationBehavior:
// .gracefullyShutdownGroup`) stops as for SIGTERM; `Daemon.run` then answers `.reload`.
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Whether a reload is under way (the heartbeat then says `reloading`, not `stopped`).
public final class ReloadFlag: Sendable {
    let value = Mutex(false)
    public init() {}
    public var requested: Bool { value.withLock { $0 } }
}

struct ReloadService: Service {
    let flag: ReloadFlag
    /// Loads the config the daemon would restart with; nil when it is good, else the problem.
    let check: (@Sendable () -> String?)?
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            if let problem = check?() {
                logger.error("config.reload_refused", metadata: ["reason": "\(problem)"])
                continue
            }
            flag.value.withLock { $0 = true }
            logger.notice("config.reload", metadata: ["reason": "SIGHUP"])
            notifier.send("RELOADING=1\nSTATUS=reloading the config")
            return
        }
    }
}
