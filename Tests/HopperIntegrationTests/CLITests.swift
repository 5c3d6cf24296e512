// The command line, as a user runs it: whole outputs and exit codes.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct CLI {
        @Test func submitValidatesDropsAtomicallyAndPrintsTheID() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let file = spool.base + "/run42.yaml"
            try demoManifest(sample: "S042").write(toFile: file, atomically: true, encoding: .utf8)
            let r = try spool.hopper("submit", file, "--spool", spool.root)
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout == "run42\n")
            #expect(r.stderr.isEmpty, "\(r.stderr)")
            #expect(eventually { spool.isAccepted("run42") })
            // --id and --queue
            let r2 = try spool.hopper("submit", file, "--spool", spool.root, "--id", "run42-b", "--queue", "fast", "--create-queue")
            #expect(r2.code == 0 && r2.stdout == "run42-b\n", "\(r2.stderr)")
            #expect(eventually { spool.isAccepted("run42-b") })
            #expect(try spool.status("run42-b").queue == "fast")
            // The same id again is refused before anything is dropped.
            let again = try spool.hopper("submit", file, "--spool", spool.root)
            #expect(again.code == 1)
            #expect(again.stderr == "hopper: job run42 already exists in \(spool.layout.outbox); choose another id with --id, or --id auto\n")
        }

        @Test func submitRefusesAnInvalidManifestWithPositions() throws {
            let spool = try TestSpool()
            let file = spool.base + "/bad.yaml"
            try "workflow: demo\nparams:\n  sample: S1\nretries: many\n".write(toFile: file, atomically: true, encoding: .utf8)
            try spool.layout.create()
            let r = try spool.hopper("submit", file, "--spool", spool.root, "--config", spool.configPath)
            #expect(r.code == 1)
            #expect(r.stderr.contains("bad.yaml:4:10: retries: "), "\(r.stderr)")
            #expect(r.stderr.hasSuffix("hopper: \(file) is not a valid manifest; nothing was submitted\n"))
            #expect(spool.inboxNames().isEmpty)
        }

        @Test func submitWarnsWhenNoDaemonRuns() throws {
            let spool = try TestSpool()
            try spool.layout.create()
            let file = spool.base + "/w1.yaml"
            try demoManifest().write(toFile: file, atomically: true, encoding: .utf8)
            let r = try spool.hopper("submit", file, "--config", spool.configPath)
            #expect(r.code == 0 && r.stdout == "w1\n")
            #expect(r.stderr.contains("hopper: warning: no hopper daemon has run on \(spool.root) yet"), "\(r.stderr)")
            #expect(spool.inboxNames() == ["w1.yaml"])
            let status = try spool.hopper("status", "w1", "--config", spool.configPath)
            #expect(status.code == 1)
            #expect(status.stderr.contains("job w1 is still in the inbox"), "\(status.stderr)")
        }

        @Test func validateReportsEveryErrorAndExitsOne() throws {
            let spool = try TestSpool()
            let good = spool.base + "/good.yaml", bad = spool.base + "/S001.yaml"
            try demoManifest().write(toFile: good, atomically: true, encoding: .utf8)
            try """
                workflow: demo
                params:
                  sample: S001
                  colour: red
                priority: high
                """.write(toFile: bad, atomically: true, encoding: .utf8)
            let ok = try runProgram(Paths.hopper, ["validate", "--workflows", spool.workflows, good])
            #expect(ok.code == 0)
            #expect(ok.stdout == "\(good): ok (job good, workflow demo, 3 steps)\n")
            let r = try runProgram(Paths.hopper, ["validate", "--workflows", spool.workflows, good, bad])
            #expect(r.code == 1)
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(r.stdout)")
            #expect(lines.contains { $0.hasPrefix("\(bad):4:3: params.colour: unknown param \"colour\"") }, "\(r.stdout)")
            #expect(lines.contains { $0.hasPrefix("\(bad):5:11: priority: ") }, "\(r.stdout)")
        }

        @Test func lsIsNewestFirstAndFilters() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            for i in 0..<5 {
                try spool.drop("L\(i).yaml", demoManifest())
                #expect(eventually { spool.isAccepted("L\(i)") })
                usleep(5_000)
            }
            let r = try spool.hopper("ls", "--spool", spool.root)
            #expect(r.code == 0)
            let ids = r.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: " ")[0]) }
            #expect(ids == ["L4", "L3", "L2", "L1", "L0"])
            let limited = try spool.hopper("ls", "--spool", spool.root, "--limit", "2", "--json")
            let rows = limited.stdout.split(separator: "\n")
            #expect(rows.count == 2 && rows[0].contains("\"id\":\"L4\""))
            let none = try spool.hopper("ls", "--spool", spool.root, "--state", "failed")
            #expect(none.stdout == "no jobs\n")
            let badState = try spool.hopper("ls", "--spool", spool.root, "--state", "runing")
            #expect(badState.code != 0 && badState.stderr.contains("unknown state \"runing\""))
            // Without the store (another host): the same answer from the outbox.
            spool.stopDaemon()
            try FileManager.default.moveItem(atPath: spool.layout.state, toPath: spool.base + "/state-moved")
            let scanned = try spool.hopper("ls", "--spool", spool.root)
            let scannedIDs = scanned.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: " ")[0]) }
            #expect(scannedIDs == ids)
        }

        @Test func clearOneLineErrors() throws {
            let missing = try runProgram(Paths.hopper, ["ls", "--spool", "/nonexistent/spool"])
            #expect(missing.code == 1)
            #expect(missing.stderr == "hopper: /nonexistent/spool is not a hopper spool (no inbox/ folder); start `hopper daemon --spool /nonexistent/spool` once to create it\n")
            let spool = try TestSpool()
            try spool.layout.create()
            let unknown = try spool.hopper("status", "nope", "--spool", spool.root)
            #expect(unknown.code == 66)   // no job has the id (1: a job that did not complete)
            #expect(unknown.stderr == "hopper: no job nope in \(spool.root) (see `hopper ls`)\n")
            let noSpool = try runProgram(Paths.hopper, ["ls"], cwd: "/")
            #expect(noSpool.code == 1)
            #expect(noSpool.stderr.hasPrefix("hopper: no spool given"))
        }
    }
}

extension Integration.CLI {
    @Test func systemShowsTheHeartbeatAndWhetherTheDaemonRuns() throws {
        let spool = try TestSpool(config: "queues:\n  seq1: {}")
        try spool.layout.create()
        let none = try spool.hopper("system", "--spool", spool.root)
        #expect(none.code == 1 && none.stderr == "hopper: no hopper daemon has run on \(spool.root) yet (no system/status.json)\n")
        let daemon = try spool.startDaemon()
        let r = try spool.hopper("system", "--spool", spool.root)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("daemon     running (state running, pid \(daemon.processIdentifier) on "), "\(r.stdout)")
        #expect(r.stdout.contains("inbox      \(spool.layout.inbox)  inotify"))
        #expect(r.stdout.contains("intake     open; 0 accepted, 0 rejected since start"))
        #expect(r.stdout.contains("\nstore      ok\n"), "\(r.stdout)")
        #expect(spool.stopDaemon() == 0)
        let stopped = try spool.hopper("system", "--spool", spool.root)
        #expect(stopped.code == 1 && stopped.stdout.hasPrefix("daemon     NOT RUNNING (state stopped"), "\(stopped.stdout)")
        let json = try spool.hopper("system", "--spool", spool.root, "--json")
        #expect(json.code == 0 && json.stdout.contains("\"state\": \"stopped\""))
    }
}
