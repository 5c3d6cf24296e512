// Who may submit: allow_users/deny_users, rejected files private to their submitter, the inbox
// mode check. The daemon runs as root here and the
// files are given to `nobody` with chown, as if nobody had dropped them.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// (uid, gid) of an account, or nil.
func account(_ name: String) -> (uid_t, gid_t)? {
    guard let pw = getpwnam(name) else { return nil }
    return (pw.pointee.pw_uid, pw.pointee.pw_gid)
}

extension TestSpool {
    /// Drops a manifest as `user` (written, chowned, then renamed into the inbox).
    func drop(_ name: String, _ content: String, as user: String) throws {
        let (uid, gid) = try #require(account(user))
        let tmp = layout.inbox + "/." + name + ".tmp"
        try content.write(toFile: tmp, atomically: false, encoding: .utf8)
        guard chown(tmp, uid, gid) == 0, rename(tmp, layout.inbox + "/" + name) == 0 else { throw TestFailure("drop as \(user): \(errno)") }
    }
}

extension Integration {
    @Suite struct Submitters {
        @Test func denyUsersRejectsTheirManifestsWithAReason() throws {
            try #require(geteuid() == 0, "the daemon must run as root to see other users' files as theirs")
            let spool = try TestSpool(config: "deny_users: [nobody]")
            try spool.startDaemon()
            try spool.drop("theirs.yaml", "steps: [{name: a, run: \"true\"}]\n", as: "nobody")
            try spool.drop("mine.yaml", "steps: [{name: a, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("theirs.yaml") })
            let r = try spool.rejection("theirs.yaml")
            #expect(r.reason == "submitter not allowed")
            #expect(r.errors.first?.message == "user nobody may not submit jobs here (deny_users in the daemon's config)")
            #expect(try spool.waitFor("mine").state == .completed)
        }

        @Test func allowUsersAcceptsOnlyThem() throws {
            try #require(geteuid() == 0)
            let spool = try TestSpool(config: "allow_users: [root]")
            try spool.startDaemon()
            try spool.drop("other.yaml", "steps: [{name: a, run: \"true\"}]\n", as: "nobody")
            #expect(eventually { spool.isRejected("other.yaml") })
            #expect(try spool.rejection("other.yaml").errors.first?.message == "user nobody may not submit jobs here (not in allow_users in the daemon's config)")
            try spool.drop("root.yaml", "steps: [{name: a, run: \"true\"}]\n")
            #expect(try spool.waitFor("root").state == .completed)
        }

        @Test func aRejectedFileAndItsErrorAreReadableByItsSubmitterOnly() throws {
            try #require(geteuid() == 0)
            let (uid, _) = try #require(account("nobody"))
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("broken.yaml", "workflow: demo\nparams: {sample: [1, 2]}\n", as: "nobody")
            #expect(eventually { spool.isRejected("broken.yaml") })
            for name in ["broken.yaml", "broken.yaml.error.json"] {
                let st = try #require(try FileOps.lstat(spool.layout.rejected + "/" + name))
                #expect(st.st_uid == uid, "\(name)")
                #expect(st.st_mode & 0o777 == 0o600, "\(name): \(String(st.st_mode & 0o777, radix: 8))")
            }
        }

        @Test func anInboxWithoutTheStickyBitIsReported() throws {
            let spool = try TestSpool()
            try FileManager.default.createDirectory(atPath: spool.layout.inbox, withIntermediateDirectories: true)
            chmod(spool.layout.inbox, 0o777)
            try spool.startDaemon()
            #expect(spool.logText().contains("inbox.unsafe_mode"))
            #expect(spool.logText().contains("chmod 1733"))
        }
    }
}

extension Integration {
    @Suite struct Caps {
        @Test func tooManyStepsAndTooLargeResultsAreRefusedWithTheCap() throws {
            let spool = try TestSpool(config: "max_steps: 3\nmax_result_size: 1K")
            try spool.startDaemon()
            try spool.drop("long.yaml", """
                steps: [{name: a, run: "true"}, {name: b, run: "true"}, {name: c, run: "true"}, {name: d, run: "true"}]
                """)
            #expect(eventually { spool.isRejected("long.yaml") })
            let r = try spool.rejection("long.yaml")
            #expect(r.reason == "too many steps")
            #expect(r.errors.first?.message == "the job has 4 steps; this daemon runs at most 3 per job (max_steps)")

            try spool.drop("big.yaml", """
                steps: [{name: make, run: "mkdir out; head -c 4096 /dev/zero > out/big.bin", outputs: ["out/*"]}]
                """)
            let s = try spool.waitFor("big")
            #expect(s.state == .failed)
            #expect(s.error?.message.contains("over the results size cap of 1K") == true, "\(s.error?.message ?? "")")
            #expect(s.results.isEmpty)
        }
    }
}
