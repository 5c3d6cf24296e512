// What the hostile corpus (hostile/) and the fuzzer (scripts/fuzz) found in the parser and
// validator, one test each, so that it stays fixed.
import Testing
@testable import HopperCore

@Suite struct HostileInputTests {
    /// An escape sequence in a path was accepted and would reach terminals through
    /// `hopper status` and the logs; every single-line value now refuses control characters.
    @Test func controlCharactersInSingleLineValuesAreRejected() {
        let inline = "steps: [{name: a, run: \"true\"}]\n"
        #expect(errors(inline + "inputs: {reads: \"/data/\\e]0;pwned\\a\"}\n") == [
            "S001.yaml:2:17: inputs.reads: must not contain control characters; found U+001B in \"/data/\\u{1B}]0;pwned\\u{7}\"",
        ])
        #expect(errors(inline + "inputs: {reads: \"/data/a\\tb\"}\n") == [
            "S001.yaml:2:17: inputs.reads: must not contain control characters; found U+0009 in \"/data/a\\tb\"",
        ])
        #expect(errors(inline + "inputs: {reads: \"/data/\\x85x\"}\n") == [
            "S001.yaml:2:17: inputs.reads: must not contain control characters; found U+0085 in \"/data/\u{85}x\"",
        ])
        #expect(errors("steps: [{name: a, snakemake: {snakefile: \"a\\x7Fb\"}}]\n").first?.contains("found U+007F") == true)
        // Tabs and escapes stay fine where text may be anything: commands, descriptions.
        #expect(errors("steps: [{name: a, run: \"printf '\\\\e[1m\\tbold'\"}]\ndescription: \"a\\tb\"\n") == ["(ok)"])
        #expect(errors(inline + "inputs: {reads: /data/Ünïcödé/ok.fastq}\n") == ["(ok)"])
    }

    /// A U+FEFF in the middle of a file was reported by libyaml as "did not find expected key".
    @Test func aByteOrderMarkAfterTheStartIsNamed() {
        let text = "steps: [{name: a, run: \"true\"}]\n\u{FEFF}priority: 1\n"
        #expect(errors(text) == [
            "S001.yaml:2:1: file contains a byte order mark (U+FEFF) after its start; remove it (most editors do not show it)",
        ])
        // At the start it is allowed.
        #expect(errors("\u{FEFF}steps: [{name: a, run: \"true\"}]\n") == ["(ok)"])
    }

    /// Tabs: a file of spaces, tabs and newlines is empty; a tab used to indent says so.
    @Test func tabsAreExplained() {
        #expect(errors("   \n\n\t\n") == ["S001.yaml: the file is empty"])
        #expect(errors("steps:\n\t- name: a\n\t  run: \"true\"\n") == [
            "S001.yaml:2:1: a tab character cannot indent YAML; indent with spaces",
        ])
    }

    /// A document holding only `~` was reported as "the file is empty".
    @Test func aNullDocumentIsNotCalledEmpty() {
        #expect(errors("~\n") == ["S001.yaml:1:1: a manifest must be a mapping of keys to values; got null"])
        #expect(errors("null\n") == ["S001.yaml:1:1: a manifest must be a mapping of keys to values; got null"])
        #expect(errors("---\n") == ["S001.yaml: the file is empty"])
    }

    /// A key longer than libyaml's 1024-character limit for implicit keys got only
    /// "could not find expected ':'".
    @Test func anOverlongKeySaysWhy() {
        let text = "steps: [{name: a, run: \"true\"}]\n" + String(repeating: "k", count: 5000) + ": 1\n"
        #expect(errors(text) == [
            "S001.yaml:2:5001: could not find expected ':' while scanning a simple key; a key and its ':' must be on one line, at most 1024 characters apart",
        ])
    }

    /// 20,000 unknown keys: every one is reported (the list is capped when shown), but only
    /// the first ones get a "did you mean" (an edit distance each).
    @Test func manyUnknownKeysStayCheap() {
        var text = "steps: [{name: a, run: \"true\"}]\n"
        for i in 0..<20_000 { text += "prority\(i): 1\n" }
        switch ManifestParser.parse(text: text, fileName: "S001.yaml", catalog: nil) {
        case .success: Issue.record("accepted")
        case .failure(let error):
            #expect(error.diagnostics.count == Checker.maxDiagnostics + 1)
            #expect(error.diagnostics.first?.message == "unknown key \"prority0\"; did you mean \"priority\"?")
            #expect(error.diagnostics.last?.message == "19950 more problems not shown")
        }
    }
}
