// AttemptRecord: one Codable type for what hopper-supervise and the SLURM batch script write,
// including records of supervisors from before it (outcome "timeout", no grace).
import Foundation
import HopperCore
@testable import HopperExec
import Testing

@Suite struct AttemptRecordTests {
    func decode(_ text: String) throws -> AttemptRecord {
        try JSON.decode(AttemptRecord.self, from: Array(text.utf8))
    }

    @Test func theSupervisorsRecordsDecode() throws {
        let claim = try decode("{\"supervisor_pid\": 41, \"pgid\": 41, \"proc_start\": 123456, \"started_at\": 1700000000.125, \"grace\": 0.2}\n")
        #expect(claim.supervisorPID == 41 && claim.pgid == 41 && claim.procStart == 123456)
        #expect(claim.startedAt == 1700000000.125 && claim.grace == 0.2)
        let exit = try decode("{\"outcome\": \"cancelled\", \"exit_code\": null, \"signal\": 9, \"finished_at\": 1700000001.5, \"log_bytes\": 10, \"log_dropped\": 2}\n")
        #expect(exit.kind == .cancelled && exit.exitCode == nil && exit.signal == 9 && exit.logBytes == 10)
        let outcome = exit.stepOutcome(claim: claim)
        #expect(outcome == StepOutcome(kind: .cancelled, signal: 9, startedAt: 1700000000.125, finishedAt: 1700000001.5, logDropped: 2))
        #expect(try decode("{\"outcome\": \"timed_out\", \"exit_code\": null, \"signal\": 9}").kind == .timeout)
        #expect(try decode("{\"outcome\": \"exited\", \"exit_code\": 3, \"signal\": null}").kind == .exited)
    }

    @Test func recordsOfAnEarlierSupervisorStillDecode() throws {
        // Before AttemptRecord: no grace in the claim; a timeout was "timeout".
        let claim = try decode("{\"supervisor_pid\": 7, \"pgid\": 7, \"proc_start\": 99, \"started_at\": 1.000}\n")
        #expect(claim.grace == nil && claim.supervisorPID == 7)
        #expect(try decode("{\"outcome\": \"timeout\", \"exit_code\": null, \"signal\": 9, \"finished_at\": 2.000, \"log_bytes\": 0, \"log_dropped\": 0}").kind == .timeout)
    }

    @Test func theBatchScriptsRecordsDecode() throws {
        let started = try decode("{\"started_at\": 1712345678.123456789, \"slurm_job_id\": \"4242\", \"host\": \"node-01\"}\n")
        #expect(started.slurmJobID == "4242" && started.host == "node-01")
        #expect(abs((started.startedAt ?? 0) - 1712345678.123456789) < 1e-6)
        let exit = try decode("{\"exit_code\": 143, \"finished_at\": 1712345700, \"slurm_job_id\": \"\"}\n")
        #expect(exit.exitCode == 143 && exit.finishedAt == 1712345700 && exit.kind == .exited)
    }

    @Test func whatIsNotARecordReadsAsNone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-rec-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "".write(toFile: dir + "/empty", atomically: false, encoding: .utf8)
        try "{\"supervisor_pid\": ".write(toFile: dir + "/half", atomically: false, encoding: .utf8)
        #expect(AttemptRecord.read(dir + "/empty") == nil)
        #expect(AttemptRecord.read(dir + "/half") == nil)
        #expect(AttemptRecord.read(dir + "/missing") == nil)
    }
}
