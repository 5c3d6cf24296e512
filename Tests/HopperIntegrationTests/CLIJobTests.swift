// The job commands (wait, logs, results, cancel/retry/rerun/clean) against fabricated spools:
// status.json, logs and results written by hand, no daemon. Where the daemon would take a
// control request, a background thread moves the request file as the daemon does.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct CLIJobs {
        // MARK: control requests

        @Test func cancelIsAcceptedWhenTheDaemonTakesTheRequest() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .running)
            takeRequest(spool.root, job: "S001")
            let r = try spool.hopper("cancel", "S001", "--spool", spool.root)
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout == "cancel S001: accepted\n")
            #expect(r.stderr.isEmpty, "\(r.stderr)")
            let folder = spool.layout.job("S001") + "/requests"
            let names = try FileOps.listDirectory(folder)
            #expect(names.count == 1)
            let name = try #require(names.first)
            #expect(isRequestName(name, job: "S001", action: "cancel"), "\(name)")
            let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
            #expect(text == "action: cancel\njob: \"S001\"\n")
            #expect(parsedRequest(text) == ControlRequest(action: .cancel, job: "S001"))
            #expect(try FileOps.listDirectory(spool.layout.inbox).isEmpty)  // no temporary file left behind
        }

        @Test func aRequestTheDaemonRefusesExitsOneWithTheReason() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .failed)
            let why = "job S001 belongs to alice; only alice or an admin may retry it"
            takeRequest(spool.root, job: "S001", refuse: why)
            let r = try spool.hopper("retry", "S001", "--spool", spool.root)
            #expect(r.code == 1)
            #expect(r.stdout.isEmpty)
            #expect(r.stderr == "hopper: retry S001 refused: \(why)\n")
            let rejected = try FileOps.listDirectory(spool.layout.rejected).filter {
                !$0.hasSuffix(".error.json") && $0 != SpoolLayout.pageName && !$0.hasPrefix(".")   // the page and its temporary
            }
            #expect(rejected.count == 1 && isRequestName(rejected[0], job: "S001", action: "retry"), "\(rejected)")
        }

        @Test func requestsThatMeanNothingAreRefusedBeforeWriting() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "done", .completed)
            try writeJob(spool.root, "busy", .running)
            try writeJob(spool.root, "new", .pending)
            let cases: [([String], String)] = [
                (["cancel", "done"], "job done is completed; cancel applies to pending, waiting, queued or running jobs"),
                (["retry", "busy"], "job busy is running; retry applies to failed or cancelled jobs"),
                (["retry", "done"], "job done is completed; retry applies to failed or cancelled jobs"),
                (["rerun", "busy"], "job busy is running; rerun applies to completed, failed or cancelled jobs"),
                (["clean", "new"], "job new is pending; clean applies to completed, failed or cancelled jobs"),
                (["rerun", "done", "--step", "align", "--step", "nope"], "job done has no step \"nope\"; its steps are qc, align, call"),
                (["cancel", "nope"], "no job nope in \(spool.root) (see `hopper ls`)"),
            ]
            for (args, message) in cases {
                let r = try runProgram(Paths.hopper, args + ["--spool", spool.root])
                // 66: no job has the id; 1: a refusal.
                #expect(r.code == (args[1] == "nope" ? 66 : 1), "\(args)")
                #expect(r.stdout.isEmpty, "\(args)")
                #expect(r.stderr == "hopper: \(message)\n", "\(args)")
            }
            let badTimeout = try spool.hopper("cancel", "busy", "--wait-timeout", "soon", "--spool", spool.root)
            #expect(badTimeout.code != 0 && badTimeout.stderr.contains("--wait-timeout \"soon\" is not a duration"), "\(badTimeout.stderr)")
            #expect(try FileOps.listDirectory(spool.layout.inbox).isEmpty)
        }

        @Test func rerunWithStepsAndNoWaitLeavesTheRequestInTheInbox() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .completed)
            let r = try spool.hopper("rerun", "S001", "--step", "align", "--step", "call", "--no-wait", "--spool", spool.root)
            #expect(r.code == 0, "\(r.stderr)")
            let names = try FileOps.listDirectory(spool.layout.inbox)
            #expect(names.count == 1)
            let name = try #require(names.first)
            #expect(isRequestName(name, job: "S001", action: "rerun"), "\(name)")
            #expect(r.stdout == "rerun S001: requested (\(spool.layout.inbox)/\(name))\n")
            #expect(r.stderr.hasPrefix("hopper: warning: no hopper daemon has run on \(spool.root) yet"), "\(r.stderr)")
            let text = try String(contentsOfFile: spool.layout.inbox + "/" + name, encoding: .utf8)
            #expect(parsedRequest(text) == ControlRequest(action: .rerun, job: "S001", steps: ["align", "call"]))
        }

        @Test func rerunOfAStepRerunsTheStepsAfterItUnlessOnly() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .completed, steps: [("qc", .completed), ("align", .completed), ("call", .completed)])
            for (extra, steps) in [([String](), ["align", "call"]), (["--only"], ["align"])] {
                let r = try runProgram(Paths.hopper, ["rerun", "S001", "--step", "align", "--no-wait", "--spool", spool.root] + extra)
                #expect(r.code == 0, "\(r.stderr)")
                let names = try FileOps.listDirectory(spool.layout.inbox)
                let name = try #require(names.first)
                let text = try String(contentsOfFile: spool.layout.inbox + "/" + name, encoding: .utf8)
                #expect(parsedRequest(text) == ControlRequest(action: .rerun, job: "S001", steps: steps), "\(extra)")
                unlink(spool.layout.inbox + "/" + name)
            }
        }

        @Test func aRequestNoDaemonTakesIsReportedAsQueued() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .cancelled)
            let r = try spool.hopper("clean", "S001", "--wait-timeout", "300ms", "--spool", spool.root)
            #expect(r.code == 0, "\(r.stderr)")
            let names = try FileOps.listDirectory(spool.layout.inbox)
            #expect(names.count == 1 && isRequestName(names[0], job: "S001", action: "clean"), "\(names)")
            #expect(r.stdout == "clean S001: requested; the request waits in the inbox (\(spool.layout.inbox)/\(names[0]))\n")
            #expect(r.stderr.hasPrefix("hopper: warning: no hopper daemon has run on \(spool.root) yet"), "\(r.stderr)")
        }

        // MARK: wait

        @Test func waitFollowsJobsUntilTheyEndAndExitsZeroWhenAllCompleted() throws {
            let spool = try fabricatedSpool(daemon: true)
            try writeJob(spool.root, "S001", .completed)
            try writeJob(spool.root, "S002", .running, progress: 0.5)
            try spool.drop("S003.yaml", demoManifest())  // submitted, not yet accepted
            let root = spool.root
            Thread.detachNewThread {
                usleep(300_000)
                try? writeJob(root, "S002", .completed)
                // The daemon accepts S003 (the manifest leaves the inbox) and runs it.
                let layout = SpoolLayout(root: root)
                try? writeJob(root, "S003", .running)
                unlink(layout.inbox + "/S003.yaml")
                usleep(300_000)
                try? writeJob(root, "S003", .completed)
            }
            let r = try spool.hopper("wait", "S001", "S002", "S003", "--spool", spool.root)
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout == "S001 completed\nS002 completed\nS003 completed\n")  // no progress line on a pipe
            #expect(r.stderr.isEmpty, "\(r.stderr)")
        }

        @Test func waitExitsOneWhenAJobDidNotComplete() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .completed)
            try writeJob(spool.root, "S002", .failed,
                         error: JobErrorInfo(step: "align", message: "step align exited with 3", exitCode: 3))
            try writeJob(spool.root, "S003", .cancelled)
            let r = try spool.hopper("wait", "S001", "S002", "S003", "--spool", spool.root)
            #expect(r.code == 1)
            #expect(r.stdout == "S001 completed\nS002 failed: step align exited with 3\nS003 cancelled\n")
            #expect(r.stderr.isEmpty, "\(r.stderr)")
        }

        @Test func waitTimesOutAndRefusesUnknownIDs() throws {
            let spool = try fabricatedSpool(daemon: true)
            try writeJob(spool.root, "S001", .completed)
            try writeJob(spool.root, "S004", .running, progress: 0.42)
            let r = try spool.hopper("wait", "S001", "S004", "--timeout", "300ms", "--spool", spool.root)
            #expect(r.code == 124)  // as timeout(1); 1 is a job that did not complete
            #expect(r.stdout == "S001 completed\nS004 running (42%)\n")
            #expect(r.stderr == "hopper: timed out after 300ms waiting for S004\n")
            let unknown = try spool.hopper("wait", "S001", "nope", "--spool", spool.root)
            #expect(unknown.code == 66)   // no job has the id
            #expect(unknown.stdout.isEmpty)
            #expect(unknown.stderr == "hopper: no job nope in \(spool.root) (see `hopper ls`)\n")
        }

        // MARK: logs

        @Test func logsOfEveryStepInOrderAndOfOneStep() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .running)
            let qc = "==> hopper: step qc attempt 1 started 2026-11-21T10:00:00.000Z <==\nqc ok"  // no final newline
            let align = "==> hopper: step align attempt 1 started 2026-11-21T10:00:01.000Z <==\n"
                + String(repeating: "aligning read batch\n", count: 10_000)  // 200 kB: several chunks
            try writeLog(spool.root, "S001", "qc", qc)
            try writeLog(spool.root, "S001", "align", align)

            let all = try spool.hopper("logs", "S001", "--spool", spool.root)
            #expect(all.code == 0, "\(all.stderr)")
            #expect(all.stdout == "==> logs/qc.log <==\n" + qc + "\n\n==> logs/align.log <==\n" + align)
            #expect(all.stderr == "step call has no log yet (state pending)\n")

            let one = try spool.hopper("logs", "S001", "align", "--spool", spool.root)
            #expect(one.code == 0 && one.stdout == align && one.stderr.isEmpty)
            let none = try spool.hopper("logs", "S001", "call", "--spool", spool.root)
            #expect(none.code == 0 && none.stdout.isEmpty)
            #expect(none.stderr == "step call has no log yet (state pending)\n")
            let unknownStep = try spool.hopper("logs", "S001", "nope", "--spool", spool.root)
            #expect(unknownStep.code == 1)
            #expect(unknownStep.stderr == "hopper: job S001 has no step \"nope\"; its steps are qc, align, call\n")
            let unknownJob = try spool.hopper("logs", "nope", "--spool", spool.root)
            #expect(unknownJob.code == 66 && unknownJob.stderr == "hopper: no job nope in \(spool.root) (see `hopper ls`)\n")
        }

        @Test func logsFollowPrintsWhatIsAppendedAndStopsWhenTheJobEnds() throws {
            let spool = try fabricatedSpool(daemon: true)
            try writeJob(spool.root, "S001", .running)
            try writeLog(spool.root, "S001", "qc", "qc ok\n")
            try writeLog(spool.root, "S001", "align", "align 1\n")
            let out = spool.base + "/follow.out"
            let p = try startProgram(Paths.hopper, ["logs", "S001", "--follow", "--spool", spool.root], stdout: out)
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
            func output() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }

            #expect(eventually { output().hasSuffix("align 1\n") }, "\(output())")
            try appendLog(spool.root, "S001", "align", "align 2\n")
            #expect(eventually { output().hasSuffix("align 2\n") }, "\(output())")
            // A later step's log appears.
            try writeJob(spool.root, "S001", .running, steps: [("qc", .completed), ("align", .completed), ("call", .running)])
            try writeLog(spool.root, "S001", "call", "call 1\n")
            #expect(eventually { output().hasSuffix("call 1\n") }, "\(output())")
            #expect(p.isRunning)
            // Bytes written just before the final status are printed, then it stops.
            try appendLog(spool.root, "S001", "call", "call 2\n")
            try writeJob(spool.root, "S001", .completed, steps: [("qc", .completed), ("align", .completed), ("call", .completed)])
            #expect(eventually { !p.isRunning }, "still following")
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            #expect(output() == "==> logs/qc.log <==\nqc ok\n\n==> logs/align.log <==\nalign 1\nalign 2\n\n==> logs/call.log <==\ncall 1\ncall 2\n")
        }

        // MARK: results

        @Test func resultsTableJSONAndVerify() throws {
            let spool = try fabricatedSpool()
            let folder = spool.layout.job("S001") + "/results"
            try FileOps.makeDirectories(folder + "/qc")
            try FileOps.makeDirectories(folder + "/calls")
            try "hello\n".write(toFile: folder + "/qc/report.html", atomically: true, encoding: .utf8)
            try Data(repeating: 0x41, count: 1_300_000).write(to: URL(fileURLWithPath: folder + "/calls/S001.vcf"))
            let sums = try runProgram("/usr/bin/env", ["sha256sum", "qc/report.html", "calls/S001.vcf"], cwd: folder)
            #expect(sums.code == 0, "\(sums.stderr)")
            try sums.stdout.write(toFile: folder + "/SHA256SUMS", atomically: true, encoding: .utf8)
            let hashes = sums.stdout.split(separator: "\n").map { String($0.prefix(64)) }
            try #require(hashes.count == 2)
            let results = [ResultFile(path: "results/qc/report.html", bytes: 6, sha256: hashes[0]),
                           ResultFile(path: "results/calls/S001.vcf", bytes: 1_300_000, sha256: hashes[1])]
            try writeJob(spool.root, "S001", .completed, results: results)

            let table = try spool.hopper("results", "S001", "--spool", spool.root)
            #expect(table.code == 0, "\(table.stderr)")
            #expect(table.stdout == """
                PATH                       SIZE  SHA256
                results/qc/report.html      6 B  \(hashes[0])
                results/calls/S001.vcf  1.2 MiB  \(hashes[1])

                """)

            let json = try spool.hopper("results", "S001", "--json", "--spool", spool.root)
            let decoded = try json.stdout.split(separator: "\n").map { try JSON.decode(ResultFile.self, from: Array($0.utf8)) }
            #expect(json.code == 0 && decoded == results)

            let ok = try spool.hopper("results", "S001", "--verify", "--spool", spool.root)
            #expect(ok.code == 0, "\(ok.stderr)")
            #expect(ok.stdout == "results/qc/report.html: OK\nresults/calls/S001.vcf: OK\n")
            #expect(ok.stderr.isEmpty, "\(ok.stderr)")

            try "HELLO\n".write(toFile: folder + "/qc/report.html", atomically: true, encoding: .utf8)  // same size
            let modified = try spool.hopper("results", "S001", "--verify", "--spool", spool.root)
            #expect(modified.code == 1)
            #expect(modified.stdout == "results/qc/report.html: FAILED\nresults/calls/S001.vcf: OK\n")
            #expect(modified.stderr == "hopper: 1 of 2 result files FAILED verification\n")

            unlink(folder + "/calls/S001.vcf")
            let missing = try spool.hopper("results", "S001", "--verify", "--spool", spool.root)
            #expect(missing.code == 1)
            #expect(missing.stdout == "results/qc/report.html: FAILED\nresults/calls/S001.vcf: FAILED (missing)\n")
            #expect(missing.stderr == "hopper: 2 of 2 result files FAILED verification\n")
        }

        @Test func noResultsYetSaysTheJobsState() throws {
            let spool = try fabricatedSpool()
            try writeJob(spool.root, "S001", .running)
            let r = try spool.hopper("results", "S001", "--spool", spool.root)
            #expect(r.code == 0 && r.stdout == "job S001 has no results yet (running)\n", "\(r.stdout)\(r.stderr)")
            let verify = try spool.hopper("results", "S001", "--verify", "--spool", spool.root)
            #expect(verify.code == 0 && verify.stdout == "job S001 has no results yet (running)\n")
            let unknown = try spool.hopper("results", "nope", "--spool", spool.root)
            #expect(unknown.code == 66 && unknown.stderr == "hopper: no job nope in \(spool.root) (see `hopper ls`)\n")
        }
    }
}

// MARK: - fabricating a spool

/// A fresh spool with its folders and no daemon.
/// A spool with no daemon; with `daemon`, a heartbeat as a live daemon's (state running, fresh
/// for an hour), so that commands that wait do not warn that no daemon runs.
private func fabricatedSpool(daemon: Bool = false) throws -> TestSpool {
    let spool = try TestSpool()
    try spool.layout.create()
    if daemon { try writeHeartbeat(spool.layout, interval: 3600) }
    return spool
}

private let threeSteps: [(String, StepState)] = [("qc", .completed), ("align", .running), ("call", .pending)]

/// Writes `outbox/<id>/status.json` (atomically, as the daemon does) for a job with three steps.
private func writeJob(_ root: String, _ id: String, _ state: JobState, steps: [(String, StepState)] = threeSteps,
                      progress: Double = 0, error: JobErrorInfo? = nil, results: [ResultFile] = []) throws {
    let layout = SpoolLayout(root: root)
    try FileOps.makeDirectories(layout.job(id) + "/logs")
    var status = JobStatus(id: id, state: state, workflow: "demo", owner: "alice", queue: "default", priority: 0,
                           description: nil, submittedAt: "2026-11-21T10:00:00.000Z",
                           steps: steps.map { StepStatus(name: $0.0, state: $0.1, log: "logs/\($0.0).log") },
                           executor: ExecutorInfo(kind: .local))
    status.progress = progress
    status.error = error
    status.results = results
    status.currentStep = steps.first { $0.1 == .running }?.0
    try FileOps.writeAtomically(layout.status(id), try JSON.pretty(status))
}

private func writeLog(_ root: String, _ id: String, _ step: String, _ text: String) throws {
    try FileOps.writeNew(SpoolLayout(root: root).job(id) + "/logs/\(step).log", Array(text.utf8))
}

private func appendLog(_ root: String, _ id: String, _ step: String, _ text: String) throws {
    try FileOps.appendLine(SpoolLayout(root: root).job(id) + "/logs/\(step).log", Array(text.utf8))
}

/// `<job>.<action>.<unix-ms>.<pid>.yaml`
private func isRequestName(_ name: String, job: String, action: String) -> Bool {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    return parts.count == 5 && parts[0] == job && parts[1] == action
        && Int64(parts[2]) != nil && Int32(parts[3]) != nil && parts[4] == "yaml"
}

private func parsedRequest(_ text: String) -> ControlRequest? {
    guard case .success(.control(let request)) = ManifestParser.parse(text: text, fileName: "r.yaml", catalog: nil) else { return nil }
    return request
}

/// Plays the daemon's part for one control request on `job`: waits (up to 20 s) for
/// `<job>.*.yaml` in the inbox, then moves it to `outbox/<job>/requests/`, or with `refuse`
/// writes `rejected/<file>.error.json` and moves it to `rejected/<file>`.
private func takeRequest(_ root: String, job: String, refuse: String? = nil) {
    Thread.detachNewThread {
        let layout = SpoolLayout(root: root)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let names = (try? FileOps.listDirectory(layout.inbox)) ?? []
            if let name = names.first(where: { $0.hasPrefix(job + ".") && $0.hasSuffix(".yaml") }) {
                let from = layout.inbox + "/" + name
                if let refuse {
                    let record = Rejection(file: name, reason: "request refused", diagnostics: [Diagnostic(message: refuse)],
                                           source: "inbox/" + name, rejectedAs: name)
                    try? FileOps.writeAtomically(layout.rejected + "/" + name + ".error.json", try JSON.pretty(record))
                    try? FileOps.rename(from, layout.rejected + "/" + name)
                } else {
                    try? FileOps.makeDirectory(layout.job(job) + "/requests")
                    try? FileOps.rename(from, layout.job(job) + "/requests/" + name)
                }
                return
            }
            usleep(20_000)
        }
    }
}

/// Starts a program in the background with its stdout going to a file.
private func startProgram(_ path: String, _ args: [String], stdout: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: stdout, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "HOPPER_SPOOL")
    environment.removeValue(forKey: "HOPPER_CONFIG")
    p.environment = environment
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
    p.standardError = FileHandle.standardError
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
}
