import Testing
@testable import HopperCore

@Suite struct NamesTests {
    @Test func validIDs() {
        #expect(Names.isValid("S001-qc"))
        #expect(Names.isValid("a"))
        #expect(Names.isValid("A.b_c-1"))
        #expect(Names.isValid(String(repeating: "x", count: 128)))
    }
    @Test func invalidIDs() {
        for bad in ["", ".hidden", "..", "-x", "_x", "a/b", "a b", "a\nb", "a\0b", "é", String(repeating: "x", count: 129)] {
            #expect(!Names.isValid(bad), "\(bad) should be invalid")
            #expect(Names.jobIDProblem(bad) != nil)
        }
    }
    @Test func diagnosticFormat() {
        let d = Diagnostic(line: 7, column: 10, path: "params.genome", message: "expected one of hg19, hg38; got \"hg37\"")
        #expect(d.formatted(file: "S001.yaml") == "S001.yaml:7:10: params.genome: expected one of hg19, hg38; got \"hg37\"")
        #expect(Diagnostic(message: "empty file").formatted(file: "x.yaml") == "x.yaml: empty file")
    }
}
