// The JSON Schemas in schemas/ describe what Hopper really writes and reads: status.json files
// of finished jobs validate against schemas/status.schema.json, and the example manifests
// against schemas/manifest.schema.json (checked with Python's jsonschema, which the Snakemake
// venv carries).
import Foundation
import HopperCore
import HopperTestSupport
import Testing

extension Integration {
    @Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: Paths.snakemake) || ProcessInfo.processInfo.environment["CI"] != nil,
                    "needs the venv of scripts/setup-snakemake (the test command runs it)"))
    struct Schemas {
        static let validator = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            bad = 0
            for path in sys.argv[2:]:
                doc = yaml.safe_load(open(path)) if path.endswith((".yaml", ".yml")) else json.load(open(path))
                errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
                print(("ok " if not errors else "INVALID ") + path + "".join("\\n  " + e.message for e in errors))
                bad += bool(errors)
            sys.exit(1 if bad else 0)
            """

        func validate(_ schema: String, _ files: [String]) throws -> CommandResult {
            let python = FileOps.split(Paths.snakemake).0 + "/python"
            return try runProgram(python, ["-c", Self.validator, Paths.repo + "/schemas/" + schema] + files)
        }

        @Test func statusFilesValidate() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("ok.yaml", "steps: [{name: a, run: \"echo x > r.txt\", outputs: [r.txt]}]\ndescription: fine\n")
            try spool.drop("bad.yaml", "steps: [{name: a, run: \"exit 2\"}, {name: b, run: \"true\"}]\n")
            try spool.drop("pend.yaml", try String(contentsOfFile: Paths.repo + "/Workflows/examples/demo-S001.yaml", encoding: .utf8))
            try spool.waitFor("ok")
            try spool.waitFor("bad")
            let r = try validate("status.schema.json", ["ok", "bad", "pend"].map { spool.layout.status($0) })
            #expect(r.code == 0, "\(r.stdout)\(r.stderr)")
        }

        @Test func exampleManifestsValidateAndBrokenOnesDoNot() throws {
            let examples = try FileManager.default.contentsOfDirectory(atPath: Paths.repo + "/Workflows/examples")
                .filter { $0.hasSuffix(".yaml") }.map { Paths.repo + "/Workflows/examples/" + $0 }
            #expect(examples.count >= 5)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-schema-\(UUID().uuidString.prefix(6))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try "action: rerun\njob: S001\nsteps: [call]\n".write(toFile: dir + "/req.yaml", atomically: true, encoding: .utf8)
            let ok = try validate("manifest.schema.json", examples + [dir + "/req.yaml"])
            #expect(ok.code == 0, "\(ok.stdout)\(ok.stderr)")
            try "workflow: demo\nprority: 1\n".write(toFile: dir + "/typo.yaml", atomically: true, encoding: .utf8)
            try "steps: [{name: a, run: x, outputs: [../escape]}]\n".write(toFile: dir + "/escape.yaml", atomically: true, encoding: .utf8)
            let bad = try validate("manifest.schema.json", [dir + "/typo.yaml", dir + "/escape.yaml"])
            #expect(bad.code == 1 && bad.stdout.components(separatedBy: "INVALID").count == 3, "\(bad.stdout)")
        }
    }
}

extension Integration.Schemas {
    @Test func metricsFileParsesWithPrometheusOwnParser() throws {
        let spool = try TestSpool()
        try spool.startDaemon()
        try spool.drop("m1.yaml", "steps: [{name: a, run: \"sleep 0.2\"}]\n")
        try spool.drop("m2.yaml", "steps: [{name: a, run: \"exit 1\"}]\n")
        try spool.drop("m3.yaml", "nonsense: [\n")
        try spool.waitFor("m1")
        try spool.waitFor("m2")
        let path = spool.layout.metrics + "/hopper.prom"
        #expect(eventually(timeout: 10) {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("hopper_step_duration_seconds_count 2")
        })
        let parser = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            values = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    values[s.name + "".join(f"|{k}={v}" for k, v in sorted(s.labels.items()))] = s.value
            for key in sorted(values):
                print(key, "%g" % float(values[key]))
            """
        let python = FileOps.split(Paths.snakemake).0 + "/python"
        let r = try runProgram(python, ["-c", parser, path])
        #expect(r.code == 0, "\(r.stderr)")
        let lines = Set(r.stdout.split(separator: "\n").map(String.init))
        for expected in ["hopper_jobs|state=completed 1", "hopper_jobs|state=failed 1", "hopper_accepted_total 2",
                         "hopper_rejected_total 1", "hopper_step_duration_seconds_count 2", "hopper_intake_backlog 0",
                         "hopper_step_duration_seconds_bucket|le=+Inf 2", "hopper_step_duration_seconds_bucket|le=0.1 1"] {
            #expect(lines.contains(expected), "missing \(expected) in\n\(r.stdout)")
        }
        #expect(lines.contains { $0.hasPrefix("hopper_heartbeat_timestamp_seconds ") })
    }
}
