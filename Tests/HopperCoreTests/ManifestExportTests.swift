// ManifestExport: a job's plan written back as a manifest reads back as the same plan.
import Testing
@testable import HopperCore

@Suite struct ManifestExportTests {
    func withCatalog(_ files: [String: String], _ body: (WorkflowCatalog, String) throws -> Void) throws {
        let dir = try TempDirectory(files)
        defer { dir.remove() }
        try body(WorkflowCatalog(directory: dir.path), dir.path)
    }

    static let workflow = """
        params:
          sample: {type: string}
          level: {type: integer, default: 2}
          ratio: {type: number, default: 0.5}
          deep: {type: boolean, default: false}
          code: {type: string, default: "007"}
        steps:
          - name: a
            run: |
              echo "$HOPPER_PARAM_SAMPLE: # not a comment"
              exit 0
            outputs: ["out/*.txt"]
            retries: 2
            timeout: 5m
          - name: b
            mock: {duration: 1s, fail_rate: 0.25, seed: 7}
            resources: {cpus: 2, memory: 1536M}
          - name: c
            snakemake: {snakefile: w/Snakefile, targets: [all, "x y"], cores: 2, args: [--keep-going]}
        """

    @Test func namedWorkflowRoundTrips() throws {
        try withCatalog(["w.yaml": Self.workflow]) { catalog, _ in
            let original = try job("""
                workflow: w
                description: "a: b # c"
                params: {sample: "- S1"}
                inputs: {reads: /data/r.fq, ref: {path: refs/hg38.fa, stage: copy}}
                wait_for: {paths: [/data/done], timeout: 1h, stable_for: 10s}
                executor: local
                resources: {cpus: 4, memory: 8G, time: 2h, partition: short}
                priority: -3
                retries: 1
                timeout: 6h
                notify: {email: [a@b.example]}
                """, catalog: catalog)
            let text = ManifestExport.yaml(original, inline: false, header: ["exported"])
            #expect(text.hasPrefix("# exported\nversion: 1\nworkflow: \"w\"\n"))
            #expect(text.contains("\"level\": 2\n") && text.contains("\"code\": \"007\"\n"))
            #expect(text.contains("# notify: left out"))
            var again = try job(text, catalog: catalog)
            #expect(again.notify == nil)
            again.notify = original.notify
            #expect(again == original)
        }
    }

    @Test func inlineCopiesTheStepsIn() throws {
        try withCatalog(["w.yaml": Self.workflow]) { catalog, dir in
            let original = try job("workflow: w\nparams: {sample: S1}\n", catalog: catalog)
            let text = ManifestExport.yaml(original, inline: true)
            #expect(!text.contains("workflow:"))
            let again = try job(text, catalog: nil)
            #expect(again.workflowName == nil)
            #expect(again.resolvedSteps == original.resolvedSteps)
            #expect(again.params == original.params)
            if case .snakemake(let sm) = again.resolvedSteps[2].kind { #expect(sm.snakefile.hasPrefix(dir)) }
        }
    }
}
