// ReloadSignal — SIGHUP: check the config, then stop gracefully so the caller can re-exec.
//
// A config that does not load is refused with a log line (`config.reload_refused`) and the
// daemon goes on unchanged: a typo in /etc/hopper/config.yaml never takes the service down.
import Dispatch
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Whether a reload is under way (the heartbeat then says `reloading`, not `stopped`).
public final class ReloadFlag: Sendable {
    let value = Mutex(false)
    public init() {}
    public var requested: Bool { value.withLock { $0 } }
}

final class ReloadSignal {
    private let source: any DispatchSourceSignal
    private let flag: ReloadFlag

    init(group: ServiceGroup, flag: ReloadFlag, check: (@Sendable () -> String?)?, notifier: SystemdNotifier, logger: Logger) {
        self.flag = flag
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "hopper.sighup"))
        source.setEventHandler { [flag] in
            if let problem = check?() {
                logger.error("config.reload_refused", metadata: ["reason": "\(problem)"])
                return
            }
            guard flag.value.withLock({ f in let first = !f; f = true; return first }) else { return }
            logger.notice("config.reload", metadata: ["reason": "SIGHUP"])
            notifier.send("RELOADING=1\nSTATUS=reloading the config")
            Task { await group.triggerGracefulShutdown() }
        }
        source.resume()
    }

    var requested: Bool { flag.requested }

    func cancel() {
        source.cancel()
    }
}
