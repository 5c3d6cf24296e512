// A spool on a shared drive: bindfs (FUSE) written from below, as another NFS client writes.
// Renames without replacing where the filesystem lacks RENAME_NOREPLACE, `hopper submit` and
// control requests through the mount, and the spool lease that keeps one daemon per spool —
// across hosts, each with its own `state:`.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct SharedDrive {
        @Test func renameWithoutReplacingWorksWhereTheFilesystemLacksTheFlag() throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-fuse-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: base) }
            let mount = try BindMount(lower: base + "/lower", mountPoint: base + "/mnt")
            defer { mount.unmount() }
            let m = mount.mountPoint
            // bindfs answers as NFS does: no RENAME_NOREPLACE.
            try "probe".write(toFile: m + "/probe", atomically: false, encoding: .utf8)
            #expect(renameat2NoReplace(m + "/probe", m + "/probed") == EINVAL)

            try "one".write(toFile: m + "/a", atomically: false, encoding: .utf8)
            try FileOps.renameNoReplace(m + "/a", m + "/b")
            #expect(!FileOps.exists(m + "/a"))
            #expect(try String(contentsOfFile: m + "/b", encoding: .utf8) == "one")
            #expect(try FileOps.lstat(m + "/b")?.st_nlink == 1)

            // A taken name is never replaced, and the source stays.
            try "two".write(toFile: m + "/c", atomically: false, encoding: .utf8)
            #expect(throws: SystemError.self) { try FileOps.renameNoReplace(m + "/c", m + "/b") }
            do { try FileOps.renameNoReplace(m + "/c", m + "/b") } catch { #expect(error.errno == EEXIST) }
            #expect(try String(contentsOfFile: m + "/b", encoding: .utf8) == "one")
            #expect(try String(contentsOfFile: m + "/c", encoding: .utf8) == "two")
            #expect(try FileOps.lstat(m + "/c")?.st_nlink == 1)

            // A symlink moves as itself (never its target), a FIFO unopened.
            #expect(symlink("/etc/shadow", m + "/s") == 0)
            try FileOps.renameNoReplace(m + "/s", m + "/s2")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: m + "/s2") == "/etc/shadow")
            #expect(!FileOps.exists(m + "/s"))
            #expect(mkfifo(m + "/f", 0o644) == 0)
            try FileOps.renameNoReplace(m + "/f", m + "/f2")
            #expect(try FileOps.lstat(m + "/f2").map { $0.st_mode & S_IFMT } == S_IFIFO)

            // A directory moves with its content; onto a taken name it does not.
            try FileManager.default.createDirectory(atPath: m + "/d/inner", withIntermediateDirectories: true)
            try FileOps.renameNoReplace(m + "/d", m + "/d2")
            #expect(FileOps.isDirectory(m + "/d2/inner") && !FileOps.exists(m + "/d"))
            try FileManager.default.createDirectory(atPath: m + "/e", withIntermediateDirectories: true)
            do { try FileOps.renameNoReplace(m + "/e", m + "/d2"); Issue.record("replaced a directory") } catch {
                #expect(error.errno == EEXIST)
            }
            #expect(FileOps.isDirectory(m + "/d2/inner") && FileOps.isDirectory(m + "/e"))
            // A vanished source is ENOENT, as rename(2) says.
            do { try FileOps.renameNoReplace(m + "/gone", m + "/x"); Issue.record("moved nothing") } catch {
                #expect(error.errno == ENOENT)
            }
            #expect(FallbackLog.taken.isSuperset(of: ["rename_noreplace.link", "rename_noreplace.mkdir"]))
        }

        @Test func submitRejectAndRequestsWorkThroughTheMount() throws {
            let spool = try TestSpool(on: .sharedDrive)
            try spool.startDaemon()
            // hopper submit writes through the FUSE mount: link(2), then unlink(2) of its temporary name.
            let file = spool.base + "/sub1.yaml"
            try "steps: [{name: a, run: \"sleep 30\"}]\n".write(toFile: file, atomically: true, encoding: .utf8)
            let submit = try spool.hopper("submit", file, "--spool", spool.root)
            #expect(submit.code == 0 && submit.stdout == "sub1\n", "\(submit.stdout)\(submit.stderr)")
            try spool.waitFor("sub1", [.running])
            // Broken files written from below, twice under one name: both rejected, side by side.
            for _ in 0..<2 {
                try spool.drop("broken.yaml", "workflow: demo\nprority: 1\n")
                #expect(eventually { spool.inboxNames().isEmpty }, "\(spool.logText())")
            }
            #expect(spool.isRejected("broken.yaml") && spool.isRejected("broken.yaml.2"), "\(spool.logText())")
            let reason = try spool.rejection("broken.yaml")
            #expect(reason.errors.first?.line == 2 && reason.errors.first?.column == 1, "\(reason)")
            #expect(reason.errors.first?.message.contains("unknown key \"prority\"") == true, "\(reason)")
            // A control request is filed in the job's folder through the mount.
            #expect(try spool.request("cancel", "sub1"))
            #expect(try spool.waitFor("sub1").state == .cancelled)
            let log = spool.logText()
            #expect(!log.contains("reject_failed") && !log.contains("move_failed"), "\(log)")
            #expect(log.components(separatedBy: "fallback=rename_noreplace.link").count == 2, "logged once: \(log)")
            #expect(log.contains("fallback=syncfs.fsync"))
        }

        // MARK: - One daemon per spool

        /// A lease record as another host's daemon writes it.
        func forgeLease(_ spool: TestSpool, host: String, renewedAgo: Double) throws {
            let now = Date().timeIntervalSince1970 - renewedAgo
            let text = """
                {"host": "\(host)", "pid": 4242, "boot_id": "b", "pid_start": 1, "state": "/var/lib/hopper",
                 "started_at": "2026-01-01T00:00:00Z", "renewed_at": "then", "renewed": \(now), "token": "\(host):4242:1"}
                """
            try spool.layout.create()
            try text.write(toFile: spool.layout.lease, atomically: true, encoding: .utf8)
        }

        @Test func aFreshLeaseOfAnotherHostRefusesTheDaemon() throws {
            let spool = try TestSpool()
            try forgeLease(spool, host: "login2", renewedAgo: 1)
            let r = try runProgram(Paths.hopper, ["daemon", "--config", spool.configPath])
            #expect(r.code == 1)
            #expect(r.stderr.contains("another hopper daemon (pid 4242) is already running on \(spool.root): on host login2, state /var/lib/hopper"), "\(r.stderr)")
            #expect(!FileOps.exists(spool.layout.database), "the store was opened")
        }

        @Test func aStaleLeaseOfAHostThatIsGoneIsTakenOver() throws {
            let spool = try TestSpool(config: "lease_timeout: 2s")
            try forgeLease(spool, host: "gone-host", renewedAgo: 300)
            let daemon = try spool.startDaemon()
            #expect(spool.logText().contains("lease.taken_over"), "\(spool.logText())")
            #expect(spool.logText().contains("previous.host=gone-host"))
            let lease = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: spool.layout.lease))) as? [String: Any]
            #expect(lease?["pid"] as? Int == Int(daemon.processIdentifier))
            #expect(spool.stopDaemon() == 0)
            #expect(!FileOps.exists(spool.layout.lease), "a stopped daemon releases its lease")
        }

        @Test func aDaemonWhoseLeaseIsTakenStops() throws {
            let spool = try TestSpool()
            let daemon = try spool.startDaemon()
            // A taker renews its lease as the holder does: forged again each second.
            var forged = 0.0
            let stopped = eventually(timeout: 15) {
                if Date().timeIntervalSince1970 - forged > 1 {
                    try? forgeLease(spool, host: "login2", renewedAgo: 0)
                    forged = Date().timeIntervalSince1970
                }
                return !daemon.isRunning
            }
            try #require(stopped, "\(spool.logText())")
            #expect(daemon.terminationStatus != 0)
            #expect(spool.logText().contains("lease.lost"), "\(spool.logText())")
            #expect(spool.logText().contains("taken by host login2 pid 4242"), "\(spool.logText())")
        }

        /// Two daemons, each with its own `state:` as on two hosts, started at once on one spool
        /// on a shared drive while 1,000 manifests arrive: one serves, the other refuses; every
        /// manifest ends in exactly one place and every job runs once.
        @Test func twoDaemonsStartedAtOnceWhileAThousandManifestsArrive() throws {
            let spool = try TestSpool(config: "max_running: 4", on: .sharedDrive)
            let ran = spool.base + "/ran"
            let otherConfig = spool.base + "/other.yaml"
            try "spool: \(spool.root)\nstate: \(spool.base)/other-state\nworkflows: \(spool.workflows)\nmin_free_space: 0\npoll_interval: 200ms\nsettle: 200ms\nmax_running: 4\n"
                .write(toFile: otherConfig, atomically: true, encoding: .utf8)
            try spool.layout.create()
            let total = 1000
            func manifest(_ i: Int) -> String { "steps: [{name: s, run: \"echo $HOPPER_JOB_ID >> \(ran)\"}]\ndescription: m\(i)\n" }
            for i in 0..<300 { try spool.drop("m\(i).yaml", manifest(i)) }

            let otherLog = spool.base + "/other-daemon.log"
            _ = FileManager.default.createFile(atPath: otherLog, contents: nil)
            let other = Process()
            other.executableURL = URL(fileURLWithPath: Paths.hopper)
            other.arguments = ["daemon", "--config", otherConfig]
            other.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOPPER_FAKE_HOSTNAME": "login2"]
            other.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: otherLog))
            other.standardOutput = other.standardError
            let first = try spool.startDaemon(waitReady: false)
            try other.run()
            defer { if other.isRunning { kill(other.processIdentifier, SIGKILL); other.waitUntilExit() } }
            for i in 300..<total { try spool.drop("m\(i).yaml", manifest(i)) }

            let allDone = eventually(timeout: 240) {
                (0..<total).allSatisfy { (try? spool.status("m\($0)"))?.state == .completed }
            }
            let otherText = (try? String(contentsOfFile: otherLog, encoding: .utf8)) ?? ""
            #expect(allDone, "\(spool.logText())\n----- other\n\(otherText)")
            // Exactly one serves; the other said who holds the spool and stopped.
            #expect(first.isRunning != other.isRunning, "both running: \(first.isRunning) \(other.isRunning)")
            let refusal = first.isRunning ? otherText : spool.logText()
            #expect(refusal.contains("another hopper daemon") && refusal.contains("is already running on \(spool.root)"), "\(refusal)")
            // Every manifest in exactly one place, every job run once.
            #expect(spool.inboxNames().isEmpty)
            #expect(((try? FileOps.listDirectory(spool.layout.rejected)) ?? []).isEmpty)
            #expect(((try? FileOps.listDirectory(spool.layout.staging)) ?? []).isEmpty)
            #expect(Set(spool.outboxIDs()) == Set((0..<total).map { "m\($0)" }))
            let lines = ((try? String(contentsOfFile: ran, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            #expect(lines.count == total && Set(lines).count == total, "\(lines.count) runs of \(Set(lines).count) jobs")
        }
    }
}

/// renameat2(RENAME_NOREPLACE) itself, without any fallback: 0 or the errno.
private func renameat2NoReplace(_ from: String, _ to: String) -> Int32 {
    typealias Fn = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    guard let sym = dlsym(dlopen(nil, RTLD_NOW), "renameat2") else { return ENOSYS }
    let fn = unsafeBitCast(sym, to: Fn.self)
    return fn(AT_FDCWD, from, AT_FDCWD, to, 1) == 0 ? 0 : errno
}
