// SLURM job arrays on the real single-node cluster: a group's children at the same step go to
// SLURM as one `sbatch --array`, counted by the wrapper scripts on the daemon's PATH; status,
// logs and exit codes stay per child; a daemon SIGKILLed between the array's sbatch and its
// answer finds every task by its mark; cancelling the group scancels the tasks.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration.Slurm {
    @Test func aGroupsChildrenGoToSlurmAsOneArrayPerStep() throws {
        // A wide window: the cluster (2 CPUs) runs the six tasks in waves, and the children reach
        // step two as their tasks end; within 5 s of one another they still make one array.
        let (spool, wrappers) = try TestSpool.slurm(slurm: "array_window: 5s, array_throttle: 4", extra: "max_running: 10")
        try spool.startDaemon()
        try spool.drop("arr.yaml", """
            foreach: {rows: [{s: A}, {s: B}, {s: C}, {s: D}, {s: E}, {s: F}]}
            resources: {memory: 50M}
            steps:
              - {name: one, run: "echo one $HOPPER_PARAM_S in $HOPPER_JOB_ID task ${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID; test $HOPPER_PARAM_S != E || exit 3"}
              - {name: two, run: "echo two $HOPPER_PARAM_S"}
            """)
        let group = try spool.waitForGroup("arr", timeout: 240)
        #expect(group.state == .failed, "\(group.counts)\n\(spool.logText())")
        #expect(group.counts["completed"] == 5 && group.counts["failed"] == 1, "\(group.counts)")

        let sbatch = wrappers.calls().filter { $0.1 == "sbatch" }.count
        #expect(sbatch == 2, "one sbatch per step for the whole group, not one per child: \(sbatch)")
        var arrays: [String: Set<String>] = [:]      // step → array job ids
        for key in ["A", "B", "C", "D", "E", "F"] {
            let id = "arr.\(key)"
            let s = try spool.status(id)
            let submitted = spool.events(id).filter { $0.event == "slurm_submitted" }
            for e in submitted {
                let task = e.message?.split(separator: " ").last.map(String.init) ?? ""
                #expect(task.split(separator: "_").count == 2, "\(id): a task id <array>_<index>: \(task)")
                arrays[e.step ?? "", default: []].insert(String(task.split(separator: "_")[0]))
            }
            let log = spool.log(id, "one")
            #expect(log.contains("one \(key) in \(id) task "), "\(log)")
            #expect(log.contains("submitted to SLURM as a task of a job array"), "\(log)")
            if key == "E" {
                #expect(s.state == .failed && s.steps[0].exitCode == 3 && s.steps[1].state == .skipped, "\(s.steps)")
            } else {
                #expect(s.state == .completed, "\(id): \(s.error?.message ?? "")")
                #expect(spool.log(id, "two").contains("two \(key)"))
                // The child's own SLURM id is its task's; SLURM's record of it carries the throttle.
                let slurmID = try #require(s.executor.id)
                let job = SlurmCluster.show(slurmID)
                #expect(job["ArrayTaskThrottle"] == "4", "\(job)")
                #expect(job["JobName"] == "arr.two", "\(job)")
                #expect(job["ExitCode"] == "0:0", "\(job)")
            }
        }
        #expect(arrays["one"]?.count == 1 && arrays["two"]?.count == 1, "\(arrays)")
        // Every task of step one names its own child and the one array.
        let first = try #require(arrays["one"]?.first)
        for key in ["A", "B", "C", "D", "E", "F"] {
            #expect(spool.log("arr.\(key)", "one").contains("task \(first)_"), "\(spool.log("arr.\(key)", "one"))")
        }
        // The arrays' folders go once their tasks have returned.
        let folders = spool.layout.workspaces + "/.slurm-arrays"
        #expect(eventually(timeout: 30) { ((try? FileOps.listDirectory(folders)) ?? []).isEmpty },
                "\((try? FileOps.listDirectory(folders)) ?? [])")
    }

    @Test func anArrayIsFoundAgainAfterSigkillAndCancelScancelsItsTasks() throws {
        let (spool, wrappers) = try TestSpool.slurm(slurm: "array_window: 1s", extra: "max_running: 10")
        try spool.startDaemon()
        // sbatch submits the array, then SIGKILLs the daemon before it can read the answer.
        wrappers.touch(wrappers.killFlag)
        try spool.drop("ark.yaml", """
            foreach: {rows: [{s: A}, {s: B}, {s: C}, {s: D}]}
            resources: {memory: 50M}
            steps: [{name: long, run: "echo started $HOPPER_PARAM_S; sleep 3074"}]
            """)
        let daemon = try #require(spool.daemon)
        #expect(eventually(timeout: 120) { !daemon.isRunning }, "the sbatch wrapper did not kill the daemon")
        #expect(!FileOps.exists(wrappers.killFlag))
        #expect(FileOps.exists(spool.layout.workspace("ark.A") + "/.hopper/long.1.slurm-intent"))
        #expect(!FileOps.exists(spool.layout.workspace("ark.A") + "/.hopper/long.1.slurm-id"), "the id was recorded: \(spool.files("ark.A"))")
        try spool.startDaemon()
        // Each child finds its task by its mark: the array is not submitted again.
        let ids = ["A", "B", "C", "D"].map { "ark.\($0)" }
        var slurmIDs: [String] = []
        for id in ids {
            var last: JobStatus?
            #expect(eventually(timeout: 120) {
                last = try? spool.status(id)
                return last?.executor.id?.contains("_") == true
            }, "\(id): \(String(describing: last?.executor))\n\(spool.logText())")
            slurmIDs.append(last?.executor.id ?? "")
        }
        #expect(Set(slurmIDs.map { $0.split(separator: "_").first.map(String.init) ?? "" }).count == 1, "\(slurmIDs)")
        #expect(Set(slurmIDs).count == 4, "\(slurmIDs)")
        // Two CPUs: two tasks run, two wait.
        #expect(eventually(timeout: 120) { (try? spool.groupStatus("ark"))?.counts["running"] == 2 },
                "\(String(describing: try? spool.groupStatus("ark").counts))")
        #expect(wrappers.calls().filter { $0.1 == "sbatch" }.count == 1)

        let cancel = try spool.hopper("cancel", "ark", "--spool", spool.root)
        #expect(cancel.code == 0, "\(cancel.stdout)\(cancel.stderr)")
        let group = try spool.waitForGroup("ark", timeout: 120)
        #expect(group.state == .cancelled && group.counts["cancelled"] == 4, "\(group.counts)")
        for slurmID in slurmIDs {
            #expect(eventually(timeout: 60) { SlurmCluster.activeState(slurmID).isEmpty }, "\(slurmID) still in squeue")
        }
        #expect(eventually(timeout: 30) { processes(matching: "sleep 3074").isEmpty })
        #expect(wrappers.calls().filter { $0.1 == "sbatch" }.count == 1, "never submitted twice")
        // After the daemon's restart its batcher does not know the folder: the sweep keeps it
        // while a cancelled task's workspace (without an exit record) is still there.
        for id in ids { #expect(try spool.status(id).steps[0].state == .cancelled) }
    }
}
