// A supervisor record lives in the workspace, which under run_as: owner belongs to the job's
// owner, who could write one naming any process. Cancelling such an "attempt" must never
// signal a process that does not run as the owner.
import Foundation
import HopperCore
import HopperTestSupport
@testable import HopperExec
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ForgedRecords {
    @Test func aRecordNamingSomeoneElsesProcessIsNeverSignalled() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-forged-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A process of ours (the "victim"), in a group of its own, named by a forged record.
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        victim.arguments = ["/bin/sleep", "31.337"]
        try victim.run()
        defer { if victim.isRunning { victim.terminate() } }
        var pid: Int32 = 0
        #expect(eventually {
            pid = processes(named: "/bin/sleep 31.337").first ?? 0
            return pid > 0 && LocalExecutor.processUID(pid) != nil
        })
        let start = try #require(LocalExecutor.procStart(pid))
        let record = dir + "/s.1.json"
        try "{\"supervisor_pid\": \(pid), \"pgid\": \(pid), \"proc_start\": \(start), \"started_at\": 1}\n"
            .write(toFile: record, atomically: true, encoding: .utf8)
        #expect(LocalExecutor.inspect(recordPath: record) == .running(pid: pid))

        // The job's owner is someone else (nobody): the daemon must refuse to signal.
        let executor = LocalExecutor(supervisor: "/bin/false", logger: Logger(label: "test"))
        let task = Task { await executor.adopt(recordPath: record, grace: 0.1, owner: 65534) }
        task.cancel()
        let outcome = await task.value
        #expect(outcome.kind == .lost)
        #expect(outcome.message?.contains("does not run as the job's owner; it was not signalled") == true)
        #expect(kill(pid, 0) == 0, "the victim must still be alive")
    }
}

/// Pids whose command line is exactly `command` (spaces for NULs).
func processes(named command: String) -> [Int32] {
    var found: [Int32] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
        let cmd = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        if cmd == command { found.append(pid) }
    }
    return found
}

