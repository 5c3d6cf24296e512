import Testing
@testable import HopperCore

@Suite struct ControlRequestTests {
    func request(_ yaml: String) throws -> ControlRequest {
        let document = try ManifestParser.parse(text: yaml, fileName: "r.yaml", catalog: nil).get()
        guard case .control(let request) = document else { throw ManifestError(file: "r.yaml", diagnostics: []) }
        return request
    }

    @Test func actions() throws {
        #expect(try request("action: cancel\njob: S001-qc\n") == ControlRequest(action: .cancel, job: "S001-qc"))
        #expect(try request("action: retry\njob: a.b_c\n") == ControlRequest(action: .retry, job: "a.b_c"))
        #expect(try request("job: x\naction: rerun\nsteps: [call, qc]\n") == ControlRequest(action: .rerun, job: "x", steps: ["call", "qc"]))
        #expect(try request("action: clean\njob: \"42\"\n") == ControlRequest(action: .clean, job: "42"))
    }

    @Test func problems() {
        #expect(errors("action: restart\njob: ../etc\nsteps: [call]\nforce: true\n", file: "r.yaml") == [
            "r.yaml:1:9: action: expected one of cancel, retry, rerun, clean; got \"restart\"",
            "r.yaml:2:6: job: job id \"../etc\" is not valid: it must match [A-Za-z0-9][A-Za-z0-9._-]{0,127} (letters, digits, '.', '_', '-'; not starting with '.', '_' or '-')",
            "r.yaml:4:1: force: unknown key \"force\"",
        ])
        #expect(errors("action: cancel\n", file: "r.yaml") == ["r.yaml:1:1: missing required key \"job\""])
        #expect(errors("action: cancel\njob: a\nsteps: [x]\n", file: "r.yaml") == [
            "r.yaml:3:1: \"steps\" is only allowed with action: rerun",
        ])
        #expect(errors("action: rerun\njob: a\nsteps: []\nworkflow: demo\n", file: "r.yaml") == [
            "r.yaml:3:8: steps: must not be an empty list",
            "r.yaml:4:1: workflow: unknown key \"workflow\"",
        ])
        #expect(errors("action: rerun\njob: a\nsteps: [\"bad step\"]\n", file: "r.yaml") == [
            "r.yaml:3:9: steps[0]: step name \"bad step\" is not valid",
        ])
    }
}
