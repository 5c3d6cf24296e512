// The daemon's store fails while jobs run: `state/` (a small tmpfs) fills up. The daemon says
// so in its log and heartbeat, pauses intake leaving every dropped file where it is, lets
// running jobs finish (the spool is the truth), and resumes by itself when the store takes
// writes again. A read-only `state/` cannot be made while SQLite holds its files open for
// writing (remount answers EBUSY, and root ignores modes), so it is tested at start: refused
// with a reason.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension TestSpool {
    /// `state/` on its own small tmpfs (unmounted when the test ends).
    func stateOnTmpfs() throws -> String {
        let state = base + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let mount = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", state])
        guard mount.code == 0 else { throw TestFailure("mount tmpfs: \(mount.stderr)") }
        try (try String(contentsOfFile: configPath, encoding: .utf8) + "\nstate: \(state)\n")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        return state
    }
}

extension Integration {
    @Suite struct StoreFailure {
        @Test func aFullStorePausesIntakeSaysSoAndResumes() throws {
            let spool = try TestSpool()
            let state = try spool.stateOnTmpfs()
            defer { _ = try? runProgram("/bin/umount", ["-l", state]) }
            try spool.startDaemon()
            let flag = spool.base + "/go"
            try spool.drop("long.yaml", "steps: [{name: a, run: \"while [ ! -e \(flag) ]; do sleep 0.1; done\"}, {name: b, run: \"true\"}]\n")
            try spool.waitFor("long", [.running])

            // Fill the store's disk: the next write that needs a new page fails.
            let filler = state + "/filler"
            _ = try runProgram("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=64k"])
            // The running job ends while the store cannot be written: the spool records it.
            try "".write(toFile: flag, atomically: true, encoding: .utf8)
            #expect(try spool.waitFor("long").state == .completed)
            let said = eventually(timeout: 20) {
                guard let beat = spool.heartbeat() else { return false }
                return beat.store?.ok == false && beat.intake.paused
            }
            #expect(said, "\(spool.heartbeat().map { "\($0)" } ?? "no heartbeat")\n\(spool.logText())")
            let beat = spool.heartbeat()
            #expect(beat?.store?.error?.isEmpty == false)
            #expect(beat?.intake.reason?.contains("intake is paused") == true, "\(String(describing: beat?.intake.reason))")
            #expect(spool.logText().contains("store.failing"), "\(spool.logText())")
            for i in 0..<3 { try spool.drop("held\(i).yaml", trueManifest("held while the store fails")) }
            usleep(1_500_000)
            #expect(Set(spool.inboxNames()) == ["held0.yaml", "held1.yaml", "held2.yaml"], "files left where they were")
            #expect(((try? FileOps.listDirectory(spool.layout.rejected)) ?? []).isEmpty)
            #expect(spool.daemon?.isRunning == true)
            let status = try spool.hopper("system", "--config", spool.configPath)
            #expect(status.stdout.contains("intake is paused"), "\(status.stdout)\(status.stderr)")

            unlink(filler)
            for i in 0..<3 { #expect(try spool.waitFor("held\(i)").state == .completed, "\(spool.logText())") }
            #expect(spool.logText().contains("store.recovered"))
            #expect(eventually { spool.heartbeat()?.store?.ok == true && spool.heartbeat()?.intake.paused == false })
            // A restart reconciles the store with the spool: every job as its status.json says.
            #expect(spool.stopDaemon() == 0)
            try spool.startDaemon()
            #expect(eventually { spool.heartbeat()?.jobs["completed"] == 4 }, "\(String(describing: spool.heartbeat()?.jobs))")
        }

        @Test func aReadOnlyStoreAtStartIsRefusedWithTheReason() throws {
            let spool = try TestSpool()
            let state = try spool.stateOnTmpfs()
            defer { _ = try? runProgram("/bin/umount", ["-l", state]) }
            try spool.startDaemon()
            #expect(spool.stopDaemon() == 0)
            let ro = try runProgram("/bin/mount", ["-o", "remount,ro", state])
            try #require(ro.code == 0, "remount ro: \(ro.stderr)")
            let r = try runProgram(Paths.hopper, ["daemon", "--config", spool.configPath])
            #expect(r.code == 1)
            #expect(r.stderr.contains(state), "\(r.stderr)")
            #expect(r.stderr.lowercased().contains("read-only") || r.stderr.lowercased().contains("readonly"), "\(r.stderr)")
        }
    }
}
