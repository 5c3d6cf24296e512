// Drop — how the command line puts a file into an inbox folder (SPEC §2), for `hopper submit`
// and the control requests (`hopper cancel|retry|rerun|clean`).
//
// Write `.NAME.tmp` (a name the daemon ignores), fsync it, rename it to NAME with
// renameat2(RENAME_NOREPLACE) so an existing file is never replaced (link(2) and unlink(2) where
// NFS, SMB or FUSE lack the flag: FileOps.renameNoReplace), fsync the folder. The
// daemon sees a complete file or none.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

/// Why a drop failed: writing the temporary file, or renaming it into place (`EEXIST`: the
/// name is taken). The temporary file is removed either way.
struct DropError: Error, CustomStringConvertible {
    enum Stage: Sendable { case write, rename }
    var stage: Stage
    var cause: SystemError

    /// The final name was already taken.
    var nameTaken: Bool { stage == .rename && cause.errno == EEXIST }
    var description: String { cause.description }
}

/// Drops `bytes` into `folder` as `name`; returns the dropped file's path.
@discardableResult
func dropFile(_ bytes: [UInt8], named name: String, into folder: String, mode: mode_t = 0o644) throws(DropError) -> String {
    let tmp = folder + "/." + name + ".tmp"
    let final = folder + "/" + name
    do {
        let fd = try FileOps.open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        defer { close(fd) }
        try FileOps.writeAll(fd, bytes, path: tmp)
        try FileOps.fsync(fd, path: tmp)
    } catch {
        if error.errno != EEXIST { unlink(tmp) }  // EEXIST: another writer's temporary file, not ours
        throw DropError(stage: .write, cause: error)
    }
    do {
        try FileOps.renameNoReplace(tmp, final)
    } catch {
        unlink(tmp)
        throw DropError(stage: .rename, cause: error)
    }
    try? FileOps.fsyncDirectory(folder)
    return final
}
