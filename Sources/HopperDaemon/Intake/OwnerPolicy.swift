// OwnerPolicy — run_as: owner: whose a job's folders are.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

/// run_as: owner — a job's outbox folder and workspace belong to its owner.
public struct OwnerPolicy: Sendable {
    /// Manifests of accounts below this uid are refused unless allow_users names them.
    public var minUID: uid_t
    /// Mode of the job's folders (0700: the owner alone).
    public var mode: mode_t
    /// Group of the job's folders; nil: the owner's primary group.
    public var group: gid_t?

    public init(minUID: uid_t, mode: mode_t, group: gid_t?) {
        self.minUID = minUID; self.mode = mode; self.group = group
    }

    /// Gives `folder` (and the named entries in it) to `uid`, with `mode` on the folder. Done by
    /// root on a folder only root could write until now, so nothing in it can be a trap.
    public func handOver(_ folder: String, to uid: uid_t, paths: [String] = []) throws {
        let gid = group ?? FileIdentity.of(uid: uid)?.gid ?? gid_t(uid)
        for path in paths where lchown(path, uid, gid) != 0 { throw SystemError("lchown", path: path) }
        if lchown(folder, uid, gid) != 0 { throw SystemError("lchown", path: folder) }
        if chmod(folder, mode) != 0 { throw SystemError("chmod", path: folder) }
    }
}
