// Hostile files in the inbox: each ends in rejected/ with a reason; nothing blocks; the next
// manifest still flows.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct Hostile {
        /// Creates a listening Unix socket at `path` (the bound name stays after close).
        func makeSocket(_ path: String) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
            defer { close(fd) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in
                for (i, b) in bytes.enumerated() where i < buf.count - 1 { buf[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw TestFailure("bind: \(errno)") }
        }

        @Test func everyHostileFileIsRejectedWithAReasonAndNothingBlocks() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let inbox = spool.layout.inbox
            let outside = spool.base + "/secret.yaml"
            try demoManifest().write(toFile: outside, atomically: true, encoding: .utf8)

            // name -> (how to make it, words the reason must contain)
            var expected: [String: String] = [:]
            #expect(symlink(outside, inbox + "/link.yaml") == 0)
            expected["link.yaml"] = "symbolic link"
            #expect(mkfifo(inbox + "/fifo.yaml", 0o644) == 0)
            expected["fifo.yaml"] = "FIFO"
            try makeSocket(inbox + "/sock.yaml")
            expected["sock.yaml"] = "socket"
            try FileManager.default.createDirectory(atPath: inbox + "/dir.yaml", withIntermediateDirectories: false)
            expected["dir.yaml"] = "directory"
            try spool.drop("huge.yaml", "description: " + String(repeating: "x", count: 1_100_000))
            expected["huge.yaml"] = "limited to 1048576 bytes"
            var garbage = [UInt8](repeating: 0, count: 4096)
            var rng = SystemRandomNumberGenerator()
            for i in garbage.indices { garbage[i] = UInt8.random(in: 0...255, using: &rng) }
            garbage[0] = 0xFF
            _ = FileManager.default.createFile(atPath: spool.base + "/.garbage", contents: Data(garbage))
            #expect(rename(spool.base + "/.garbage", inbox + "/garbage.yaml") == 0)
            expected["garbage.yaml"] = "UTF-8"
            try spool.drop("empty.yaml", "")
            expected["empty.yaml"] = "empty"
            try spool.drop("bad name!.yaml", demoManifest())
            expected["bad name!.yaml"] = "is not valid"
            try spool.drop("-dash.yaml", demoManifest())
            expected["-dash.yaml"] = "is not valid"
            try demoManifest().write(toFile: spool.base + "/linked.yaml", atomically: true, encoding: .utf8)
            #expect(link(spool.base + "/linked.yaml", inbox + "/hardlink.yaml") == 0)
            expected["hardlink.yaml"] = "hard links"
            try spool.drop("laughs.yaml", """
                a: &a ["x","x","x","x","x","x","x","x","x"]
                b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
                c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
                d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
                e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
                f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
                g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
                """)
            expected["laughs.yaml"] = "alias"
            try spool.drop("deep.yaml", "description: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000))
            expected["deep.yaml"] = "deep"
            try spool.drop("nul.yaml", "workflow: demo\u{0}\n")
            expected["nul.yaml"] = "NUL"
            try spool.drop("twodocs.yaml", demoManifest() + "\n---\n" + demoManifest())
            expected["twodocs.yaml"] = "one YAML document"
            try spool.drop("list.yaml", "- workflow: demo\n")
            expected["list.yaml"] = "mapping"

            // The next good manifest still flows.
            try spool.drop("good.yaml", demoManifest())
            #expect(eventually(timeout: 30) { spool.isAccepted("good") }, "\(spool.logText())")
            for (name, words) in expected {
                #expect(eventually(timeout: 15) { spool.isRejected(name) }, "\(name) not rejected\n\(spool.logText())")
                guard let r = try? spool.rejection(name) else { continue }
                let text = r.reason + " " + r.errors.map(\.message).joined(separator: " ")
                #expect(text.contains(words), "\(name): \(text)")
                #expect(!r.errors.isEmpty)
            }
            // Nothing was followed: the symlink target is untouched and no job came of it.
            #expect(FileOps.exists(outside))
            #expect(!spool.isAccepted("link"))
            // Non-regular files were moved as they are (the link is still a link).
            #expect(try FileOps.lstat(spool.layout.rejected + "/link.yaml").map { $0.st_mode & S_IFMT } == S_IFLNK)
            #expect(try FileOps.lstat(spool.layout.rejected + "/fifo.yaml").map { $0.st_mode & S_IFMT } == S_IFIFO)
            #expect(spool.inboxNames().isEmpty, "left in inbox: \(spool.inboxNames())")
            #expect(spool.daemon?.isRunning == true)
            // Ignored names stay where they are.
            try "x".write(toFile: inbox + "/notes.txt", atomically: false, encoding: .utf8)
            try "x".write(toFile: inbox + "/upload.yaml.part", atomically: false, encoding: .utf8)
            try spool.drop("after.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("after") })
            #expect(Set(spool.inboxNames()) == ["notes.txt", "upload.yaml.part"])
        }

        @Test(.enabled(if: getuid() == 0, "needs root to start the daemon as another user"))
        func unreadableFileIsRejectedByAnUnprivilegedDaemon() throws {
            let spool = try TestSpool()
            try spool.layout.create()
            let chown = try runProgram("/bin/chown", ["-R", "nobody:nogroup", spool.base])
            #expect(chown.code == 0, "\(chown.stderr)")
            spool.launcher = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            try spool.startDaemon()
            let tmp = spool.layout.inbox + "/.secret.yaml.tmp"
            try demoManifest().write(toFile: tmp, atomically: false, encoding: .utf8)
            chmod(tmp, 0o600)   // root's, unreadable to nobody
            #expect(rename(tmp, spool.layout.inbox + "/secret.yaml") == 0)
            #expect(eventually { spool.isRejected("secret.yaml") }, "\(spool.logText())")
            let r = try spool.rejection("secret.yaml")
            #expect(r.reason == "unreadable")
            #expect(r.errors.first?.message.contains("cannot read the file") == true)
            try spool.drop("fine.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("fine") }, "\(spool.logText())")
            #expect(try spool.status("fine").owner == "root")
        }
    }
}
