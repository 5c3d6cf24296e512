import Foundation
import Testing
@testable import HopperCore

@Suite struct WorkflowTests {
    static let variantCalling = """
    description: Toy variant calling
    params:
      sample: {type: string, required: true, pattern: "^S[0-9]+$"}
      genome: {type: string, enum: [hg19, hg38], default: hg38}
      threads: {type: integer, min: 1, max: 64, default: 4}
      quality: {type: number, min: 0, max: 1}
      dry_run: {type: boolean, default: false}
      reference: {type: path}
      level: {type: integer, enum: [1, 2, 3]}
    steps:
      - name: qc
        run: fastqc "$HOPPER_INPUT_READS" -o qc/
      - name: call
        snakemake: {snakefile: vc/Snakefile, cores: 2}
    """

    func withCatalog(_ files: [String: String], _ body: (WorkflowCatalog, TempDirectory) throws -> Void) throws {
        let dir = try TempDirectory(files)
        defer { dir.remove() }
        try body(WorkflowCatalog(directory: dir.path), dir)
    }

    @Test func paramsAreCheckedAndDefaulted() throws {
        try withCatalog(["vc.yaml": Self.variantCalling]) { catalog, dir in
            let m = try job("workflow: vc\nparams: {sample: S001, quality: 1, level: 2}\n", catalog: catalog)
            #expect(m.workflowName == "vc")
            #expect(m.resolvedSteps.map(\.name) == ["qc", "call"])
            guard case .snakemake(let smk) = m.resolvedSteps[1].kind else { Issue.record("not snakemake"); return }
            #expect(smk.snakefile == dir.path + "/vc/Snakefile")
            #expect(m.params == ["sample": .string("S001"), "genome": .string("hg38"), "threads": .integer(4),
                                 "quality": .number(1), "dry_run": .boolean(false), "level": .integer(2)])
        }
    }

    @Test func paramErrors() throws {
        try withCatalog(["vc.yaml": Self.variantCalling]) { catalog, _ in
            #expect(errors("""
            workflow: vc
            params:
              sampel: S001
              genome: hg37
              threads: 100
              quality: high
              dry_run: yes
              level: 7
              reference: [a]
              colour: red
            """, catalog: catalog) == [
                "S001.yaml:2:1: params: missing required param \"sample\"",
                "S001.yaml:3:3: params.sampel: unknown param \"sampel\"; did you mean \"sample\"?",
                "S001.yaml:4:11: params.genome: expected one of hg19, hg38; got \"hg37\"",
                "S001.yaml:5:12: params.threads: must be between 1 and 64; got 100",
                "S001.yaml:6:12: params.quality: expected a number; got \"high\"",
                "S001.yaml:7:12: params.dry_run: expected true or false; got \"yes\"",
                "S001.yaml:8:10: params.level: expected one of 1, 2, 3; got 7",
                "S001.yaml:9:14: params.reference: expected a string; got a sequence",
                "S001.yaml:10:3: params.colour: unknown param \"colour\"; workflow \"vc\" takes sample, genome, threads, quality, dry_run, reference, level",
            ])
            #expect(errors("workflow: vc\nparams: {sample: X1}\n", catalog: catalog) == [
                "S001.yaml:2:18: params.sample: expected a value matching ^S[0-9]+$; got \"X1\"",
            ])
            // No params key: the missing param is reported at the document start.
            #expect(errors("# c\nworkflow: vc\n", catalog: catalog) == [
                "S001.yaml:2:1: params: missing required param \"sample\"",
            ])
        }
    }

    @Test func stringParamsAreNotGuessed() throws {
        try withCatalog(["w.yaml": "params: {country: {type: string}, id: {type: string}}\nsteps: [{name: a, run: x}]\n"]) { catalog, _ in
            let m = try job("workflow: w\nparams: {country: NO, id: 007}\n", catalog: catalog)
            #expect(m.params == ["country": .string("NO"), "id": .string("007")])
        }
    }

    @Test func unknownAndInvalidWorkflows() throws {
        try withCatalog(["demo.yaml": "steps: [{name: a, run: x}]\n", "hello.yaml": "steps: [{name: a, run: x}]\n",
                         "broken.yaml": "steps:\n  - name: a\n    run: x\n    oops: 1\n  - name: b\n"]) { catalog, dir in
            #expect(catalog.names() == ["broken", "demo", "hello"])
            #expect(errors("workflow: foo\n", catalog: catalog) == [
                "S001.yaml:1:11: workflow: unknown workflow \"foo\"; available: broken, demo, hello",
            ])
            let folder = URL(fileURLWithPath: dir.path).lastPathComponent
            #expect(errors("workflow: broken\n", catalog: catalog) == [
                "S001.yaml:1:11: workflow: workflow \"broken\" is invalid: \(folder)/broken.yaml:4:5: steps[0].oops: unknown key \"oops\" (and 1 more)",
            ])
            #expect(errors("workflow: ../etc/passwd\n", catalog: catalog) == [
                "S001.yaml:1:11: workflow: workflow name \"../etc/passwd\" is not valid: it must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}",
            ])
            guard case .invalid(let error) = catalog.lookup("broken") else { Issue.record("not invalid"); return }
            #expect(error.formatted == """
            \(folder)/broken.yaml:4:5: steps[0].oops: unknown key "oops"
            \(folder)/broken.yaml:5:5: steps[1]: step "b" has no type: give one of run, snakemake, mock
            """)
        }
    }

    @Test func workflowFileErrors() throws {
        let result = Workflow.parse(Array("""
        description: x
        params:
          a: {type: text}
          b: {required: true}
          c: {type: string, min: 1, pattern: "("}
          d: {type: integer, default: many, min: 5, max: 1}
          e: {type: integer, enum: [1, 2], default: 3}
          f: {type: boolean, pattern: x}
          "g h": {type: string}
          s: {type: string, enum: []}
        extra: 1
        """.utf8), name: "w", fileName: "Workflows/w.yaml")
        guard case .failure(let error) = result else { Issue.record("parsed"); return }
        let lines = error.formatted.split(separator: "\n").map(String.init)
        #expect(lines.count == 12)
        #expect(lines[0] == "Workflows/w.yaml:1:1: missing required key \"steps\"")
        #expect(lines[1] == "Workflows/w.yaml:3:13: params.a.type: expected one of string, integer, number, boolean, path; got \"text\"")
        #expect(lines[2] == "Workflows/w.yaml:4:6: params.b: missing required key \"type\"")
        #expect(lines[3] == "Workflows/w.yaml:5:21: params.c: min is only allowed for integer and number params")
        #expect(lines[4].hasPrefix("Workflows/w.yaml:5:38: params.c.pattern: not a valid regular expression"))
        #expect(lines[5] == "Workflows/w.yaml:6:31: params.d.default: expected an integer; got \"many\"")
        #expect(lines[6] == "Workflows/w.yaml:6:50: params.d.max: max must not be less than min")
        #expect(lines[7] == "Workflows/w.yaml:7:45: params.e.default: expected one of 1, 2; got 3")
        #expect(lines[8] == "Workflows/w.yaml:8:22: params.f: pattern is only allowed for string and path params")
        #expect(lines[9] == "Workflows/w.yaml:9:3: params: param name \"g h\" is not valid: use letters, digits and '_', not starting with a digit")
        #expect(lines[10] == "Workflows/w.yaml:10:27: params.s.enum: must not be an empty list")
        #expect(lines[11] == "Workflows/w.yaml:11:1: extra: unknown key \"extra\"")
    }

    @Test func cacheIsReusedAndInvalidatedByMtime() throws {
        try withCatalog(["w.yaml": "description: one\nsteps: [{name: a, run: x}]\n"]) { catalog, dir in
            #expect(catalog.workflow(named: "w")?.description == "one")
            #expect(catalog.workflow(named: "w")?.description == "one")
            // Same size, new mtime.
            try dir.write("w.yaml", "description: two\nsteps: [{name: a, run: x}]\n")
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, dir.path + "/w.yaml", &times, 0) == 0)
            #expect(catalog.workflow(named: "w")?.description == "two")
            try dir.write("w.yaml", "steps: oops\n")
            guard case .invalid = catalog.lookup("w") else { Issue.record("expected invalid"); return }
            try FileManager.default.removeItem(atPath: dir.path + "/w.yaml")
            #expect(catalog.lookup("w") == .notFound)
        }
    }

    @Test func catalogIsSafeToShare() async throws {
        let dir = try TempDirectory(["w.yaml": "steps: [{name: a, run: x}]\n"])
        defer { dir.remove() }
        let catalog = WorkflowCatalog(directory: dir.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 {
                        _ = try ManifestParser.parse(text: "workflow: w\n", fileName: "x.yaml", catalog: catalog).get()
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func shippedWorkflows() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let catalog = WorkflowCatalog(directory: repo.appendingPathComponent("Workflows").path)
        #expect(catalog.names().contains("demo") && catalog.names().contains("hello"))
        let demo = try job("workflow: demo\n", catalog: catalog)
        #expect(demo.resolvedSteps.map(\.name) == ["prepare", "analyse", "report"])
        #expect(demo.params == ["sample": .string("demo")])
        let hello = try job("workflow: hello\nparams: {name: Ada Lovelace}\n", catalog: catalog)
        #expect(hello.params == ["name": .string("Ada Lovelace"), "greeting": .string("hello")])
        #expect(hello.resolvedSteps.first?.outputs == ["greeting.txt"])
        #expect(errors("workflow: hello\nparams: {name: \"Bobby; rm -rf /\", greeting: hey}\n", catalog: catalog) == [
            "S001.yaml:2:16: params.name: expected a value matching ^[A-Za-z ]+$; got \"Bobby; rm -rf /\"",
            "S001.yaml:2:45: params.greeting: expected one of hello, hi; got \"hey\"",
        ])
        #expect(errors("workflow: hello\n", catalog: catalog) == ["S001.yaml:1:1: params: missing required param \"name\""])
    }
}
