// Ending a step has one owner, hopper-supervise: the executor asks it (SIGTERM to its pid), it
// sends SIGTERM to the step's group, waits its grace, sends SIGKILL, and writes its exit record.
// The executor's SIGKILL is a backstop for a wedged supervisor only. Driven through LocalExecutor
// in-process (no daemon) with the real hopper-supervise and real processes.
import Foundation
import HopperCore
import HopperExec
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct CancelTests {
    static var supervisor: String { SupervisorTests.supervisor }

    /// A workspace with its `.hopper/`.
    static func workspace() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-cancel-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: d + "/.hopper", withIntermediateDirectories: true)
        return d
    }

    static func launch(_ workspace: String, step: String, attempt: Int, script: String,
                       timeout: Double? = nil, grace: Double) -> StepLaunch {
        let env: [String: String] = ["PATH": "/usr/local/bin:/usr/bin:/bin"]
        return StepLaunch(jobID: "cancel", step: step, attempt: attempt, workspace: workspace,
                          logPath: workspace + "/\(step).log", command: .shell(script),
                          environment: env, timeout: timeout, grace: grace, logCap: 1 << 20)
    }

    /// Polls (without blocking a thread of the pool) until `condition` holds or `timeout` passes.
    static func until(timeout: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// Whether the step's `sleep` runs (started after `trap '' TERM`, so it ignores SIGTERM).
    static func stepRuns(_ marker: String) -> Bool {
        processes(matching: marker).contains { pid in
            let bytes = (try? FileOps.readFile("/proc/\(pid)/cmdline", limit: 4096)) ?? []
            return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).hasPrefix(marker)
        }
    }

    /// Live processes in the session `sid` (a supervisor's: it leads its session).
    static func sessionMembers(_ sid: Int32) -> [Int32] {
        var found: [Int32] = []
        for name in (try? FileOps.listDirectory("/proc")) ?? [] {
            guard let pid = Int32(name), let bytes = try? FileOps.readFile("/proc/\(pid)/stat", limit: 4096),
                  let close = bytes.lastIndex(of: 0x29), close + 2 < bytes.count else { continue }
            let fields = bytes[(close + 2)...].split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
            if fields.count > 3 && fields[0] != "Z" && Int32(fields[3]) == sid { found.append(pid) }
        }
        return found
    }

    /// One cancel of a step that ignores SIGTERM: nil when all is well, else what went wrong.
    static func cancelOnce(_ executor: LocalExecutor, _ workspace: String, lane: Int, round: Int) async -> String? {
        let marker = "sleep 4\(lane)\(String(round + 1000).dropFirst()).5"
        let launch = Self.launch(workspace, step: "s\(lane)", attempt: round + 1, script: "trap '' TERM; \(marker)", grace: 0.2)
        let task = Task { await executor.run(launch) }
        // Cancel once the step runs with SIGTERM ignored, so only the SIGKILL ends it.
        guard await until(timeout: 20, { stepRuns(marker) }) else {
            task.cancel()
            _ = await task.value
            return "round \(round): the step never started"
        }
        let t0 = Date()
        task.cancel()
        let outcome = await task.value
        let took = Date().timeIntervalSince(t0)
        var problems: [String] = []
        let exit = AttemptRecord.read(launch.recordPath + ".exit")
        if exit?.outcome != "cancelled" { problems.append("exit record \(String(describing: exit))") }
        if exit?.signal != 9 { problems.append("signal \(String(describing: exit?.signal)), not 9") }
        if outcome.kind != .cancelled { problems.append("outcome \(outcome)") }
        if took < 0.2 { problems.append("ended after \(took) s, before the grace") }
        let sid: Int32 = AttemptRecord.read(launch.recordPath)?.supervisorPID ?? 0
        let gone = await until(timeout: 5) { processes(matching: marker).isEmpty && sessionMembers(sid).isEmpty }
        if !gone { problems.append("left: \(describeProcesses(processes(matching: marker) + sessionMembers(sid)))") }
        return problems.isEmpty ? nil : "lane \(lane) round \(round): " + problems.joined(separator: "; ")
    }

    @Test func aHundredCancelsWithTheBackstopCloseToTheGraceAllLeaveTheCancelledRecord() async throws {
        let ws = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: ws) }
        // kill_grace 0.2 s; the executor's SIGKILL backstop 0.3 s after that.
        let executor = LocalExecutor(supervisor: Self.supervisor, logger: Logger(label: "test"), backstopMargin: 0.3)
        let failures: [String] = await withTaskGroup(of: [String].self) { group in
            for lane in 0..<4 {
                group.addTask {
                    var found: [String] = []
                    for round in 0..<25 {
                        if let problem = await Self.cancelOnce(executor, ws, lane: lane, round: round) { found.append(problem) }
                    }
                    return found
                }
            }
            var all: [String] = []
            for await found in group { all += found }
            return all
        }
        #expect(failures.isEmpty, "\(failures.count) of 100 cancels went wrong: \(failures.prefix(5))")
    }

    @Test func aTimeoutIsRecordedAsTimedOut() async throws {
        let ws = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: ws) }
        let executor = LocalExecutor(supervisor: Self.supervisor, logger: Logger(label: "test"), backstopMargin: 0.3)
        let marker = "sleep 40999.5"
        let launch = Self.launch(ws, step: "t", attempt: 1, script: "trap '' TERM; \(marker)", timeout: 0.3, grace: 0.2)
        let outcome = await executor.run(launch)
        #expect(outcome.kind == .timeout)
        #expect(outcome.signal == 9)
        let exit = AttemptRecord.read(launch.recordPath + ".exit")
        #expect(exit?.outcome == "timed_out")
        let log = (try? String(contentsOfFile: launch.logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("step timed out after 0.3 s: SIGTERM, then SIGKILL after 0.2 s"), "\(log)")
        #expect(await Self.until(timeout: 5) { processes(matching: marker).isEmpty })
    }

    @Test func anAdoptedStepIsCancelledThroughItsSupervisorToo() async throws {
        let ws = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: ws) }
        let executor = LocalExecutor(supervisor: Self.supervisor, logger: Logger(label: "test"), backstopMargin: 0.3)
        let marker = "sleep 40998.5"
        let record = StepLaunch.recordPath(workspace: ws, step: "a", attempt: 1)
        // Started by "an earlier daemon": a supervisor this executor did not start.
        let earlier = Process()
        earlier.executableURL = URL(fileURLWithPath: Self.supervisor)
        earlier.arguments = ["--record", record, "--log", ws + "/a.log", "--grace", "0.2", "--shell", "trap '' TERM; \(marker)"]
        try earlier.run()
        #expect(await Self.until(timeout: 20) { Self.stepRuns(marker) })
        let task = Task { await executor.adopt(recordPath: record, grace: 120) }
        try await Task.sleep(for: .milliseconds(150))
        let t0 = Date()
        task.cancel()
        let outcome = await task.value
        #expect(outcome.kind == .cancelled)
        // The recorded grace (0.2 s) counts, not the one passed in (120 s): far apart, so a
        // loaded machine cannot blur them.
        #expect(Date().timeIntervalSince(t0) < 60)
        let exit = AttemptRecord.read(record + ".exit")
        #expect(exit?.outcome == "cancelled" && exit?.signal == 9, "\(String(describing: exit))")
        #expect(await Self.until(timeout: 5) { processes(matching: marker).isEmpty })
        earlier.waitUntilExit()
    }

    @Test func aWedgedSupervisorMeetsTheBackstop() async throws {
        let ws = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: ws) }
        let executor = LocalExecutor(supervisor: Self.supervisor, logger: Logger(label: "test"), backstopMargin: 0.3)
        let marker = "sleep 40997.5"
        let launch = Self.launch(ws, step: "w", attempt: 1, script: "trap '' TERM; \(marker)", grace: 0.2)
        let task = Task { await executor.run(launch) }
        #expect(await Self.until(timeout: 60) { Self.stepRuns(marker) })
        // The supervisor stops answering (SIGSTOP): it can neither escalate nor record.
        let pid: Int32 = try #require(AttemptRecord.read(launch.recordPath)?.supervisorPID)
        #expect(kill(pid, SIGSTOP) == 0)
        let t0 = Date()
        task.cancel()
        let outcome = await task.value
        let took = Date().timeIntervalSince(t0)
        #expect(outcome.kind == .cancelled)
        // Not before grace + margin; and at all (the step itself would sleep for 11 hours).
        #expect(took >= 0.45 && took < 60, "the backstop fires grace + margin after the request; took \(took) s")
        #expect(!FileOps.exists(launch.recordPath + ".exit"))
        #expect(await Self.until(timeout: 5) { processes(matching: marker).isEmpty && Self.sessionMembers(pid).isEmpty })
    }
}
