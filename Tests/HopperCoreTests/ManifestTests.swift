import Foundation
import Testing
@testable import HopperCore

/// The formatted error lines for a manifest that must fail, or `["(ok)"]`.
func errors(_ yaml: String, file: String = "S001.yaml", catalog: WorkflowCatalog? = nil) -> [String] {
    switch ManifestParser.parse(text: yaml, fileName: file, catalog: catalog) {
    case .success: return ["(ok)"]
    case .failure(let error): return error.diagnostics.map { $0.formatted(file: error.file) }
    }
}

/// The job of a manifest that must pass.
func job(_ yaml: String, catalog: WorkflowCatalog? = nil) throws -> JobManifest {
    let document = try ManifestParser.parse(text: yaml, fileName: "t.yaml", catalog: catalog).get()
    guard case .job(let job) = document else { throw ManifestError(file: "t.yaml", diagnostics: []) }
    return job
}

/// A fresh directory holding the given files; removed by the caller with `remove`.
struct TempDirectory {
    let path: String

    init(_ files: [String: String] = [:]) throws {
        var template = Array((NSTemporaryDirectory() + "hopper-test-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw CocoaError(.fileWriteUnknown) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for (name, text) in files { try write(name, text) }
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite struct ManifestTests {
    @Test func inlineStepsManifest() throws {
        let m = try job("""
        steps:
          - name: hello
            run: echo hi
            timeout: 5m
            retries: 2
            outputs: ["out/*.txt"]
          - name: wait
            mock: {duration: 2s, fail_rate: 0.2, seed: 7}
          - name: smk
            snakemake: {snakefile: wf/Snakefile, targets: [all], args: [--keep-going]}
        params: {sample_id: "007", n: 3, ratio: 0.5, flag: true, country: NO, plain: 007}
        inputs: {reads: /data/r1.fq.gz}
        priority: -5
        """)
        #expect(m.workflowName == nil)
        #expect(m.resolvedSteps.map(\.name) == ["hello", "wait", "smk"])
        #expect(m.resolvedSteps[0].kind == .run(command: "echo hi"))
        #expect(m.resolvedSteps[0].timeout?.seconds == 300)
        #expect(m.resolvedSteps[0].retries == 2)
        #expect(m.resolvedSteps[0].outputs == ["out/*.txt"])
        #expect(m.resolvedSteps[1].kind == .mock(MockStep(duration: DurationValue("2s")!, failRate: 0.2, seed: 7)))
        #expect(m.resolvedSteps[2].kind == .snakemake(SnakemakeStep(snakefile: "wf/Snakefile", targets: ["all"], cores: 1, args: ["--keep-going"])))
        #expect(m.params == ["sample_id": .string("007"), "n": .integer(3), "ratio": .number(0.5), "flag": .boolean(true),
                             "country": .string("NO"), "plain": .string("007")])
        #expect(m.inputs == ["reads": "/data/r1.fq.gz"])
        #expect(m.priority == -5)
        #expect(m.retries == nil && m.timeout == nil && m.notify == nil && m.executor == nil)
    }

    @Test func everyTopLevelKey() throws {
        let m = try job("""
        version: 1
        steps: [{name: a, run: "true"}]
        wait_for: {paths: [/x/done], timeout: 12h, stable_for: 0s}
        executor: slurm
        resources: {cpus: 4, memory: 8G, time: 2h, partition: short, account: lab, qos: normal, gpus: 1}
        priority: 1000
        retries: 3
        timeout: 6h
        notify: {email: alice@lab.example, command: /bin/post}
        description: Something
        """)
        #expect(m.version == 1)
        #expect(m.waitFor == WaitFor(paths: ["/x/done"], timeout: DurationValue("12h"), stableFor: DurationValue("0s")))
        #expect(m.executor == .slurm)
        #expect(m.resources == Resources(cpus: 4, memory: .gib(8), time: DurationValue("2h"), partition: "short",
                                         account: "lab", qos: "normal", gpus: 1))
        #expect(m.priority == 1000 && m.retries == 3 && m.timeout?.seconds == 21_600)
        #expect(m.notify == Notify(email: ["alice@lab.example"], on: [.completed, .failed], command: "/bin/post"))
        #expect(m.description == "Something")
    }

    @Test func unknownKeysSuggest() {
        #expect(errors("steps: [{name: a, run: x}]\nparamz: {}\ncolour: red\n") == [
            "S001.yaml:2:1: paramz: unknown key \"paramz\"; did you mean \"params\"?",
            "S001.yaml:3:1: colour: unknown key \"colour\"",
        ])
        #expect(errors("steps: [{name: a, runn: x}]\n") == [
            "S001.yaml:1:9: steps[0]: step \"a\" has no type: give one of run, snakemake, mock",
            "S001.yaml:1:19: steps[0].runn: unknown key \"runn\"; did you mean \"run\"?",
        ])
    }

    @Test func wrongTypes() {
        #expect(errors("""
        steps: {name: a}
        params: [a, b]
        priority: high
        retries: 1.5
        timeout: soon
        resources: {cpus: 0, memory: lots, gpus: -1}
        description: [x]
        inputs: {reads: [x]}
        """) == [
            "S001.yaml:1:8: steps: expected a list; got a mapping",
            "S001.yaml:2:9: params: expected a mapping; got a sequence",
            "S001.yaml:3:11: priority: expected an integer; got \"high\"",
            "S001.yaml:4:10: retries: expected an integer; got \"1.5\"",
            "S001.yaml:5:10: timeout: expected a duration such as 30s, 5m, 2h; got \"soon\"",
            "S001.yaml:6:19: resources.cpus: must be between 1 and 100000; got 0",
            "S001.yaml:6:30: resources.memory: expected a size such as 512M, 8G; got \"lots\"",
            "S001.yaml:6:42: resources.gpus: must be between 0 and 10000; got -1",
            "S001.yaml:7:14: description: expected a string; got a sequence",
            "S001.yaml:8:17: inputs.reads: expected a string; got a sequence",
        ])
    }

    @Test func inputsMayAskToBeCopied() {
        #expect(errors("steps: [{name: a, run: x}]\ninputs: {reads: {path: /x, stage: move}, ref: {stage: copy}}\n") == [
            "S001.yaml:2:35: inputs.reads.stage: expected one of symlink, copy; got \"move\"",
            "S001.yaml:2:47: inputs.ref: missing required key \"path\"",
        ])
        guard case .success(.job(let m)) = ManifestParser.parse(text: "steps: [{name: a, run: x}]\ninputs: {reads: {path: /x, stage: copy}, ref: /r}\n",
                                                                fileName: "S001.yaml", catalog: nil) else {
            Issue.record("not parsed"); return
        }
        #expect(m.inputs == ["reads": "/x", "ref": "/r"])
        #expect(m.copiedInputs == ["reads"])
    }

    @Test func rangesAndZero() {
        #expect(errors("steps: [{name: a, run: x}]\npriority: -1001\nretries: 101\ntimeout: 0s\nversion: 2\n") == [
            "S001.yaml:2:11: priority: must be between -1000 and 1000; got -1001",
            "S001.yaml:3:10: retries: must be between 0 and 100; got 101",
            "S001.yaml:4:10: timeout: must be longer than zero; got \"0s\"",
            "S001.yaml:5:10: version: unsupported manifest version 2; this Hopper reads version 1",
        ])
        #expect(errors("steps: [{name: a, run: x, timeout: -5s}]\nresources: {memory: 0}\n") == [
            "S001.yaml:1:36: steps[0].timeout: a duration must not be negative; got \"-5s\"",
            "S001.yaml:2:21: resources.memory: must be larger than zero; got \"0\"",
        ])
        #expect(errors("steps: [{name: a, run: x}]\ntimeout: 99999d\n") == [
            "S001.yaml:2:10: timeout: must be at most 3650d; got \"99999d\"",
        ])
    }

    @Test func nullIsNeverAValue() {
        #expect(errors("steps: [{name: a, run: }]\ndescription: ~\nparams: {x: null}\n") == [
            "S001.yaml:1:24: steps[0].run: expected a string; got nothing",
            "S001.yaml:2:14: description: expected a string; got null",
            "S001.yaml:3:13: params.x: expected a string, number or boolean; got null",
        ])
        #expect(errors("steps: [{name: a, run: '  '}]\n") == ["S001.yaml:1:24: steps[0].run: must not be empty"])
    }

    @Test func workflowXorSteps() {
        #expect(errors("description: x\n") == [
            "S001.yaml:1:1: a manifest needs either \"workflow\" (a workflow's name) or \"steps\" (inline steps)",
        ])
        #expect(errors("steps: [{name: a, run: x}]\nworkflow: demo\n").first == "S001.yaml:2:1: give either \"workflow\" or \"steps\", not both")
        #expect(errors("steps: []\n") == ["S001.yaml:1:8: steps: expected at least one step; got an empty list"])
        #expect(errors("workflow: demo\n") == ["S001.yaml:1:11: workflow: no workflow directory configured (`workflows:` in the daemon's config; `hopper system` shows it)"])
    }

    @Test func stepProblems() {
        #expect(errors("""
        steps:
          - name: qc
            run: a
          - name: qc
            mock: {duration: 1s}
          - name: build
            docker: ubuntu
          - run: b
          - name: two
            run: a
            snakemake: {snakefile: S}
          - name: bad name
            mock: {duration: 1s, fail_rate: 2, speed: 3}
          - name: smk
            snakemake: {targets: all}
          - just a string
        """) == [
            "S001.yaml:4:11: steps[1].name: duplicate step name \"qc\" (first at line 2)",
            "S001.yaml:6:5: steps[2]: step \"build\" has no type: give one of run, snakemake, mock",
            "S001.yaml:7:5: steps[2].docker: unknown key \"docker\"",
            "S001.yaml:8:5: steps[3]: missing required key \"name\"",
            "S001.yaml:11:5: steps[4]: a step has exactly one type; found run and snakemake",
            "S001.yaml:12:11: steps[5].name: step name \"bad name\" is not valid: use at most 64 letters, digits, '.', '_', '-', starting with a letter or digit",
            "S001.yaml:13:37: steps[5].mock.fail_rate: must be between 0 and 1; got 2",
            "S001.yaml:13:40: steps[5].mock.speed: unknown key \"speed\"; did you mean \"seed\"?",
            "S001.yaml:15:16: steps[6].snakemake: missing required key \"snakefile\"",
            "S001.yaml:15:26: steps[6].snakemake.targets: expected a list; got \"all\"",
            "S001.yaml:16:5: steps[7]: expected a mapping; got \"just a string\"",
        ])
    }

    @Test func outputsStayInsideTheWorkspace() {
        #expect(errors("steps: [{name: a, run: x, outputs: [/etc/passwd, ../up, a/../../b, ok/*.txt, \"a\\nb\"]}]\n") == [
            "S001.yaml:1:37: steps[0].outputs[0]: output \"/etc/passwd\" must be a relative path inside the workspace",
            "S001.yaml:1:50: steps[0].outputs[1]: output \"../up\" must not contain a \"..\" component",
            "S001.yaml:1:57: steps[0].outputs[2]: output \"a/../../b\" must not contain a \"..\" component",
            "S001.yaml:1:78: steps[0].outputs[4]: must be a single line",
        ])
    }

    @Test func paramAndInputNames() {
        #expect(errors("steps: [{name: a, run: x}]\nparams: {Sample: a, sample: b, 2x: c, a-b: d}\ninputs: {ok: /a, \"bad name\": /b}\n") == [
            "S001.yaml:2:21: params: params \"Sample\" and \"sample\" would both be HOPPER_PARAM_SAMPLE",
            "S001.yaml:2:32: params: param name \"2x\" is not valid: use letters, digits and '_', not starting with a digit",
            "S001.yaml:2:39: params: param name \"a-b\" is not valid: use letters, digits and '_', not starting with a digit",
            "S001.yaml:3:18: inputs: input name \"bad name\" is not valid: use letters, digits and '_', not starting with a digit",
        ])
    }

    @Test func notifyAndWaitFor() {
        #expect(errors("""
        steps: [{name: a, run: x}]
        notify: {email: ["a@b.c", "x@y, z@w", "nobody"], on: [completed, exploded]}
        wait_for: {timeout: 1h}
        executor: k8s
        """) == [
            "S001.yaml:2:27: notify.email[1]: expected an email address such as alice@lab.example; got \"x@y, z@w\"",
            "S001.yaml:2:39: notify.email[2]: expected an email address such as alice@lab.example; got \"nobody\"",
            "S001.yaml:2:66: notify.on[1]: expected one of completed, failed, cancelled, started; got \"exploded\"",
            "S001.yaml:3:11: wait_for: missing required key \"paths\"",
            "S001.yaml:4:11: executor: expected one of local, slurm; got \"k8s\"",
        ])
        #expect(errors("steps: [{name: a, run: x}]\nwait_for: {paths: []}\n") == [
            "S001.yaml:2:19: wait_for.paths: must not be an empty list",
        ])
    }

    @Test func rootMustBeAMapping() {
        #expect(errors("- a\n- b\n") == ["S001.yaml:1:1: a manifest must be a mapping of keys to values; got a sequence"])
        #expect(errors("just text\n") == ["S001.yaml:1:1: a manifest must be a mapping of keys to values; got \"just text\""])
        #expect(errors("---\n") == ["S001.yaml: the file is empty"])
        #expect(errors("") == ["S001.yaml: the file is empty"])
    }

    @Test func allErrorsAreCollectedInDocumentOrder() {
        let lines = errors("""
        workflow: nope
        paramz: {}
        priority: x
        notify: {on: [never]}
        """, catalog: nil)
        #expect(lines.count == 4)
        #expect(lines.map { $0.split(separator: ":")[1] } == ["1", "2", "3", "4"])
    }

    @Test func diagnosticsAreCapped() {
        let yaml = "steps: [{name: a, run: x}]\n" + (0..<80).map { "bad\($0): 1" }.joined(separator: "\n")
        let lines = errors(yaml)
        #expect(lines.count == 51)
        #expect(lines.last == "S001.yaml: 30 more problems not shown")
    }

    @Test func modelIsCodable() throws {
        let m = try job("steps: [{name: a, mock: {duration: 1s}}]\nparams: {n: 1}\nresources: {memory: 1G}\n")
        let data = try JSONEncoder().encode(m)
        #expect(try JSONDecoder().decode(JobManifest.self, from: data) == m)
    }

    /// Not a timing assertion: a sanity check that a small manifest parses many times quickly.
    @Test func parsesManySmallManifests() throws {
        let text = Array("""
        steps:
          - name: hello
            run: echo hi
        params: {sample: S001, n: 3}
        priority: 10
        resources: {cpus: 2, memory: 4G}
        """.utf8)
        for _ in 0..<2000 {
            _ = try ManifestParser.parse(text, fileName: "x.yaml", catalog: nil).get()
        }
    }
}
