// SharedDrive — a stand-in for a spool on NFS or SMB: a bindfs (FUSE) mount of a folder, with
// files written through the folder below, as another host's client writes them. bindfs
// answers as NFS and FUSE do where it matters here: no RENAME_NOREPLACE (EINVAL), a syncfs
// that reaches no one, and no inotify events for writes made from below.
//
// Needs Debian's bindfs and /dev/fuse (scripts/test installs bindfs). A mount that fails is a
// test failure, never a skip.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum SpoolPlace: Sendable, CaseIterable, CustomStringConvertible {
    case localDisk, sharedDrive
    /// LazyFS (PowerCut.swift): not among `allCases`, which the tests run everywhere.
    case powerCutDisk
    static var allCases: [SpoolPlace] { [.localDisk, .sharedDrive] }
    var description: String {
        switch self {
        case .localDisk: "local disk"
        case .sharedDrive: "shared drive (bindfs)"
        case .powerCutDisk: "power-cut disk (LazyFS)"
        }
    }
}

/// A FUSE mount a test spool lives on.
protocol SpoolMount: AnyObject {
    /// Where drops are written: below the mount (another host's writes), or the mount itself.
    var writerRoot: String { get }
    func unmount()
}

final class BindMount: SpoolMount {
    var writerRoot: String { lower }
    let lower: String
    let mountPoint: String
    private var mounted = false

    init(lower: String, mountPoint: String) throws {
        self.lower = lower
        self.mountPoint = mountPoint
        try FileManager.default.createDirectory(atPath: lower, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        // allow_other: daemons started as another user (nobody) must see the mount too.
        // Not through Foundation's Process: it waits for the daemonized bindfs to close the
        // descriptors it inherited, that is, forever.
        let errors = lower + ".bindfs-errors"
        let code = spawnAndWait(["/usr/bin/bindfs", "-o", "allow_other", lower, mountPoint], output: errors)
        guard code == 0 else {
            let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw TestFailure("bindfs \(lower) \(mountPoint) failed with \(code) (is bindfs installed, /dev/fuse there?): \(text)")
        }
        mounted = true
    }

    func unmount() {
        guard mounted else { return }
        mounted = false
        if (try? runProgram("/bin/umount", [mountPoint]))?.code != 0 {
            _ = try? runProgram("/bin/umount", ["-l", mountPoint])
        }
    }

    deinit { unmount() }
}

/// posix_spawn(3) and waitpid(2) for the process itself (not for whatever it leaves running):
/// its exit status, or -1. stdout and stderr go to `output`.
func spawnAndWait(_ argv: [String], output: String) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var cArgs = argv.map { strdup($0) } + [nil]
    defer { for p in cArgs { free(p) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
}
