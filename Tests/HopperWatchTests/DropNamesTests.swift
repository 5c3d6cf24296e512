import HopperCore
import Testing

@Suite struct DropNamesTests {
    @Test func candidates() {
        #expect(DropNames.classify("S001-qc.yaml") == .candidate(stem: "S001-qc"))
        #expect(DropNames.classify("S001-qc.yml") == .candidate(stem: "S001-qc"))
        #expect(DropNames.classify("a.b.yaml") == .candidate(stem: "a.b"))
        // Invalid ids are still candidates: intake rejects them with a reason.
        #expect(DropNames.classify("bad id!.yaml") == .candidate(stem: "bad id!"))
        #expect(DropNames.classify("-x.yaml") == .candidate(stem: "-x"))
        #expect(DropNames.classify("é.yaml") == .candidate(stem: "é"))
    }

    @Test func ignored() {
        for name in [
            "", ".yaml", ".S001.yaml", ".S001.yaml.tmp", "S001.yaml.tmp", "S001.yaml.part",
            "S001.yaml.partial", "S001.yaml~", "README.txt", "S001.yaml.bak", "S001.YAML.tmp", ".S001.YAML", "yaml.txt", ".yaml.txt",
            "yaml", "S001yaml", "a/b.yaml",
        ] {
            #expect(DropNames.classify(name) == .ignored, "\(name) should be ignored")
            #expect(!DropNames.isCandidate(name))
            #expect(!DropNames.isPlausible(name))
        }
    }

    @Test func misnamedManifestsSayWhichNameToUse() {
        let cases = [
            ("RUN.YAML", "RUN.yaml"), ("S001.Yml", "S001.yml"), ("run.yaml.txt", "run.yaml"),
            ("Run.YAML.TXT", "Run.yaml"), ("x.yml.Txt", "x.yml"), ("é.Yaml", "é.yaml"),
        ]
        for (name, fixed) in cases {
            #expect(DropNames.classify(name) == .misnamed(rename: fixed), "\(name)")
            #expect(DropNames.isPlausible(name) && !DropNames.isCandidate(name))
        }
    }
}
