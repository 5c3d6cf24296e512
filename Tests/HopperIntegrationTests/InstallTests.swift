// scripts/install staged into a temporary root (--destdir): every file in place, the unit passes
// `systemd-analyze verify`, and `systemd-tmpfiles` makes the spool tree with its modes.
import Foundation
import HopperCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct Install {
        @Test func stagedInstallVerifiesAndMakesTheSpoolTree() throws {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-install-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            let buildDir = URL(fileURLWithPath: Paths.hopper).deletingLastPathComponent().path
            let env = ["HOPPER_BUILD_DIR": buildDir]
            let r = try runProgram(Paths.repo + "/scripts/install", ["--destdir", root, "--no-build", "--prefix", "/opt/hopper"], env: env)
            try #require(r.code == 0, "install: \(r.stdout)\(r.stderr)")
            for path in ["/opt/hopper/bin/hopper", "/opt/hopper/bin/hopper-supervise"] {
                #expect(access(root + path, X_OK) == 0, "\(path)")
            }
            #expect(FileOps.exists(root + "/opt/hopper/share/hopper/Workflows/readmap.yaml"))
            #expect(FileOps.exists(root + "/opt/hopper/share/doc/hopper/README.md"))
            let unit = try String(contentsOfFile: root + "/etc/systemd/system/hopper.service", encoding: .utf8)
            #expect(unit.contains("ExecStart=/opt/hopper/bin/hopper daemon --config /etc/hopper/config.yaml"))
            #expect(unit.contains("Type=notify") && unit.contains("KillMode=process") && unit.contains("WatchdogSec="))
            let config = try String(contentsOfFile: root + "/etc/hopper/config.yaml", encoding: .utf8)
            #expect(config.contains("workflows: /opt/hopper/share/hopper/Workflows"))
            #expect(try HopperConfig.load(path: root + "/etc/hopper/config.yaml").spool == "/srv/hopper")

            // systemd-analyze checks that ExecStart's binary exists: point it at the staged one.
            let check = root + "/check"
            try FileManager.default.createDirectory(atPath: check, withIntermediateDirectories: true)
            try unit.replacingOccurrences(of: "/opt/hopper/bin/", with: root + "/opt/hopper/bin/")
                .write(toFile: check + "/hopper.service", atomically: true, encoding: .utf8)
            let verify = try runProgram("/usr/bin/env", ["systemd-analyze", "verify", check + "/hopper.service"])
            #expect(verify.code == 0 && verify.stderr.isEmpty && verify.stdout.isEmpty, "\(verify.stdout)\(verify.stderr)")

            let tmpfiles = try runProgram("/usr/bin/env", ["systemd-tmpfiles", "--root=" + root, "--create", root + "/etc/tmpfiles.d/hopper.conf"])
            #expect(tmpfiles.code == 0, "\(tmpfiles.stderr)")
            func mode(_ p: String) -> mode_t? { (try? FileOps.lstat(root + p)).flatMap { $0 }.map { $0.st_mode & 0o7777 } }
            #expect(mode("/srv/hopper/inbox") == 0o1777)
            #expect(mode("/srv/hopper/outbox") == 0o755)
            #expect(mode("/var/lib/hopper") == 0o700)

            // Again: an upgrade keeps the administrator's config.
            try "spool: /data/hopper\n".write(toFile: root + "/etc/hopper/config.yaml", atomically: true, encoding: .utf8)
            let again = try runProgram(Paths.repo + "/scripts/install", ["--destdir", root, "--no-build", "--prefix", "/opt/hopper"], env: env)
            #expect(again.code == 0)
            #expect(again.stdout.contains("keeping the existing /etc/hopper/config.yaml"))
            #expect(try String(contentsOfFile: root + "/etc/hopper/config.yaml", encoding: .utf8) == "spool: /data/hopper\n")
        }
    }
}
