// The real daemon on a temporary spool: accepting, rejecting, queues, polling, restarts.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// All integration tests run one at a time: each starts real daemons and loads both cores.
@Suite(.serialized) struct Integration {}

extension Integration {
    @Suite struct Intake {
        @Test(arguments: SpoolPlace.allCases) func acceptedManifestBecomesPendingJob(on place: SpoolPlace) throws {
            let spool = try TestSpool(config: "max_running: 1", on: place)
            try spool.startDaemon()
            // Occupy the only slot, so that the job stays pending.
            try spool.drop("busy.yaml", "steps: [{name: a, run: \"sleep 30\"}]\n")
            try spool.waitFor("busy", [.running])
            let manifest = demoManifest(sample: "S001", priority: 5)
            try spool.drop("S001-qc.yaml", manifest)
            #expect(eventually { spool.isAccepted("S001-qc") }, "\(spool.logText())")
            #expect(spool.inboxNames().isEmpty)
            #expect(try String(contentsOfFile: spool.layout.manifest("S001-qc"), encoding: .utf8) == manifest)
            let status = try spool.status("S001-qc")
            #expect(status.state == .pending)
            #expect(status.workflow == "demo")
            #expect(status.priority == 5)
            #expect(status.queue == "default")
            #expect(status.owner == Accounts.currentUser)
            #expect(status.description == "Test job for S001")
            #expect(status.steps.map(\.name) == ["prepare", "analyse", "report"])
            #expect(status.steps.allSatisfy { $0.state == .pending })
            #expect(Timestamp.parse(status.submittedAt) != nil)
            // Every key is present, null where empty.
            let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: spool.layout.status("S001-qc")))) as! [String: Any]
            for key in ["id", "state", "workflow", "owner", "queue", "priority", "description", "submitted_at", "started_at",
                        "finished_at", "current_step", "progress", "steps", "executor", "error", "results", "hopper_version"] {
                #expect(raw.keys.contains(key), "status.json lacks \(key)")
            }
            let events = try String(contentsOfFile: spool.layout.events("S001-qc"), encoding: .utf8).split(separator: "\n")
            #expect(events.count == 1)
            let event = try JSONDecoder().decode(JobEvent.self, from: Data(events[0].utf8))
            #expect(event.event == "accepted" && event.state == .pending)
            #expect(!FileOps.exists(spool.layout.staging + "/S001-qc"))

            let show = try spool.hopper("status", "S001-qc", "--spool", spool.root)
            #expect(show.code == 0)
            #expect(show.stdout.contains("S001-qc  pending"))
            #expect(show.stdout.contains("workflow     demo"))
            #expect(spool.stopDaemon() == 0)
        }

        @Test(arguments: SpoolPlace.allCases) func invalidManifestIsRejectedWithPositions(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            try spool.drop("S002.yaml", """
                workflow: demo
                params:
                  sample: S002
                prority: 3
                """)
            #expect(eventually { spool.isRejected("S002.yaml") }, "\(spool.logText())")
            let r = try spool.rejection("S002.yaml")
            #expect(r.file == "S002.yaml")
            #expect(r.reason == "invalid manifest")
            #expect(r.errors.count == 1)
            #expect(r.errors.first?.line == 4)
            #expect(r.errors.first?.column == 1)
            #expect(r.errors.first?.message.contains("unknown key \"prority\"") == true)
            #expect(!spool.isAccepted("S002"))
            let show = try spool.hopper("status", "S002", "--spool", spool.root)
            #expect(show.code == 1)
            #expect(show.stderr.contains("S002.yaml was rejected (invalid manifest)"))
            #expect(show.stderr.contains("S002.yaml:4:1:"))
        }

        @Test(arguments: SpoolPlace.allCases) func duplicateIDIsRejectedAndNeverRunsTwice(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            try spool.drop("dup.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("dup") })
            try spool.drop("dup.yaml", demoManifest(sample: "again"))
            #expect(eventually { spool.isRejected("dup.yaml") })
            #expect(try spool.rejection("dup.yaml").errors.first?.message.contains("job dup already exists") == true)
            // A third drop of the same name gets a fresh name in rejected/, never overwriting.
            try spool.drop("dup.yaml", demoManifest(sample: "third"))
            #expect(eventually { spool.isRejected("dup.yaml.2") })
            #expect(try spool.rejection("dup.yaml.2").rejectedAs == "dup.yaml.2")
            #expect(try String(contentsOfFile: spool.layout.manifest("dup"), encoding: .utf8) == demoManifest())
        }

        @Test func queueFolderCreatedLaterIsWatchedWithoutRestart() throws {
            let spool = try TestSpool(config: "queues:\n  seq1: {executor: local}\n  demux: {workflow: demo}")
            try spool.startDaemon()
            try FileManager.default.createDirectory(atPath: spool.layout.inbox + "/seq1", withIntermediateDirectories: false)
            usleep(100_000)
            try spool.drop("Q1.yaml", demoManifest(), queue: "seq1")
            #expect(eventually { spool.isAccepted("Q1") }, "\(spool.logText())")
            #expect(try spool.status("Q1").queue == "seq1")
            #expect(eventually { spool.heartbeat()?.inboxes.contains { $0.queue == "seq1" && $0.mode == "inotify" } == true })
            // A queue's default workflow applies to manifests that name none.
            try FileManager.default.createDirectory(atPath: spool.layout.inbox + "/demux", withIntermediateDirectories: false)
            usleep(100_000)
            try spool.drop("D1.yaml", "params: {sample: D1}\n", queue: "demux")
            #expect(eventually { spool.isAccepted("D1") }, "\(spool.logText())")
            #expect(try spool.status("D1").workflow == "demo")
            #expect(try spool.status("D1").queue == "demux")
        }

        @Test func pollModeAcceptsFileOnceItSettles() throws {
            let spool = try TestSpool(config: "watch: poll")
            try spool.startDaemon()
            #expect(spool.heartbeat()?.inboxes.first?.mode == "poll")
            // Written in place (no rename), in two parts: accepted only once complete.
            let path = spool.layout.inbox + "/P1.yaml"
            let fd = open(path, O_WRONLY | O_CREAT, 0o644)
            let first = Array("workflow: demo\n".utf8)
            write(fd, first, first.count)
            usleep(100_000)
            let rest = Array("params:\n  sample: P1\n".utf8)
            write(fd, rest, rest.count)
            close(fd)
            #expect(eventually { spool.isAccepted("P1") }, "\(spool.logText())")
            #expect(try spool.status("P1").workflow == "demo")
        }

        @Test func networkFilesystemInboxIsPolledAutomatically() throws {
            let spool = try TestSpool()
            spool.extraEnv["HOPPER_FAKE_FSTYPE"] = spool.layout.inbox + "=nfs"
            try spool.startDaemon()
            #expect(spool.heartbeat()?.inboxes.first?.mode == "poll")
            #expect(spool.logText().contains("watch.mode=poll"))
            try spool.drop("N1.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("N1") }, "\(spool.logText())")
        }

        @Test func stateOnNetworkFilesystemIsRefused() throws {
            let spool = try TestSpool()
            spool.extraEnv["HOPPER_FAKE_FSTYPE"] = spool.layout.state + "=nfs"
            let p = try spool.startDaemon(waitReady: false)
            p.waitUntilExit()
            #expect(p.terminationStatus == 1)
            #expect(spool.logText().contains("is on nfs"), "\(spool.logText())")
        }

        @Test(arguments: SpoolPlace.allCases) func secondDaemonOnSameSpoolIsRefused(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            let first = try spool.startDaemon()
            let second = try runProgram(Paths.hopper, ["daemon", "--config", spool.configPath])
            #expect(second.code == 1)
            #expect(second.stderr.contains("another hopper daemon (pid \(first.processIdentifier)) is already running"), "\(second.stderr)")
            // A second host (or unit) with its own state/ on its own disk: refused by the spool
            // lease, naming the holder's host, pid and state folder.
            let otherConfig = spool.base + "/other.yaml"
            try "spool: \(spool.root)\nstate: \(spool.base)/other-state\nworkflows: \(spool.workflows)\nmin_free_space: 0\n"
                .write(toFile: otherConfig, atomically: true, encoding: .utf8)
            let host = Procfs.hostName()
            for env in [[:], ["HOPPER_FAKE_HOSTNAME": "login2"]] {
                let third = try runProgram(Paths.hopper, ["daemon", "--config", otherConfig], env: env)
                #expect(third.code == 1)
                let whereText = env.isEmpty ? "on this host (\(host))" : "on host \(host)"
                #expect(third.stderr.contains("another hopper daemon (pid \(first.processIdentifier)) is already running on \(spool.root): \(whereText), state \(spool.layout.state)"), "\(third.stderr)")
            }
            #expect(!FileOps.exists(spool.base + "/other-state/hopper.sqlite"))
            #expect(first.isRunning)
        }

        @Test(arguments: SpoolPlace.allCases) func filesPresentAtStartAreFoundByStartupScan(on place: SpoolPlace) throws {
            let spool = try TestSpool(on: place)
            try spool.startDaemon()
            #expect(spool.stopDaemon() == 0)
            #expect(spool.heartbeat()?.state == "stopped")
            for i in 0..<20 { try spool.drop("early\(i).yaml", demoManifest()) }
            try spool.drop("broken.yaml", "workflow: [")
            try spool.startDaemon()
            #expect(eventually { (0..<20).allSatisfy { spool.isAccepted("early\($0)") } }, "\(spool.logText())")
            #expect(eventually { spool.isRejected("broken.yaml") })
        }

        @Test func sigtermExitsCleanlyAndRestartKeepsJobs() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("keep.yaml", demoManifest())
            #expect(eventually { spool.isAccepted("keep") })
            #expect(spool.stopDaemon() == 0)
            try spool.startDaemon()
            let ls = try spool.hopper("ls", "--spool", spool.root, "--json")
            #expect(ls.stdout.contains("\"id\":\"keep\""))
            #expect(spool.logText().contains("daemon.stopped"))
        }
    }
}
