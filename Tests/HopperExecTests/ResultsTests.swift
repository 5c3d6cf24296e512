// Publishing a step's outputs from a real workspace in a temporary directory: what is matched
// and skipped, hard links and copies, reruns, checksums checked by the real `sha256sum -c`,
// a file large enough to take many chunks, and the size cap.
import Foundation
import Glibc
import HopperCore
import HopperTestSupport
@testable import HopperExec
import Testing

/// A spool-like tree under /tmp: `runs/J` (the workspace) and `outbox/J/results`; removed at deinit.
final class ResultsTree {
    let root: String
    let workspace: String
    let results: String

    init(resultsRoot: String? = nil) {
        root = makeTemporaryDirectory("/tmp/hopper-results-XXXXXX")!
        workspace = root + "/runs/J"
        results = (resultsRoot ?? root) + "/outbox/J/results"
        mkdirs(workspace)
    }

    deinit {
        try? FileOps.removeTree(root)
    }

    func publisher(maxBytes: Int64? = nil, allowHardLinks: Bool = true) -> ResultPublisher {
        ResultPublisher(workspace: workspace, results: results, maxBytes: maxBytes, allowHardLinks: allowHardLinks)
    }

    /// Writes a file in the workspace (parents created).
    @discardableResult
    func write(_ rel: String, _ text: String) -> String {
        write(rel, Array(text.utf8))
    }

    @discardableResult
    func write(_ rel: String, _ bytes: [UInt8]) -> String {
        let path = workspace + "/" + rel
        mkdirs(FileOps.split(path).0)
        try! FileOps.writeNew(path, bytes)
        return path
    }

    func symlink(_ target: String, at rel: String) {
        let path = workspace + "/" + rel
        mkdirs(FileOps.split(path).0)
        precondition(Glibc.symlink(target, path) == 0, "symlink \(path)")
    }

    func mkdirs(_ path: String) { try! FileOps.makeDirectories(path) }

    func result(_ rel: String) -> String? {
        guard let bytes = try? FileOps.readFile(results + "/" + rel) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    func inode(_ path: String) -> (dev: UInt, ino: UInt, nlink: UInt)? {
        guard let st = try? FileOps.lstat(path) else { return nil }
        return (UInt(st.st_dev), UInt(st.st_ino), UInt(st.st_nlink))
    }

    /// Every name below results/ (relative), hidden ones included.
    func resultNames(_ rel: String = "") -> [String] {
        let dir = rel.isEmpty ? results : results + "/" + rel
        var out: [String] = []
        for name in (try? FileOps.listDirectory(dir)) ?? [] {
            let path = rel.isEmpty ? name : rel + "/" + name
            out.append(path)
            if FileOps.isDirectory(results + "/" + path) { out += resultNames(path) }
        }
        return out.sorted()
    }
}


/// Runs a program, returning its exit status and standard output.
func run(_ program: String, _ arguments: [String], in directory: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `sha256sum` of one file, as its 64 hex digits.
func sha256sum(_ path: String) throws -> String {
    let (status, output) = try run("/usr/bin/sha256sum", ["--", path], in: "/")
    #expect(status == 0)
    return String(output.prefix(64))
}

// MARK: - Matching in a workspace

@Test func expandsGlobsSortedAndUnique() throws {
    let t = ResultsTree()
    t.write("qc/a.html", "a")
    t.write("qc/x/y/b.html", "b")
    t.write("qc/.hidden/c.html", "c")
    t.write("qc/notes.txt", "n")
    t.write("top.txt", "t")
    t.write("B.txt", "B")
    t.mkdirs(t.workspace + "/qc/dir.html")
    let found = try OutputGlob.expand(
        [OutputGlob("qc/**/*.html"), OutputGlob("*.txt"), OutputGlob("qc/**/*.html"), OutputGlob("none/*"), OutputGlob("qc")],
        in: t.workspace)
    #expect(found.files.map(\.path) == ["B.txt", "qc/a.html", "qc/x/y/b.html", "top.txt"])
    #expect(found.files.allSatisfy { $0.source == $0.path && $0.bytes == 1 })
    #expect(found.unmatched == ["none/*", "qc"])
    #expect(found.warnings == ["output \"qc\" matched only directories; write \"qc/**\" to publish the files in them"])
}

@Test func globstarPublishesATree() throws {
    let t = ResultsTree()
    for rel in ["d/1", "d/e/2", "d/e/f/3", "d/.git/4", "d/e/.cache"] { t.write(rel, rel) }
    let report = try t.publisher().publish(patterns: ["d/**", "d/**/.cache"])
    #expect(report.files.map(\.path) == ["results/d/1", "results/d/e/.cache", "results/d/e/2", "results/d/e/f/3"])
    #expect(t.result("d/e/f/3") == "d/e/f/3")
    #expect(report.unmatched.isEmpty && report.warnings.isEmpty)
}

@Test func nothingEscapesTheWorkspace() throws {
    let t = ResultsTree()
    let outside = t.root + "/secret"
    t.mkdirs(outside)
    try FileOps.writeNew(outside + "/secret.txt", Array("secret".utf8))
    t.write("data/real.txt", "real")
    t.symlink(outside + "/secret.txt", at: "out-abs.txt")
    t.symlink("../../secret/secret.txt", at: "out-rel.txt")
    t.symlink("data/../../../secret/secret.txt", at: "out-dots.txt")
    t.symlink("nowhere.txt", at: "dangling.txt")
    t.symlink(outside, at: "dirlink")
    t.symlink("data", at: "innerdir")

    let report = try t.publisher().publish(patterns: ["*.txt", "dirlink/**", "dirlink/*.txt", "innerdir/*.txt", "*/secret.txt"])
    #expect(report.files.isEmpty)
    #expect(Set(report.unmatched) == ["*.txt", "dirlink/**", "dirlink/*.txt", "innerdir/*.txt", "*/secret.txt"])
    let warnings = report.warnings.joined(separator: "\n")
    #expect(warnings.contains("skipped \"out-abs.txt\": a symlink to \"\(outside)/secret.txt\", outside the workspace"))
    #expect(warnings.contains("skipped \"out-rel.txt\": a symlink to"))
    #expect(warnings.contains("skipped \"out-dots.txt\": a symlink to"))
    #expect(warnings.contains("skipped \"dangling.txt\": a dangling symlink"))
    #expect(warnings.contains("did not follow symlink \"dirlink\""))
    #expect(warnings.contains("did not follow symlink \"innerdir\""))
    #expect(!t.resultNames().contains { $0.contains("secret") })
}

@Test func globstarNeverEntersSymlinkedDirectories() throws {
    let t = ResultsTree()
    t.write("d/f.txt", "f")
    t.mkdirs(t.root + "/elsewhere")
    try FileOps.writeNew(t.root + "/elsewhere/x.txt", Array("x".utf8))
    t.symlink("..", at: "d/loop")
    t.symlink(t.root + "/elsewhere", at: "d/out")
    let report = try t.publisher().publish(patterns: ["**", "**/*.txt"])
    #expect(report.files.map(\.path) == ["results/d/f.txt"])
    #expect(report.warnings == [
        "skipped \"d/loop\": a symlink to a directory; only regular files are published",
        "skipped \"d/out\": a symlink to \"\(t.root)/elsewhere\", outside the workspace",
    ])
}

@Test func nameThatIsNotUTF8IsSkipped() throws {
    let t = ResultsTree()
    t.write("ok.txt", "ok")
    let raw: [UInt8] = Array((t.workspace + "/f").utf8) + [0xFF] + Array(".txt".utf8) + [0]
    let fd = raw.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { Glibc.open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
    }
    #expect(fd >= 0)
    close(fd)
    defer {     // FileOps.removeTree cannot name it
        _ = raw.withUnsafeBufferPointer { buffer in buffer.withMemoryRebound(to: CChar.self) { unlink($0.baseAddress!) } }
    }
    let report = try t.publisher().publish(patterns: ["*.txt"])
    #expect(report.files.map(\.path) == ["results/ok.txt"])
    #expect(report.warnings == ["skipped \"f\u{FFFD}.txt\": its name is not valid UTF-8"])
}

@Test func symlinkInsideTheWorkspaceIsPublishedWithItsTargetsContent() throws {
    let t = ResultsTree()
    t.write("data/real.txt", "real content")
    t.symlink("../data/real.txt", at: "out/link.txt")
    t.symlink("data", at: "dirlink")
    let report = try t.publisher().publish(patterns: ["out/*.txt", "dirlink"])
    #expect(report.files.map(\.path) == ["results/out/link.txt"])
    #expect(report.files[0].bytes == 12)
    #expect(t.result("out/link.txt") == "real content")
    let st = try #require(try FileOps.lstat(t.results + "/out/link.txt"))
    #expect(st.st_mode & S_IFMT == S_IFREG)
    #expect(report.unmatched == ["dirlink"])
    #expect(report.warnings == ["skipped \"dirlink\": a symlink to a directory; only regular files are published"])
    let found = try OutputGlob.expand([OutputGlob("out/*.txt")], in: t.workspace)
    #expect(found.files == [OutputMatch(path: "out/link.txt", source: "data/real.txt", bytes: 12)])
}

@Test func fifoIsSkippedWithoutBlocking() throws {
    let t = ResultsTree()
    t.write("a.txt", "a")
    #expect(mkfifo(t.workspace + "/pipe", 0o644) == 0)
    #expect(mkfifo(t.workspace + "/p.txt", 0o644) == 0)
    let report = try t.publisher().publish(patterns: ["*"])
    #expect(report.files.map(\.path) == ["results/a.txt"])
    #expect(report.warnings == [
        "skipped \"p.txt\": a FIFO; only regular files are published",
        "skipped \"pipe\": a FIFO; only regular files are published",
    ])
    #expect(report.unmatched.isEmpty)
}

@Test func checksumFileNameIsReserved() throws {
    let t = ResultsTree()
    t.write("SHA256SUMS", "mine")
    t.write("sub/SHA256SUMS", "fine below the top")
    let report = try t.publisher().publish(patterns: ["**"])
    #expect(report.files.map(\.path) == ["results/sub/SHA256SUMS"])
    #expect(report.warnings == ["skipped \"SHA256SUMS\": the name is reserved for the checksum file in results/"])
}

@Test func invalidPatternPublishesNothing() throws {
    let t = ResultsTree()
    t.write("a.txt", "a")
    #expect(throws: ResultsError.self) { try t.publisher().publish(patterns: ["a.txt", "../runs/J/a.txt"]) }
    #expect(!FileOps.exists(t.results + "/a.txt"))
}

// MARK: - Links and copies

@Test func hardLinkOnTheSameFileSystem() throws {
    let t = ResultsTree()
    let source = t.write("calls/s.vcf", "variants")
    let report = try t.publisher().publish(patterns: ["calls/*.vcf"])
    #expect(report.files == [ResultFile(path: "results/calls/s.vcf", bytes: 8, sha256: try sha256sum(source))])
    let a = try #require(t.inode(source))
    let b = try #require(t.inode(t.results + "/calls/s.vcf"))
    #expect(a.dev == b.dev && a.ino == b.ino)
    #expect(b.nlink == 2)
    #expect(t.resultNames() == ["calls", "calls/s.vcf"])
}

@Test func copyWhenHardLinksAreNotAllowed() throws {
    let t = ResultsTree()
    let source = t.write("calls/s.vcf", "variants")
    #expect(chmod(source, 0o640) == 0)
    let report = try t.publisher(allowHardLinks: false).publish(patterns: ["calls/*.vcf"])
    #expect(report.files == [ResultFile(path: "results/calls/s.vcf", bytes: 8, sha256: try sha256sum(source))])
    let a = try #require(t.inode(source))
    let b = try #require(t.inode(t.results + "/calls/s.vcf"))
    #expect(a.ino != b.ino)
    #expect(a.nlink == 1)
    #expect(t.result("calls/s.vcf") == "variants")
    #expect(try #require(try FileOps.lstat(t.results + "/calls/s.vcf")).st_mode & 0o777 == 0o640)
    #expect(t.resultNames() == ["calls", "calls/s.vcf"])
}

@Test(.enabled(if: otherFileSystemThanTmp()))
func copyAcrossFileSystems() throws {
    let other = try #require(makeTemporaryDirectory("/dev/shm/hopper-results-XXXXXX"))
    defer { try? FileOps.removeTree(other) }
    let t = ResultsTree(resultsRoot: other)
    let source = t.write("a.txt", "across")
    let report = try t.publisher().publish(patterns: ["a.txt"])
    #expect(report.files == [ResultFile(path: "results/a.txt", bytes: 6, sha256: try sha256sum(source))])
    #expect(t.inode(source)!.dev != t.inode(t.results + "/a.txt")!.dev)
    #expect(t.result("a.txt") == "across")
    #expect(t.resultNames() == ["a.txt"])
}

/// Whether /dev/shm is a writable directory on another filesystem than /tmp.
func otherFileSystemThanTmp() -> Bool {
    guard let a = try? FileOps.statFollowing("/tmp"), let b = try? FileOps.statFollowing("/dev/shm") else { return false }
    return a.st_dev != b.st_dev && access("/dev/shm", W_OK) == 0
}

@Test(arguments: [true, false])
func rerunReplacesAFile(allowHardLinks: Bool) throws {
    let t = ResultsTree()
    let source = t.write("out/a.txt", "first")
    let publisher = t.publisher(allowHardLinks: allowHardLinks)
    _ = try publisher.publish(patterns: ["out/*"])
    #expect(t.result("out/a.txt") == "first")

    // Unchanged: published again, nothing left behind.
    let same = try publisher.publish(patterns: ["out/*"])
    #expect(same.files.map(\.bytes) == [5])
    #expect(t.resultNames() == ["out", "out/a.txt"])

    // A new file of the same name (new inode, as a rerun writes).
    try FileOps.writeAtomically(source, Array("second run".utf8))
    let again = try publisher.publish(patterns: ["out/*"])
    #expect(again.files == [ResultFile(path: "results/out/a.txt", bytes: 10, sha256: try sha256sum(source))])
    #expect(t.result("out/a.txt") == "second run")
    #expect(t.resultNames() == ["out", "out/a.txt"])

    // Rewritten in place.
    try FileOps.writeNew(source, Array("third".utf8))
    _ = try publisher.publish(patterns: ["out/*"])
    #expect(t.result("out/a.txt") == "third")
    #expect(t.resultNames() == ["out", "out/a.txt"])
}

@Test func directoryInTheWayIsAConflict() throws {
    let t = ResultsTree()
    t.write("a.txt", "a")
    t.mkdirs(t.results + "/a.txt/sub")
    do {
        _ = try t.publisher().publish(patterns: ["a.txt"])
        Issue.record("published over a directory")
    } catch {
        #expect(error.code == .conflict)
        #expect(error.message.contains("a directory of that name is in the way"))
    }
    #expect(t.resultNames() == ["a.txt", "a.txt/sub"])
}

// MARK: - Checksums

@Test func checksumsPassSha256sumCheck() throws {
    let t = ResultsTree()
    let names = ["a.txt", "with space.txt", "sub/dir/b.bin", "back\\slash.txt", "new\nline.txt", "ü.txt", "cr\rx.txt"]
    for (i, name) in names.enumerated() { t.write(name, String(repeating: "x", count: i + 1)) }
    let publisher = t.publisher()
    let first = try publisher.publish(patterns: ["*.txt"])
    let second = try publisher.publish(patterns: ["sub/**"])
    #expect(first.files.count == 6 && second.files.count == 1)
    try publisher.writeChecksums(first.files + second.files)

    let check = try run("/usr/bin/sha256sum", ["--strict", "-c", "SHA256SUMS"], in: t.results)
    #expect(check.status == 0, "\(check.output)")

    // Byte for byte what sha256sum itself writes, in our (byte) order.
    let sorted = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    let expected = try run("/usr/bin/sha256sum", ["--"] + sorted, in: t.results)
    let written = String(decoding: try FileOps.readFile(t.results + "/SHA256SUMS"), as: UTF8.self)
    #expect(written == expected.output)

    // A corrupted file is caught.
    try FileOps.writeNew(t.results + "/with space.txt", Array("changed".utf8))
    #expect(try run("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], in: t.results).status != 0)
}

@Test func checksumLines() {
    let hash = String(repeating: "ab", count: 32)
    #expect(ChecksumFile.line(sha256: hash, path: "a b") == hash + "  a b")
    #expect(ChecksumFile.line(sha256: hash, path: "a\\b\nc") == "\\" + hash + "  a\\\\b\\nc")
    #expect(ChecksumFile.text([("b", hash), ("a", hash), ("b", "0")]) == hash + "  a\n0  b\n")
}

@Test func largeFileIsHashedInChunks() throws {
    let t = ResultsTree()
    var bytes = [UInt8](repeating: 0, count: 20 << 20 + 123)
    var x: UInt32 = 2_463_534_242
    for i in bytes.indices {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5
        bytes[i] = UInt8(truncatingIfNeeded: x)
    }
    let source = t.write("big.bin", bytes)
    let expected = try sha256sum(source)
    for allowHardLinks in [true, false] {
        let report = try t.publisher(allowHardLinks: allowHardLinks).publish(patterns: ["big.bin"])
        #expect(report.files == [ResultFile(path: "results/big.bin", bytes: Int64(bytes.count), sha256: expected)])
        #expect(try sha256sum(t.results + "/big.bin") == expected)
    }
}

// MARK: - Size cap

@Test func sizeCap() throws {
    let t = ResultsTree()
    t.write("a.bin", [UInt8](repeating: 1, count: 2000))
    t.write("b.bin", [UInt8](repeating: 2, count: 1000))
    do {
        _ = try t.publisher(maxBytes: 2048).publish(patterns: ["*.bin"])
        Issue.record("published over the cap")
    } catch {
        #expect(error.code == .tooLarge)
        #expect(error.message == "the outputs add up to 3000 (3000 bytes), over the results size cap of 2K (2048 bytes); "
            + "raise the cap or publish fewer files")
    }
    #expect(!FileOps.exists(t.results + "/a.bin"))
    let exact = try t.publisher(maxBytes: 3000).publish(patterns: ["*.bin"])
    #expect(exact.files.map(\.bytes) == [2000, 1000])
}
