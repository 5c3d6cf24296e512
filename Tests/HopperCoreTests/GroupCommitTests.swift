import Foundation
@testable import HopperCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct GroupCommitTests {
    func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-gc-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func concurrentWritesAllLandAndShareRounds() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commits = GroupCommit()
        let n = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<n {
                group.addTask { try await commits.write("\(dir)/f\(i).json", Array("{\"n\": \(i)}\n".utf8)) }
            }
            try await group.waitForAll()
        }
        for i in 0..<n {
            #expect(try FileOps.readFile("\(dir)/f\(i).json") == Array("{\"n\": \(i)}\n".utf8))
        }
        // No temporary file is left behind.
        #expect(try FileOps.listDirectory(dir).filter { $0.hasPrefix(".") }.isEmpty)
        let (rounds, files) = commits.counts
        #expect(files == n)
        #expect(rounds >= 1 && rounds <= n)
    }

    @Test func writesOfOnePathApplyInOrder() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commits = GroupCommit()
        for i in 0..<20 {
            try await commits.write(dir + "/status.json", Array("v\(i)".utf8), mode: 0o600)
            #expect(try FileOps.readFile(dir + "/status.json") == Array("v\(i)".utf8))
        }
        let st = try #require(try FileOps.lstat(dir + "/status.json"))
        #expect(st.st_mode & 0o777 == 0o600)
    }

    @Test func concurrentWritesOfOnePathLeaveOneOfThemWhole() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commits = GroupCommit()
        let versions = (0..<50).map { String(repeating: "\($0 % 10)", count: 1000 + $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for v in versions { group.addTask { try await commits.write(dir + "/s.json", Array(v.utf8)) } }
            try await group.waitForAll()
        }
        let text = String(decoding: try FileOps.readFile(dir + "/s.json"), as: UTF8.self)
        #expect(versions.contains(text))
    }

    @Test func aFailingWriteFailsAloneAndNamesItsCall() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commits = GroupCommit()
        async let good: Void = commits.write(dir + "/ok.json", Array("ok".utf8))
        var failure: SystemError?
        do { try await commits.write(dir + "/missing/x.json", Array("x".utf8)) } catch { failure = error }
        try await good
        #expect(failure?.call == "openat")
        #expect(failure?.errno == ENOENT)
        #expect(try FileOps.readFile(dir + "/ok.json") == Array("ok".utf8))
        // A link planted at the temporary name is removed, never written through.
        let outside = dir + "/outside"
        try "keep".write(toFile: outside, atomically: false, encoding: .utf8)
        #expect(symlink(outside, dir + "/.linked.json.tmp") == 0)
        try await commits.write(dir + "/linked.json", Array("new".utf8))
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "keep")
        #expect(try FileOps.readFile(dir + "/linked.json") == Array("new".utf8))
    }
}
