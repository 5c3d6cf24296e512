// DiskGuard — intake pauses while the outbox or the workspaces are short of space.
//
// Below `min_free_space` (statvfs: blocks available to unprivileged users) on either filesystem,
// the intake leaves new manifests where they are — in the inbox, nothing is lost — and
// `system/status.json` says `"intake": {"paused": true, "reason": "…"}`. Running jobs go on
// (stopping them would lose work). Once space is back above the threshold the intake resumes
// with a full rescan of the inboxes, so every manifest that waited is taken.
import HopperCore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class DiskGuard: Sendable {
    struct State {
        var paused = false
        var reason: String?
        var volumes: [SystemStatus.Disk] = []
    }

    let paths: [(role: String, path: String)]
    let minFree: Int64
    let logger: Logger
    private let state = Mutex(State())

    public init(layout: SpoolLayout, minFree: Int64, logger: Logger) {
        var paths = [(role: "outbox", path: layout.outbox)]
        if layout.workspaces != layout.outbox { paths.append((role: "workspaces", path: layout.workspaces)) }
        self.paths = paths
        self.minFree = minFree
        self.logger = logger
    }

    public var paused: Bool { state.withLock { $0.paused } }
    public var reason: String? { state.withLock { $0.reason } }
    /// Free space as last measured, as the heartbeat publishes it.
    public var volumes: [SystemStatus.Disk] { state.withLock { $0.volumes } }

    /// Measures free space now. Returns true when this call ended a pause (the caller rescans).
    @discardableResult
    public func check() -> Bool {
        var volumes: [SystemStatus.Disk] = []
        var short: [String] = []
        for (role, path) in paths {
            var s = statvfs()
            guard statvfs(path, &s) == 0 else { continue }
            let free = Int64(s.f_bavail) * Int64(s.f_frsize)
            let total = Int64(s.f_blocks) * Int64(s.f_frsize)
            volumes.append(SystemStatus.Disk(role: role, path: path, freeBytes: free, totalBytes: total))
            if minFree > 0 && free < minFree {
                short.append("\(role) \(path) has \(ByteSize.human(free)) free, below min_free_space \(ByteSize(bytes: minFree))")
            }
        }
        let reason: String? = short.isEmpty ? nil : short.joined(separator: "; ")
        let (was, now) = state.withLock { s -> (Bool, Bool) in
            let was = s.paused
            s.paused = reason != nil
            s.reason = reason
            s.volumes = volumes
            return (was, s.paused)
        }
        if now && !was { logger.warning("intake.paused", metadata: ["reason": "\(reason ?? "")"]) }
        if was && !now { logger.notice("intake.resumed", metadata: ["reason": "free space is above min_free_space again"]) }
        return was && !now
    }
}
