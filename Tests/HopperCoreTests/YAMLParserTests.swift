import Testing
@testable import HopperCore

@Suite struct YAMLParserTests {
    func parse(_ text: String, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> YAMLNode {
        try YAMLParser.parse(Array(text.utf8), limits: limits)
    }

    /// The formatted diagnostics for text that must fail.
    func problems(_ text: String, limits: YAMLLimits = YAMLLimits()) -> [String] {
        problems(Array(text.utf8), limits: limits)
    }

    func problems(_ bytes: [UInt8], limits: YAMLLimits = YAMLLimits()) -> [String] {
        do {
            _ = try YAMLParser.parse(bytes, limits: limits)
            return ["(parsed)"]
        } catch {
            return error.diagnostics.map { $0.formatted(file: "f.yaml") }
        }
    }

    @Test func positionsAreOneBased() throws {
        let root = try parse("""
        # comment
        name: qc
        list:
          - a
          - "b"
        map: {x: 1}
        """)
        #expect(root.line == 2 && root.column == 1)
        let pairs = try #require(root.pairs)
        #expect(pairs.map { $0.key.scalar } == ["name", "list", "map"])
        #expect(pairs[0].value.line == 2 && pairs[0].value.column == 7)
        let list = try #require(pairs[1].value.items)
        #expect(list[0].line == 4 && list[0].column == 5)
        guard case .scalar("b", .quoted, nil) = list[1].kind else {
            Issue.record("expected a quoted scalar, got \(list[1].kind)")
            return
        }
        #expect(list[1].line == 5 && list[1].column == 5)
        let map = pairs[2].value
        #expect(map.line == 6 && map.column == 6)
        #expect(map["x"]?.scalar == "1")
        #expect(map["x"]?.column == 10)
    }

    @Test func scalarStyles() throws {
        let root = try parse("""
        plain: yes
        single: 'a'
        literal: |
          line one
          line two
        folded: >
          folded
          text
        empty:
        """)
        func style(_ key: String) -> YAMLNode.ScalarStyle? {
            if case .scalar(_, let style, _) = root[key]?.kind { return style }
            return nil
        }
        #expect(style("plain") == .plain)
        #expect(style("single") == .quoted)
        #expect(style("literal") == .literal)
        #expect(root["literal"]?.scalar == "line one\nline two\n")
        #expect(style("folded") == .folded)
        #expect(root["folded"]?.scalar == "folded text\n")
        #expect(root["empty"]?.isNull == true)
        #expect(root["plain"]?.isNull == false)
        #expect(root["empty"]?.described == "nothing")
    }

    @Test func mappingKeepsOrder() throws {
        let keys = (0..<40).map { "k\(39 - $0)" }
        let root = try parse(keys.map { "\($0): v" }.joined(separator: "\n"))
        #expect(root.pairs?.map { $0.key.scalar ?? "" } == keys)
    }

    @Test func aliasesExpandWithinLimits() throws {
        let root = try parse("""
        base: &b {cpus: 2}
        copy: *b
        """)
        #expect(root["copy"]?["cpus"]?.scalar == "2")
        #expect(root["copy"]?.line == 2)
        #expect(root["copy"]?.column == 7)
    }

    @Test func libyamlErrorsAreReadable() {
        #expect(problems("a: 1\n b: 2\n") == ["f.yaml:2:3: mapping values are not allowed in this context"])
        #expect(problems("key: [1, 2\nnext: 3\n") == ["f.yaml:2:5: did not find expected ',' or ']' while parsing a flow sequence"])
        #expect(problems("a:\n  - 1\n b: 2\n") == ["f.yaml:3:2: did not find expected key while parsing a block mapping"])
        #expect(problems("a: \"unterminated\n") == ["f.yaml:2:1: found unexpected end of stream while scanning a quoted scalar"])
    }

    @Test func emptyInputs() {
        for text in ["", "   \n\n", "# just a comment\n", "\n# one\n# two\n"] {
            #expect(problems(text) == ["f.yaml: the file is empty"], "\(text.debugDescription)")
        }
        do {
            _ = try parse("# nothing")
        } catch {
            #expect(error.isEmptyInput)
        }
    }

    @Test func badBytes() {
        #expect(problems([0x61, 0x3A, 0x20, 0xFF, 0x0A]) == ["f.yaml:1:4: file is not valid UTF-8 text (byte 0xFF)"])
        #expect(problems(Array("a: é\nb: ".utf8) + [0xC3, 0x28]) == ["f.yaml:2:4: file is not valid UTF-8 text (byte 0xC3)"])
        // Overlong encoding and a UTF-16 surrogate are not UTF-8.
        #expect(problems([0x61, 0xC0, 0xAF]) == ["f.yaml:1:2: file is not valid UTF-8 text (byte 0xC0)"])
        #expect(problems([0x61, 0xED, 0xA0, 0x80]) == ["f.yaml:1:2: file is not valid UTF-8 text (byte 0xED)"])
        // Truncated at the end.
        #expect(problems([0x61, 0xE2, 0x82]) == ["f.yaml:1:2: file is not valid UTF-8 text (byte 0xE2)"])
        #expect(problems(Array("a: 1\nb: x".utf8) + [0] + Array("y\n".utf8)) == ["f.yaml:2:5: file contains a NUL byte; it is not a text file"])
        #expect(problems([0xFF, 0xFE, 0x61, 0x00]) == ["f.yaml:1:1: file starts with a UTF-16 byte order mark; save it as UTF-8 text"])
        #expect(problems([0xFE, 0xFF, 0x00, 0x61]) == ["f.yaml:1:1: file starts with a UTF-16 byte order mark; save it as UTF-8 text"])
        #expect(problems([0xFF, 0xFE, 0x00, 0x00, 0x61, 0, 0, 0]) == ["f.yaml:1:1: file starts with a UTF-32 byte order mark; save it as UTF-8 text"])
        #expect(problems([0x61, 0x3A, 0x20, 0x01, 0x0A]) == ["f.yaml:1:4: file is not readable YAML text: control characters are not allowed (byte 0x01)"])
    }

    @Test func utf8ByteOrderMarkAndMultibyteColumns() throws {
        let root = try parse("\u{FEFF}name: é\nnext: ok")
        #expect(root["name"]?.scalar == "é")
        #expect(problems("ü: [\n") == ["f.yaml:2:1: did not find expected node content while parsing a flow node"])
        #expect(problems("k: 'é' x\n").first?.hasPrefix("f.yaml:1:8:") == true)
        // A UTF-8 BOM is not a column; CR and CR LF end lines as LF does.
        #expect(problems([0xEF, 0xBB, 0xBF] + Array("a: ".utf8) + [0xFF]) == ["f.yaml:1:4: file is not valid UTF-8 text (byte 0xFF)"])
        #expect(problems([0xEF, 0xBB, 0xBF] + Array("a: 'x' y".utf8)).first?.hasPrefix("f.yaml:1:8:") == true)
        #expect(problems(Array("a: 1\r\nb: 2\rc: ".utf8) + [0xFE]) == ["f.yaml:3:4: file is not valid UTF-8 text (byte 0xFE)"])
        #expect(problems("a: 1\rb: 2\ra: 3\r") == ["f.yaml:3:1: duplicate key \"a\" (first at line 1)"])
    }

    @Test func secondDocument() {
        #expect(problems("a: 1\n---\nb: 2\n") == ["f.yaml:2:1: a manifest holds one YAML document; found a second one"])
        #expect(problems("--- \na: 1\n...\n--- \nb: 2\n") == ["f.yaml:4:1: a manifest holds one YAML document; found a second one"])
    }

    @Test func duplicateKeys() {
        #expect(problems("""
        workflow: demo
        params:
          sample: a
        params:
          sample: b
        """) == ["f.yaml:4:1: duplicate key \"params\" (first at line 2)"])
        // Quoting does not make a different key; every duplicate is reported.
        #expect(problems("a: 1\n'a': 2\nb: 3\nb: 4\n") == [
            "f.yaml:2:1: duplicate key \"a\" (first at line 1)",
            "f.yaml:4:1: duplicate key \"b\" (first at line 3)",
        ])
        // Large mappings switch to a dictionary; still found.
        let many = (0..<30).map { "k\($0): v" }.joined(separator: "\n") + "\nk3: again\n"
        #expect(problems(many) == ["f.yaml:31:1: duplicate key \"k3\" (first at line 4)"])
        // Same key in different mappings is fine.
        #expect(problems("a: {x: 1}\nb: {x: 2}\n") == ["(parsed)"])
    }

    @Test func tagsAreRejected() {
        #expect(problems("a: !!python/object:os.system [ls]\n") == ["f.yaml:1:4: YAML tags are not allowed; found !!python/object:os.system"])
        #expect(problems("a: !!str 1\nb: !custom x\n") == [
            "f.yaml:1:4: YAML tags are not allowed; found !!str",
            "f.yaml:2:4: YAML tags are not allowed; found !custom",
        ])
        #expect(problems("a: !!str 1\n", limits: YAMLLimits(allowTags: true)) == ["(parsed)"])
    }

    @Test func complexKeysAreRejected() {
        #expect(problems("? [a, b]\n: value\n") == ["f.yaml:1:3: a mapping key must be a plain name; got a sequence"])
        #expect(problems("{x: 1}: value\n") == ["f.yaml:1:1: a mapping key must be a plain name; got a mapping"])
    }

    @Test func nulEscapesAreRejected() {
        #expect(problems("a: \"x\\0y\"\n") == ["f.yaml:1:4: text must not contain a NUL character"])
    }

    @Test func unknownAnchor() {
        #expect(problems("a: *nope\n") == ["f.yaml:1:4: unknown anchor \"nope\" in alias *nope"])
    }

    @Test func billionLaughsFailsFast() throws {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1...9 {
            lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]")
        }
        let result = problems(lines.joined(separator: "\n"))
        #expect(result == ["f.yaml:3:45: too many aliases (more than 16)"])
        // Few aliases of a large node hit the node cap instead.
        let big = "big: &big [" + Array(repeating: "x", count: 2000).joined(separator: ",") + "]\n"
            + (1...6).map { "c\($0): *big" }.joined(separator: "\n")
        #expect(problems(big) == ["f.yaml:6:5: too many aliases: they expand to more than 10000 nodes"])
    }

    @Test func deepNestingFailsFast() {
        let deep = "a: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(problems(deep) == ["f.yaml:1:67: nesting is deeper than 64 levels"])
        let blocks = (0..<100).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " x"
        #expect(problems(blocks) == ["f.yaml:65:129: nesting is deeper than 64 levels"])
        #expect(problems("a: [[[1]]]", limits: YAMLLimits(maxDepth: 3)) == ["f.yaml:1:6: nesting is deeper than 3 levels"])
    }
}
