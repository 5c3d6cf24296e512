// run_as: owner with real accounts (created with useradd when missing): jobs run as the owners
// of their manifests, their folders are theirs alone, and nothing a user plants in them — links,
// records naming other processes — gets root's rights.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Makes sure a local account exists (no home, no login shell).
func ensureUser(_ name: String) throws {
    if account(name) != nil { return }
    let r = try runProgram("/usr/sbin/useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", name])
    guard r.code == 0 || account(name) != nil else { throw TestFailure("useradd \(name): \(r.stderr)") }
}

/// Runs a command as `user` (real and effective ids, their groups).
func runAs(_ user: String, _ argv: [String]) throws -> CommandResult {
    try runProgram("/usr/bin/setpriv", ["--reuid=\(user)", "--regid=\(user)", "--init-groups", "--"] + argv)
}

func owner(_ path: String) -> (uid: uid_t, mode: mode_t)? {
    guard let st = (try? FileOps.lstat(path)).flatMap({ $0 }) else { return nil }
    return (st.st_uid, st.st_mode & 0o7777)
}

extension Integration {
    @Suite struct RunAsOwner {
        init() throws {
            try #require(geteuid() == 0, "run_as: owner needs the daemon (and these tests) to run as root")
            try ensureUser("alice")
            try ensureUser("bob")
        }

        @Test func aliceJobRunsAsAliceInFoldersOnlySheCanRead() throws {
            let (alice, _) = try #require(account("alice"))
            let spool = try TestSpool(config: "run_as: owner")
            let notes = spool.base + "/notes"
            try FileManager.default.createDirectory(atPath: notes, withIntermediateDirectories: true)
            chmod(spool.base, 0o755)
            chmod(notes, 0o777)
            try writeScript(spool.base + "/note", "id -un > \(notes)/$HOPPER_JOB_ID")
            try spool.startDaemon()
            try spool.drop("a1.yaml", """
                steps:
                  - {name: who, run: "id -un; echo home=$HOME user=$USER; touch made-by-step; mkdir -p out; id -un > out/who.txt", outputs: ["out/*"]}
                notify: {command: \(spool.base)/note, on: [completed]}
                """, as: "alice")
            let s = try spool.waitFor("a1")
            #expect(s.state == .completed, "\(s.error?.message ?? "")")
            #expect(s.owner == "alice")
            #expect(spool.log("a1", "who").contains("\nalice\n"))
            #expect(spool.log("a1", "who").contains("user=alice"))
            for path in [spool.layout.job("a1"), spool.layout.workspace("a1")] {
                let o = try #require(owner(path))
                #expect(o.uid == alice && o.mode == 0o700, "\(path): uid \(o.uid) mode \(String(o.mode, radix: 8))")
            }
            #expect(owner(spool.layout.workspace("a1") + "/made-by-step")?.uid == alice)
            #expect(owner(spool.layout.job("a1") + "/logs/who.log")?.uid == alice)
            #expect(owner(spool.layout.job("a1") + "/results/out/who.txt")?.uid == alice)
            #expect(try String(contentsOfFile: spool.layout.job("a1") + "/results/out/who.txt", encoding: .utf8) == "alice\n")
            // Her notify command ran as her too.
            #expect(eventually { (try? String(contentsOfFile: notes + "/a1", encoding: .utf8)) == "alice\n" })

            // Alice reads her own job; bob can read neither her outbox folder nor her workspace.
            #expect(try runAs("alice", ["/bin/cat", spool.layout.status("a1")]).code == 0)
            let bobStatus = try runAs("bob", ["/bin/cat", spool.layout.status("a1")])
            #expect(bobStatus.code != 0 && bobStatus.stderr.contains("Permission denied"))
            #expect(try runAs("bob", ["/bin/ls", spool.layout.workspace("a1")]).code != 0)
            #expect(try runAs("bob", ["/bin/cat", spool.layout.job("a1") + "/results/out/who.txt"]).code != 0)
        }

        @Test func bobCannotCancelAlicesJobAndRootManifestsAreRefused() throws {
            let spool = try TestSpool(config: "run_as: owner")
            try spool.startDaemon()
            try spool.drop("long.yaml", "steps: [{name: s, run: \"sleep 3\"}]\n", as: "alice")
            try spool.waitFor("long", [.running])
            try spool.drop("stop.yaml", "action: cancel\njob: long\n", as: "bob")
            #expect(eventually { spool.isRejected("stop.yaml") })
            #expect(try spool.rejection("stop.yaml").errors.first?.message.contains("bob may not cancel job long: it belongs to alice") == true)
            #expect(try spool.waitFor("long").state == .completed)

            try spool.drop("byroot.yaml", "steps: [{name: s, run: \"true\"}]\n")
            #expect(eventually { spool.isRejected("byroot.yaml") })
            let why = try #require(try spool.rejection("byroot.yaml").errors.first?.message)
            #expect(why.hasPrefix("the manifest belongs to root (uid 0); with run_as: owner a job runs as its manifest's owner"))
            #expect(!spool.isAccepted("byroot"))

            // Alice may cancel her own: the whole process group, hers, goes.
            let marker = "sleep 3044"   // a duration no other test uses: the sleep itself is looked for
            try spool.drop("mine.yaml", "steps: [{name: s, run: \"\(marker)\"}]\n", as: "alice")
            try spool.waitFor("mine", [.running])
            #expect(eventually { !processes(matching: marker).isEmpty })
            try spool.drop("mine-stop.yaml", "action: cancel\njob: mine\n", as: "alice")
            #expect(try spool.waitFor("mine").state == .cancelled)
            #expect(eventually(timeout: 10) { processes(matching: marker).isEmpty }, "left: \(describeProcesses(processes(matching: marker)))")
        }

        @Test func noLinkMakesAJobRunAsSomeoneElse() throws {
            let spool = try TestSpool(config: "run_as: owner")
            try spool.startDaemon()
            // Bob's manifest, outside the inbox.
            let bobs = spool.base + "/bobs.yaml"
            try "steps: [{name: s, run: \"id -un\"}]\n".write(toFile: bobs, atomically: true, encoding: .utf8)
            let (bob, bobGroup) = try #require(account("bob"))
            chown(bobs, bob, bobGroup)
            chmod(spool.base, 0o755)
            // Alice links to it — a symlink, and (as if protected_hardlinks were off) a hard link.
            #expect(try runAs("alice", ["/bin/ln", "-s", bobs, spool.layout.inbox + "/via-symlink.yaml"]).code == 0 || symlink(bobs, spool.layout.inbox + "/via-symlink.yaml") == 0)
            #expect(link(bobs, spool.layout.inbox + "/via-hardlink.yaml") == 0)
            #expect(eventually { spool.isRejected("via-symlink.yaml") && spool.isRejected("via-hardlink.yaml") })
            #expect(try spool.rejection("via-symlink.yaml").reason == "symlink")
            #expect(try spool.rejection("via-hardlink.yaml").reason == "hard link")
            #expect(!spool.isAccepted("via-symlink") && !spool.isAccepted("via-hardlink"))
        }

        @Test func inputsAreCheckedWithTheOwnersRights() throws {
            let spool = try TestSpool(config: "run_as: owner")
            try spool.startDaemon()
            let secret = spool.base + "/root-only.txt"
            try "secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
            chmod(secret, 0o600)
            chmod(spool.base, 0o755)
            try spool.drop("peek.yaml", """
                steps: [{name: s, run: "cat \\"$HOPPER_INPUT_DATA\\""}]
                inputs: {data: \(secret)}
                """, as: "alice")
            let s = try spool.waitFor("peek")
            #expect(s.state == .failed)
            #expect(s.error?.message == "input data: \(secret) is not readable")
            #expect(!spool.log("peek", "s").contains("secret"))
        }

        @Test func linksPlantedInTheJobsFoldersGiveNoRootRights() throws {
            let spool = try TestSpool(config: "run_as: owner")
            try spool.startDaemon()
            // A folder and a file only root may write.
            let target = spool.base + "/root-target"
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            chmod(spool.base, 0o755)
            chmod(target, 0o755)
            try "untouched\n".write(toFile: target + "/victim", atomically: true, encoding: .utf8)
            // Alice's step swaps results/ and the status file's temporary name for links there,
            // and plants a supervisor record naming process 1.
            try spool.drop("trap.yaml", """
                steps:
                  - name: plant
                    run: |
                      box="$HOPPER_WORKSPACE/../../outbox/$HOPPER_JOB_ID"
                      rm -rf "$box/results"; ln -s \(target) "$box/results"
                      ln -sf \(target)/victim "$box/.status.json.tmp"
                      mkdir -p out; echo data > out/r.txt
                    outputs: ["out/*"]
                """, as: "alice")
            let s = try spool.waitFor("trap")
            #expect(s.state == .failed)
            #expect(s.error?.message.contains("publishing the results of step plant failed") == true, "\(s.error?.message ?? "")")
            #expect(try String(contentsOfFile: target + "/victim", encoding: .utf8) == "untouched\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["victim"])
            #expect(owner(target + "/victim")?.uid == 0)
        }

        @Test func cleanRemovesTheWorkspaceAsItsOwner() throws {
            let spool = try TestSpool(config: "run_as: owner")
            try spool.startDaemon()
            let keep = spool.base + "/keep"
            try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            try "keep\n".write(toFile: keep + "/file", atomically: true, encoding: .utf8)
            // A link to a folder of root's inside the workspace: removing the workspace must not follow it.
            try spool.drop("tidy.yaml", "steps: [{name: s, run: \"ln -s \(keep) link; mkdir d; echo x > d/f\"}]\n", as: "alice")
            #expect(try spool.waitFor("tidy").state == .completed)
            try spool.drop("tidy-clean.yaml", "action: clean\njob: tidy\n", as: "alice")
            #expect(eventually { !FileOps.exists(spool.layout.workspace("tidy")) })
            #expect(FileOps.exists(keep + "/file"))
        }
    }
}
