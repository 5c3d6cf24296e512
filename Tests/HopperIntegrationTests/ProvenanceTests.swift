// Provenance with the real daemon (docs/provenance.md): every finished job's outbox folder is an
// RO-Crate that the RO-Crate community's validator (PyPI roc-validator) accepts at the REQUIRED
// level against the Workflow Run Crate profile (named workflows) or the Process Run Crate
// profile (inline steps), and that ro-crate-py (PyPI rocrate) reads back; `hopper verify`
// checks a folder and a copy of it; `hopper export` reproduces a job, also after `clean`.
//
// The validator and rocrate come from scripts/setup-rocrate (.venv/rocrate; scripts/test
// installs it). Without that venv the crate checks are skipped, saying so; in CI they run.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

enum RoCrateTools {
    /// The venv's python ($HOPPER_ROCRATE_PYTHON wins).
    static let python: String = ProcessInfo.processInfo.environment["HOPPER_ROCRATE_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        ?? Paths.repo + "/.venv/rocrate/bin/python"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: python) }
    static let skipMessage = "no \(python): run scripts/setup-rocrate (scripts/test does) to validate the crates"

    /// roc-validator at the REQUIRED level against `profile`, offline; the issues when it fails.
    static func validate(_ folder: String, profile: String) throws -> CommandResult {
        try runProgram(python, [Paths.repo + "/scripts/rocrate-validate-offline.py", "-y", "validate", "--no-cache",
                                "-p", profile, "-l", "required", "--output-format", "json", folder])
    }

    /// What ro-crate-py reads back: the main entity, and per CreateAction its status, error and results.
    static let readBack = """
        import json, sys
        from rocrate.rocrate import ROCrate
        crate = ROCrate(sys.argv[1])
        def ids(v):
            if v is None: return []
            if not isinstance(v, list): v = [v]
            return [x.id if hasattr(x, "id") else str(x) for x in v]
        out = {"mainEntity": crate.mainEntity.id if crate.mainEntity is not None else None, "actions": {}, "files": {}}
        for e in crate.get_entities():
            types = e.type if isinstance(e.type, list) else [e.type]
            if "CreateAction" in types:
                out["actions"][e.id] = {"status": ids(e.get("actionStatus")), "error": e.get("error"),
                                        "result": ids(e.get("result")), "instrument": ids(e.get("instrument")),
                                        "start": e.get("startTime"), "end": e.get("endTime")}
            if "File" in types:
                out["files"][e.id] = {"sha256": e.get("sha256"), "contentSize": e.get("contentSize")}
        out["agent"] = [e.get("name") for e in crate.get_entities() if e.type == "Person"]
        out["software"] = {e.get("name"): e.get("version") for e in crate.get_entities() if e.type == "SoftwareApplication" and e.get("version")}
        print(json.dumps(out))
        """

    struct ReadBack: Decodable {
        struct Action: Decodable {
            var status: [String]
            var error: String?
            var result: [String]
            var instrument: [String]
            var start: String?
            var end: String?
        }
        struct FileInfo: Decodable {
            var sha256: String?
            var contentSize: String?
        }
        var mainEntity: String?
        var actions: [String: Action]
        var files: [String: FileInfo]
        var agent: [String]
        var software: [String: String]
    }

    static func read(_ folder: String) throws -> ReadBack {
        let result = try runProgram(python, ["-c", readBack, folder])
        guard result.code == 0 else { throw TestFailure("rocrate could not read \(folder): \(result.stderr)") }
        return try JSONDecoder().decode(ReadBack.self, from: Data(result.stdout.utf8))
    }
}

/// A workflow with params (defaults), a run step and, when Snakemake is there, a Snakemake step.
func provenanceWorkflow(_ spool: TestSpool, snakemake: Bool) throws {
    var yaml = """
        description: Provenance test workflow
        params:
          greeting: {type: string, default: hello}
          count: {type: integer, default: 2}
          fail: {type: boolean, default: false}
        steps:
          - name: make
            run: |
              mkdir -p out
              if [ "$HOPPER_PARAM_FAIL" = true ]; then echo "failing on purpose" >&2; exit 3; fi
              for i in $(seq "$HOPPER_PARAM_COUNT"); do echo "$HOPPER_PARAM_GREETING $i"; done > out/make.txt
            outputs: [out/make.txt]

        """
    if snakemake {
        yaml += """
              - name: smk
                snakemake: {snakefile: prov/Snakefile, targets: [out/sm.txt], cores: 1}
                outputs: [out/sm.txt]

            """
        try FileManager.default.createDirectory(atPath: spool.workflows + "/prov", withIntermediateDirectories: true)
        let snakefile = "rule sm:\n    output: \"out/sm.txt\"\n    shell: \"echo from snakemake > {output}\"\n"
        try snakefile.write(toFile: spool.workflows + "/prov/Snakefile", atomically: true, encoding: .utf8)
    }
    try yaml.write(toFile: spool.workflows + "/prov.yaml", atomically: true, encoding: .utf8)
}

/// An inline job whose one step fails its first attempt and succeeds on the second.
let retriedManifest = """
    description: Fails once, then succeeds
    params: {label: "x"}
    steps:
      - name: flaky
        retries: 1
        run: |
          mkdir -p out
          if [ ! -e first-attempt-done ]; then touch first-attempt-done; echo "first attempt fails" >&2; exit 1; fi
          echo ok > out/flaky.txt
        outputs: [out/flaky.txt]
    """

@Suite(.serialized) struct ProvenanceTests {
    static let useSnakemake = FileManager.default.isExecutableFile(atPath: Paths.snakemake)

    func spool() throws -> TestSpool {
        let extra = Self.useSnakemake ? "snakemake: \(Paths.snakemake)" : ""
        let spool = try TestSpool(config: extra)
        try provenanceWorkflow(spool, snakemake: Self.useSnakemake)
        return spool
    }

    @Test func completedFailedAndRetriedJobsAreValidCrates() throws {
        let spool = try spool()
        _ = try spool.startDaemon()
        try spool.drop("P-ok.yaml", "workflow: prov\nparams: {greeting: hi}\n")
        try spool.drop("P-fail.yaml", "workflow: prov\nparams: {fail: true}\n")
        try spool.drop("P-retry.yaml", retriedManifest)
        try spool.drop("P-cancel.yaml", "steps: [{name: wait, mock: {duration: 60s}}]\n")
        #expect(try spool.waitFor("P-cancel", [.running], timeout: 60).state == .running)
        #expect(try spool.request("cancel", "P-cancel"))
        #expect(try spool.waitFor("P-cancel", timeout: 60).state == .cancelled)
        #expect(try spool.waitFor("P-ok", timeout: 120).state == .completed)
        #expect(try spool.waitFor("P-fail", timeout: 60).state == .failed)
        #expect(try spool.waitFor("P-retry", timeout: 60).state == .completed)
        for id in ["P-ok", "P-fail", "P-retry", "P-cancel"] {
            #expect(eventually(timeout: 10) { FileOps.exists(spool.layout.folder(id).crate) }, "no crate for \(id)")
            // The job page is the crate's preview: a relative link to index.html, which it reads as.
            let folder = spool.layout.folder(id)
            #expect(eventually(timeout: 10) { FileManager.default.fileExists(atPath: folder.cratePreview) }, "no preview for \(id)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: folder.cratePreview)) == "index.html")   // silent: nil fails the expectation
        }

        // What stays in the outbox: the resolved params, the plan, the workflow's copy.
        let ok = spool.layout.folder("P-ok")
        let params = try JSONSerialization.jsonObject(with: Data(try FileOps.readFile(ok.params))) as? [String: Any]
        #expect(params?["greeting"] as? String == "hi")
        #expect(params?["count"] as? Int == 2)
        #expect(FileOps.exists(ok.workflowCopy + "/prov.yaml"))
        if Self.useSnakemake { #expect(FileOps.exists(ok.workflowCopy + "/prov/Snakefile")) }

        guard RoCrateTools.available else {
            print("ProvenanceTests: crate validation skipped: \(RoCrateTools.skipMessage)")
            return
        }
        for (id, profile) in [("P-ok", "workflow-run-crate"), ("P-fail", "workflow-run-crate"), ("P-retry", "process-run-crate"), ("P-cancel", "process-run-crate")] {
            let result = try RoCrateTools.validate(spool.layout.folder(id).path, profile: profile)
            #expect(result.code == 0, "\(id) is not a valid \(profile):\n\(result.stdout)\n\(result.stderr)")
        }

        let okCrate = try RoCrateTools.read(ok.path)
        #expect(okCrate.mainEntity == "workflow/prov.yaml")
        #expect(okCrate.agent == [try spool.status("P-ok").owner])
        #expect(okCrate.software["Hopper"] == HopperVersion.current)
        if Self.useSnakemake { #expect(okCrate.software["Snakemake"]?.isEmpty == false) }
        let run = try #require(okCrate.actions["#run"])
        #expect(run.instrument == ["workflow/prov.yaml"])
        #expect(run.status == ["http://schema.org/CompletedActionStatus"])
        #expect(run.result.contains("results/out/make.txt"))
        let make = try #require(okCrate.actions["#step-make-attempt-1"])
        #expect(make.result == ["results/out/make.txt"])
        #expect(make.start != nil && make.end != nil)
        let made = try #require(okCrate.files["results/out/make.txt"])
        #expect(made.sha256 == (try spool.status("P-ok").results.first { $0.path == "results/out/make.txt" }?.sha256))
        #expect(made.contentSize == "10")   // "hi 1\nhi 2\n"
        #expect(okCrate.files["workflow/prov.yaml"]?.sha256 != nil)

        let failCrate = try RoCrateTools.read(spool.layout.folder("P-fail").path)
        let failed = try #require(failCrate.actions["#step-make-attempt-1"])
        #expect(failed.status == ["http://schema.org/FailedActionStatus"])
        #expect(failed.error?.contains("exit code 3") == true)
        #expect(failCrate.actions["#run"]?.error?.contains("make") == true)

        let retryCrate = try RoCrateTools.read(spool.layout.folder("P-retry").path)
        #expect(retryCrate.mainEntity == nil)
        #expect(retryCrate.actions["#step-flaky-attempt-1"]?.status == ["http://schema.org/FailedActionStatus"])
        #expect(retryCrate.actions["#step-flaky-attempt-1"]?.result == [])
        #expect(retryCrate.actions["#step-flaky-attempt-2"]?.status == ["http://schema.org/CompletedActionStatus"])
        #expect(retryCrate.actions["#step-flaky-attempt-2"]?.result == ["results/out/flaky.txt"])

        let cancelCrate = try RoCrateTools.read(spool.layout.folder("P-cancel").path)
        #expect(cancelCrate.actions["#run"]?.status == ["http://schema.org/FailedActionStatus"])
        let cancelled = try #require(cancelCrate.actions["#step-wait-attempt-1"])
        #expect(cancelled.status == ["http://schema.org/FailedActionStatus"])
        #expect(cancelled.error?.contains("cancel") == true, "\(cancelled.error ?? "no error")")
    }

    @Test func verifyChecksAFolderAndACopyOfIt() throws {
        let spool = try spool()
        _ = try spool.startDaemon()
        try spool.drop("V1.yaml", "workflow: prov\n")
        #expect(try spool.waitFor("V1", timeout: 120).state == .completed)
        let folder = spool.layout.folder("V1").path
        #expect(eventually(timeout: 10) { FileOps.exists(folder + "/ro-crate-metadata.json") })

        let good = try spool.hopper("verify", folder)
        #expect(good.code == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.hasPrefix(folder + ": ") && good.stdout.hasSuffix(" files match ro-crate-metadata.json and results/SHA256SUMS\n"))

        // A copy anywhere (cp -a, as an rsync to an archive would), without spool or daemon.
        let copy = spool.base + "/archive/V1"
        try FileManager.default.createDirectory(atPath: spool.base + "/archive", withIntermediateDirectories: true)
        #expect(try runProgram("/bin/cp", ["-a", folder, copy]).code == 0)
        _ = spool.stopDaemon()
        #expect(try runProgram(Paths.hopper, ["verify", copy]).code == 0)

        // Changed, missing and unexpected files: one line each, sorted, exit 1.
        try "changed\n".write(toFile: copy + "/results/out/make.txt", atomically: false, encoding: .utf8)
        #expect(unlink(copy + "/logs/make.log") == 0)
        try "stray\n".write(toFile: copy + "/results/extra.txt", atomically: false, encoding: .utf8)
        #expect(symlink("/etc/passwd", copy + "/link") == 0)
        let bad = try runProgram(Paths.hopper, ["verify", copy])
        #expect(bad.code == 1)
        let expected = """
            link: unexpected (a symlink)
            logs/make.log: missing
            results/extra.txt: unexpected
            results/out/make.txt: changed (8 bytes, the crate says 16)

            """
        #expect(bad.stdout == expected)
        #expect(bad.stderr == "hopper: \(copy): 4 problems\n")

        let notAJob = try runProgram(Paths.hopper, ["verify", spool.base + "/archive"])
        #expect(notAJob.code == 1)
        #expect(notAJob.stdout.hasPrefix("V1/"))
    }

    @Test func exportReproducesTheJobAfterClean() throws {
        let spool = try spool()
        _ = try spool.startDaemon()
        try spool.drop("E1.yaml", "workflow: prov\nparams: {greeting: bonjour, count: 3}\nretries: 1\nresources: {cpus: 1}\ndescription: \"first: run\"\n")
        #expect(try spool.waitFor("E1", timeout: 120).state == .completed)
        #expect(eventually(timeout: 10) { FileOps.exists(spool.layout.folder("E1").crate) })
        #expect(try spool.request("clean", "E1"))
        #expect(eventually(timeout: 10) { !FileOps.exists(spool.layout.workspace("E1")) })

        let named = try spool.hopper("export", "E1", "--spool", spool.root)
        #expect(named.code == 0, "\(named.stderr)")
        #expect(named.stdout.contains("workflow: \"prov\""))
        #expect(named.stdout.contains("\"fail\": false"))      // the default, made explicit
        #expect(named.stdout.contains("\"count\": 3"))
        #expect(named.stdout.contains("retries: 1"))
        let inline = try spool.hopper("export", "E1", "--inline", "--spool", spool.root)
        #expect(inline.code == 0, "\(inline.stderr)")
        #expect(inline.stdout.contains("steps:") && !inline.stdout.contains("workflow: "))

        try spool.drop("E2.yaml", named.stdout)
        try spool.drop("E3.yaml", inline.stdout)
        #expect(try spool.waitFor("E2", timeout: 120).state == .completed)
        #expect(try spool.waitFor("E3", timeout: 120).state == .completed)
        let original = try JSON.decode(JobManifest.self, from: try FileOps.readFile(spool.layout.folder("E1").plan))
        let again = try JSON.decode(JobManifest.self, from: try FileOps.readFile(spool.layout.folder("E2").plan))
        let inlined = try JSON.decode(JobManifest.self, from: try FileOps.readFile(spool.layout.folder("E3").plan))
        #expect(again == original)
        #expect(inlined.resolvedSteps == original.resolvedSteps)
        #expect(inlined.params == original.params)
        #expect(inlined.workflowName == nil)
        let sums = { (id: String) throws -> [String] in try spool.status(id).results.map(\.sha256) }
        #expect(try sums("E2") == sums("E1"))
        #expect(try sums("E3") == sums("E1"))
    }
}
