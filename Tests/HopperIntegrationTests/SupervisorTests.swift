// hopper-supervise on its own: how it starts a step (posix_spawnp, or fork for the mock step
// and for a program that cannot be started), what it records, with and without
// --sync-unless-parent (the daemon taking over the exit record's fsync), and how it ends a step
// at its timeout. Cancelling through it: CancelTests.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SupervisorTests {
    static var supervisor: String { (Paths.hopper as NSString).deletingLastPathComponent + "/hopper-supervise" }

    func dir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-sup-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func run(_ d: String, _ args: [String]) throws -> (code: Int32, log: String, exit: String) {
        let r = try runProgram(Self.supervisor, ["--record", d + "/s.1.json", "--log", d + "/s.log"] + args)
        let log = (try? String(contentsOfFile: d + "/s.log", encoding: .utf8)) ?? ""
        let exit = (try? String(contentsOfFile: d + "/s.1.json.exit", encoding: .utf8)) ?? ""
        return (r.code, log, exit)
    }

    @Test(arguments: [[String](), ["--sync-unless-parent", String(getpid())], ["--sync-unless-parent", "1"]])
    func recordsTheExitStatusWithOrWithoutItsOwnFsync(extra: [String]) throws {
        let d = try dir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try run(d, extra + ["--", "/bin/sh", "-c", "printf '%s|' \"$0\" \"$1\"; read x || echo stdin-empty; exit 3", "a b", "c"])
        #expect(r.code == 3)
        #expect(r.log.contains("a b|c|stdin-empty"))
        #expect(r.exit.contains("\"exit_code\": 3"))
        #expect(try FileOps.listDirectory(d).sorted() == ["s.1.json", "s.1.json.exit", "s.log"])
    }

    @Test func theStepGetsDefaultSignalHandlingAndItsSignalIsRecorded() throws {
        let d = try dir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // The supervisor catches SIGTERM; its step must not inherit that.
        let r = try run(d, ["--", "/bin/sh", "-c", "kill -TERM $$; sleep 5"])
        #expect(r.code == 128 + 15)
        #expect(r.exit.contains("\"signal\": 15"))
    }

    @Test func aProgramThatCannotStartIsReportedAsAShellWould() throws {
        let d = try dir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let missing = try run(d, ["--shell", "no-such-program-hopper"])
        #expect(missing.code == 127)
        #expect(missing.log.contains("no-such-program-hopper: command not found"))
        #expect(missing.exit.contains("\"exit_code\": 127"))

        let e = try dir()
        defer { try? FileManager.default.removeItem(atPath: e) }
        try "echo hi\n".write(toFile: e + "/plain.sh", atomically: false, encoding: .utf8)
        let notExecutable = try run(e, ["--", e + "/plain.sh"])
        #expect(notExecutable.code == 126)
        #expect(notExecutable.log.contains("cannot run \(e)/plain.sh"))
    }

    @Test func aBlockedSignalMaskFromItsParentIsNotInherited() throws {
        let d = try dir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // Started by a parent that blocks SIGCHLD and SIGTERM (as threads of a multi-threaded
        // program often do): the supervisor must still see its step end, and the step must
        // start with no signal blocked. `timeout` bounds the test should it not.
        let wrapper = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM}); os.execv(sys.argv[1], sys.argv[1:])"
        let r = try runProgram("/usr/bin/timeout", ["-s", "KILL", "20", "/usr/bin/env", "python3", "-c", wrapper, Self.supervisor,
                                                    "--record", d + "/s.1.json", "--log", d + "/s.log", "--",
                                                    "/bin/sh", "-c", "grep SigBlk /proc/self/status; exit 4"])
        #expect(r.code == 4)
        let log = (try? String(contentsOfFile: d + "/s.log", encoding: .utf8)) ?? ""
        #expect(log.contains("SigBlk:\t0000000000000000"), "\(log)")
    }

    @Test func aTimeoutEndsTheStepsWholeGroupAndIsRecordedAsTimedOut() throws {
        let d = try dir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // The step and what it started ignore SIGTERM: the SIGKILL after the grace ends them all.
        let r = try run(d, ["--timeout", "0.3", "--grace", "0.2", "--shell", "trap '' TERM; sleep 40996.5 & sleep 40996.6; wait"])
        #expect(r.code == 128 + 9)
        #expect(r.exit.contains("\"outcome\": \"timed_out\""), "\(r.exit)")
        #expect(r.exit.contains("\"signal\": 9"))
        #expect(r.log.contains("step timed out after 0.3 s: SIGTERM, then SIGKILL after 0.2 s"))
        #expect(eventually(timeout: 5) { processes(matching: "sleep 40996.").isEmpty })
    }

    @Test func theMockStepStillRuns() throws {
        let d = try dir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try run(d, ["--mock", "0.01,0,1"])
        #expect(r.code == 0)
        #expect(r.log.contains("mock step"))
    }
}
