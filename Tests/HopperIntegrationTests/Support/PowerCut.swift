// PowerCut — a disk that can lose power: the spool on LazyFS (FUSE), which keeps written data
// in its own memory until fsync, as a machine keeps its page cache; metadata (create, rename,
// mkdir, link) reaches the folder below at once. A cut stops every process of the spool
// (SIGSTOP), kills LazyFS — every byte not fsynced is gone, as `lazyfs::clear-cache` would drop
// it — aborts the FUSE connection so calls in flight fail, kills the processes (SIGKILL) and
// mounts the disk again, as after a reboot. (Clearing the cache of a LazyFS that goes on
// serving was tried first: with steps creating files at the instant of the cut, LazyFS 0.3.0
// sometimes stopped answering, its threads waiting on each other.)
//
// The binary: $HOPPER_LAZYFS, else .lazyfs/lazyfs, which scripts/setup-lazyfs builds from
// ../shared/lazyfs (scripts/test runs it). Missing, the test fails: it never skips silently.
import Foundation
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

final class LazyMount: SpoolMount {
    let lower: String
    let mountPoint: String
    let work: String
    private var mounted = false
    var writerRoot: String { mountPoint }

    static var binary: String {
        ProcessInfo.processInfo.environment["HOPPER_LAZYFS"].flatMap { $0.isEmpty ? nil : $0 } ?? Paths.repo + "/.lazyfs/lazyfs"
    }

    init(lower: String, mountPoint: String, work: String) throws {
        self.lower = lower
        self.mountPoint = mountPoint
        self.work = work
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw TestFailure("no LazyFS at \(Self.binary): run scripts/setup-lazyfs (scripts/test does)")
        }
        try FileManager.default.createDirectory(atPath: lower, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try mount()
    }

    var config: String { work + "/lazyfs.toml" }

    /// Starts LazyFS over `lower` (it daemonizes once its cache is allocated).
    func mount() throws {
        let fifo = work + "/lazyfs.fifo"
        unlink(fifo)
        try """
            [faults]
            fifo_path="\(fifo)"
            [cache]
            apply_eviction=false
            [cache.simple]
            custom_size="256mb"
            blocks_per_page=1
            [filesystem]
            log_all_operations=false
            logfile=""
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let lib = FileOps.split(Self.binary).0 + "/lib"
        let code = spawnAndWait(["/usr/bin/env", "LD_LIBRARY_PATH=\(lib)", Self.binary, mountPoint, "--config-path", config,
                                 "-o", "allow_other", "-o", "modules=subdir", "-o", "subdir=\(lower)"], output: work + "/lazyfs.log")
        guard code == 0 else {
            throw TestFailure("lazyfs failed (\(code)): \((try? String(contentsOfFile: work + "/lazyfs.log", encoding: .utf8)) ?? "")")
        }
        mounted = true
        let deadline = Date().addingTimeInterval(20)
        while (try? FileSystemKind.of(path: mountPoint)) != .fuse {
            if Date() > deadline { throw TestFailure("the LazyFS mount at \(mountPoint) did not appear") }
            usleep(20_000)
        }
    }

    /// The disk loses power: LazyFS is killed, and with it every byte that was not fsynced
    /// (it holds them in its own memory; the folder below has only fsynced data and the
    /// metadata). The FUSE connection is aborted, so calls in flight fail instead of hanging,
    /// and the mount goes.
    func losePower() {
        guard mounted else { return }
        mounted = false
        var st = stat()
        let connection: UInt32? = Glibc.lstat(mountPoint, &st) == 0 ? UInt32(st.st_dev & 0xff) | UInt32((st.st_dev >> 12) & ~0xff) : nil
        for pid in processes(matching: config) { kill(pid, SIGKILL) }
        if !FileManager.default.fileExists(atPath: "/sys/fs/fuse/connections/\(connection ?? 0)") {
            _ = try? runProgram("/bin/mount", ["-t", "fusectl", "none", "/sys/fs/fuse/connections"])
        }
        if let connection { try? "1".write(toFile: "/sys/fs/fuse/connections/\(connection)/abort", atomically: false, encoding: .utf8) }
        _ = try? runProgram("/bin/umount", ["-l", mountPoint])
        let deadline = Date().addingTimeInterval(10)
        while !processes(matching: config).isEmpty && Date() < deadline { usleep(10_000) }
    }

    func unmount() { losePower() }

    deinit { unmount() }
}

/// The session of a process (field 6 of /proc/PID/stat), or nil when it is gone.
func sessionOf(_ pid: Int32) -> Int32? {
    Procfs.statFields(pid).flatMap { $0.count > 3 ? Int32($0[3]) : nil }
}

extension TestSpool {
    /// Every process a power cut would stop: the daemon, every step supervisor of this spool
    /// and everything in their sessions. Not the test's own `hopper submit` drops.
    func spoolProcesses() -> [Int32] {
        var found = Set<Int32>()
        if let d = daemon, d.isRunning { found.insert(d.processIdentifier) }
        var supervisors: [Int32] = []
        for pid in processes(matching: "hopper-supervise") {
            let cmd = (try? FileOps.readFile("/proc/\(pid)/cmdline", limit: 8192)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if cmd.contains(base) { supervisors.append(pid); found.insert(pid) }
        }
        let sessions = Set(supervisors)
        for name in (try? FileOps.listDirectory("/proc")) ?? [] {
            guard let pid = Int32(name), let sid = sessionOf(pid), sessions.contains(sid) else { continue }
            found.insert(pid)
        }
        return Array(found)
    }

    /// A power cut: SIGSTOP everything of the spool (thrice, to catch what was being forked),
    /// the disk loses what was not fsynced (LazyMount.losePower), SIGKILL them all, the daemon
    /// is reaped; then the disk is mounted again, as after a reboot.
    func powerCut(_ mount: LazyMount) throws {
        var stopped = Set<Int32>()
        for _ in 0..<3 {
            for pid in spoolProcesses() where !stopped.contains(pid) {
                kill(pid, SIGSTOP)
                stopped.insert(pid)
            }
            usleep(2_000)
        }
        mount.losePower()
        for pid in stopped { kill(pid, SIGKILL) }
        for pid in stopped { kill(pid, SIGCONT) }
        killDaemon()
        try mount.mount()
    }
}
