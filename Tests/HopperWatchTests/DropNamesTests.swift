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
            "S001.yaml.partial", "S001.yaml~", "README.txt", "S001.YAML", "S001.Yml", "S001.yaml.bak",
            "yaml", "S001yaml", "a/b.yaml",
        ] {
            #expect(DropNames.classify(name) == .ignored, "\(name) should be ignored")
            #expect(!DropNames.isCandidate(name))
        }
    }
}
