// The spool's disk fills up while jobs run, with the disk guard off (`min_free_space: 0`, as
// when one job's output fills the disk after intake): no file is lost, no status is torn, and
// no job is left saying `pending` or `running` once the daemon has finished with it — a job
// that failed for lack of space has that reason in its status.json as soon as space allows;
// intake goes on by itself.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct OutboxFull {
        @Test func aFullSpoolDiskLeavesNoJobInLimbo() throws {
            let spool = try TestSpool(config: "max_running: 2\nmin_free_space: 0\nstate: STATE")
            try (try String(contentsOfFile: spool.configPath, encoding: .utf8))
                .replacingOccurrences(of: "state: STATE", with: "state: \(spool.base)/state")
                .write(toFile: spool.configPath, atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: spool.root, withIntermediateDirectories: true)
            let mount = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=12m", "tmpfs", spool.root])
            try #require(mount.code == 0, "mount tmpfs: \(mount.stderr)")
            defer { spool.killDaemon(); _ = try? runProgram("/bin/umount", ["-l", spool.root]) }
            try spool.startDaemon()
            let go = spool.base + "/go"
            let count = 30
            for i in 0..<count {
                try spool.drop("f\(i).yaml", """
                    steps:
                      - {name: wait, run: "while [ ! -e \(go) ]; do sleep 0.05; done"}
                      - {name: write, run: "head -c 300000 /dev/zero > big.bin", outputs: [big.bin]}
                    """)
            }
            #expect(eventually { spool.inboxNames().isEmpty && spool.outboxIDs().count == count }, "\(spool.logText())")

            // Fill the disk to the last block, then let the jobs go.
            let filler = spool.root + "/filler"
            _ = try runProgram("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=64k"])
            try "".write(toFile: go, atomically: true, encoding: .utf8)
            #expect(eventually(timeout: 60) { spool.logText().contains("status.write_waiting") }, "\(spool.logText().suffix(3000))")
            #expect(spool.daemon?.isRunning == true)

            // Space returns: every job reaches an end, written to its status.json.
            unlink(filler)
            let ids = (0..<count).map { "f\($0)" }
            let settled = eventually(timeout: 120) { ids.allSatisfy { (try? spool.status($0))?.state.isTerminal == true } }
            #expect(settled, "not ended: \(ids.filter { (try? spool.status($0))?.state.isTerminal != true })\n\(spool.logText().suffix(3000))")
            var failedForSpace = 0
            for id in ids {
                guard let s = try? spool.status(id) else { Issue.record("\(id): status.json does not parse"); continue }
                if s.state == .failed {
                    let why = (s.error?.message ?? "") + " " + s.steps.compactMap(\.detail).joined(separator: " ")
                    #expect(why.contains("No space left on device") || why.contains("exited with"), "\(id): \(why)")
                    if why.contains("No space left on device") { failedForSpace += 1 }
                } else {
                    #expect(s.state == .completed, "\(id): \(s.state)")
                }
            }
            #expect(spool.logText().contains("status.written"), "a status waited for space and was written")
            // The store agrees; intake goes on by itself.
            let ls = try spool.hopper("ls", "--config", spool.configPath, "--state", "pending")
            #expect(ls.stdout == "no jobs\n", "\(ls.stdout)")
            try spool.drop("after.yaml", "steps: [{name: a, run: \"true\"}]\n")
            #expect(try spool.waitFor("after").state == .completed)
            print("full disk: \(count) jobs, \(failedForSpace) failed for lack of space, the rest completed; none left pending or running")
        }
    }
}
