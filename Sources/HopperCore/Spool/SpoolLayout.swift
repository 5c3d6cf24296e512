// SpoolLayout — where everything lives (SPEC §1). The only place that spells spool paths.
#if canImport(Glibc)
import Glibc
#endif

public struct SpoolLayout: Sendable, Equatable {
    public let root: String
    /// `state/` (the daemon's private database); the config may put it elsewhere, on local disk.
    public let state: String
    /// `runs/` (job workspaces); the config may put it on scratch space.
    public let workspaces: String

    public init(root: String, state: String? = nil, workspaces: String? = nil) {
        let r = FileOps.absolute(root)
        self.root = r
        self.state = state.map(FileOps.absolute) ?? r + "/state"
        self.workspaces = workspaces.map(FileOps.absolute) ?? r + "/runs"
    }

    public var inbox: String { root + "/inbox" }
    public var outbox: String { root + "/outbox" }
    public var rejected: String { root + "/rejected" }
    public var system: String { root + "/system" }
    public var metrics: String { root + "/metrics" }
    /// `outbox/.staging/<id>/`: a job being accepted. It holds a `manifest.yaml` only once the
    /// commit rename has happened; recovery rolls such a folder forward and removes any other.
    public var staging: String { outbox + "/.staging" }
    public var database: String { state + "/hopper.sqlite" }
    public var lockFile: String { state + "/daemon.lock" }
    public var heartbeat: String { system + "/status.json" }
    /// `system/daemon.lease`: which daemon (host, pid, state) serves this spool (SpoolLease).
    public var lease: String { system + "/daemon.lease" }

    /// A page at the spool root: `index.html` and its filters and further pages (docs/pages.md).
    public func page(_ name: String) -> String { root + "/" + name }
    /// `rejected/index.html`: the rejected files explained.
    public var rejectedPage: String { rejected + "/" + SpoolLayout.pageName }
    public static let pageName = "index.html"

    public func inbox(queue: String?) -> String { queue.map { inbox + "/" + $0 } ?? inbox }
    public func job(_ id: String) -> String { outbox + "/" + id }
    public func status(_ id: String) -> String { job(id) + "/status.json" }
    public func events(_ id: String) -> String { job(id) + "/events.jsonl" }
    public func manifest(_ id: String) -> String { job(id) + "/manifest.yaml" }
    public func workspace(_ id: String) -> String { workspaces + "/" + id }

    /// Creates whatever is missing, with safe modes: the inbox is world-writable with the sticky
    /// bit (1777, like /tmp: anyone may drop, no one may remove another's file); the rest 0755.
    public func create() throws(SystemError) {
        try FileOps.makeDirectories(root)
        for dir in [outbox, rejected, system, metrics] { try FileOps.makeDirectory(dir) }
        try FileOps.makeDirectories(state, mode: 0o700)
        try FileOps.makeDirectories(workspaces)
        if !FileOps.exists(inbox) {
            try FileOps.makeDirectory(inbox, mode: 0o1777)
            chmod(inbox, 0o1777)  // mkdir's mode is filtered by the umask
        }
        try FileOps.makeDirectory(staging, mode: 0o700)
    }

    /// True when `root` looks like a spool (has `inbox/`).
    public var exists: Bool { FileOps.isDirectory(inbox) }
}
