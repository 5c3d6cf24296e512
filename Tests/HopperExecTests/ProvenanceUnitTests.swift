// RunCrate, ProvenancePublisher and FolderVerifier without a daemon: a job folder made by hand,
// its crate written, then checked as it is and after it was tampered with (golden lines).
import Foundation
import HopperCore
@testable import HopperExec
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ProvenanceUnitTests {
    func write(_ path: String, _ text: String) throws {
        try FileOps.makeDirectories(FileOps.split(path).0)
        try FileOps.writeAtomically(path, Array(text.utf8))
    }

    /// A finished job's folder: manifest, status, events, a log, one result with SHA256SUMS.
    func makeJob() throws -> (JobFolder, JobStatus, JobManifest) {
        let root = try #require(makeTemporaryDirectory("/tmp/hopper-prov-XXXXXX"))
        let folder = JobFolder(id: "J1", path: root + "/J1")
        let step = Step(name: "make", kind: .run(command: "echo hi > out/a.txt"), outputs: ["out/*.txt"])
        let manifest = JobManifest(resolvedSteps: [step], params: ["n": .integer(3), "who": .string("<Ada & Bob>")])
        var status = JobStatus(id: "J1", state: .completed, workflow: nil, owner: "alice", queue: "default", priority: 0,
                               description: nil, submittedAt: "2026-12-01T10:00:00Z", steps: [], executor: ExecutorInfo(kind: .local))
        status.startedAt = "2026-12-01T10:00:01Z"
        status.finishedAt = "2026-12-01T10:00:03Z"
        var attempt1 = StepAttempt(attempt: 1, state: .failed, startedAt: "2026-12-01T10:00:01Z", finishedAt: "2026-12-01T10:00:02Z", exitCode: 1)
        attempt1.message = nil
        let attempt2 = StepAttempt(attempt: 2, state: .completed, startedAt: "2026-12-01T10:00:02Z", finishedAt: "2026-12-01T10:00:03Z", exitCode: 0)
        status.steps = [StepStatus(name: "make", state: .completed, attempt: 2, attempts: [attempt1, attempt2])]
        try write(folder.manifest, "steps: [{name: make, run: x}]\n")
        try write(folder.events, "{}\n")
        try write(folder.log(step: "make"), "==> hopper: step make attempt 1 <==\n")
        try write(folder.results + "/out/a.txt", "hi\n")
        let (bytes, sha) = try FileDigest.sha256(of: folder.results + "/out/a.txt")
        status.results = [ResultFile(path: "results/out/a.txt", bytes: bytes, sha256: sha)]
        try ResultPublisher(workspace: root, results: folder.results).writeChecksums(status.results)
        try folder.writeStatus(status, .atomic)
        return (folder, status, manifest)
    }

    @Test func aCrateHoldsUntilTheFolderChanges() throws {
        let (folder, status, manifest) = try makeJob()
        defer { try? FileOps.removeTree(FileOps.split(folder.path).0) }   // silent: a temporary folder
        let publisher = ProvenancePublisher(folder: folder, workflowDirectory: nil)
        try publisher.keepPlan(manifest, workflowFile: nil)
        try publisher.writeCrate(status: status, manifest: manifest, snakemakeVersion: nil)

        let text = String(decoding: try FileOps.readFile(folder.crate), as: UTF8.self)
        #expect(text.contains("\"@id\": \"#step-make-attempt-2\""))
        #expect(text.contains("\"conformsTo\": [\n        {\n          \"@id\": \"https://w3id.org/ro/wfrun/process/0.5\""))
        #expect(text.contains("\"value\": \"<Ada & Bob>\""))
        #expect(!text.contains("mainEntity"))

        let holds = FolderVerifier(path: folder.path).run()
        #expect(holds.problems == [])
        #expect(holds.checked == 8)   // manifest, status, events, plan, params, the log, the result, SHA256SUMS

        try write(folder.results + "/out/a.txt", "ho\n")                 // same size, other bytes
        #expect(unlink(folder.params) == 0)
        try write(folder.requests + "/x.yaml", "action: clean\n")        // filed after the end: fine
        try write(folder.path + "/index.html", "<p>page</p>\n")          // the job page: fine
        try write(folder.path + "/.hidden.tmp", "x")
        #expect(FolderVerifier(path: folder.path).run().problems == [
            ".hidden.tmp: unexpected",
            "params.json: missing",
            "results/out/a.txt: changed (SHA-256 differs)",
        ])
    }

    @Test func withoutACrateThatIsTheProblem() throws {
        let (folder, _, _) = try makeJob()
        defer { try? FileOps.removeTree(FileOps.split(folder.path).0) }   // silent: a temporary folder
        #expect(FolderVerifier(path: folder.path).run().problems == [
            "events.jsonl: unexpected",
            "logs/make.log: unexpected",
            "manifest.yaml: unexpected",
            "ro-crate-metadata.json: missing (not a finished job's folder?)",
            "status.json: unexpected",
        ])
    }

    @Test func sumsLinesAndIDs() {
        #expect(FolderVerifier.relativePath("results/a%20b.txt") == "results/a b.txt")
        #expect(FolderVerifier.relativePath("#run") == nil)
        #expect(FolderVerifier.relativePath("https://w3id.org/ro/crate/1.1") == nil)
        #expect(FolderVerifier.relativePath("../etc/passwd") == nil)
        let hex = String(repeating: "ab", count: 32)
        #expect(FolderVerifier.sumsLine(Array("\(hex)  out/a.txt".utf8))! == ("out/a.txt", hex))
        #expect(FolderVerifier.sumsLine(Array("\\\(hex)  a\\nb".utf8))! == ("a\nb", hex))
        #expect(FolderVerifier.sumsLine(Array("nonsense".utf8)) == nil)
    }
}
