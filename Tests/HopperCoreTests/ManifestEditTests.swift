// ManifestEdit and YAMLEmitter (what `hopper submit --param/--input` drops), and the heartbeat's
// staleness rule (what `hopper system`, `wait`, `logs --follow` and `status` go by).
import Testing
@testable import HopperCore

@Suite struct ManifestEditTests {
    func parse(_ text: String) throws -> YAMLNode { try YAMLParser.parse(Array(text.utf8)) }

    /// Kind and text of every node, positions aside: what "parses to the same tree" means.
    func shape(_ n: YAMLNode) -> String {
        switch n.kind {
        case .scalar(let text, let style, let tag):
            let typed = style == .plain ? "plain" : "string"
            return "\(typed)(\(text))" + (tag.map { "!\($0)" } ?? "")
        case .sequence(let items): return "[" + items.map(shape).joined(separator: ",") + "]"
        case .mapping(let pairs): return "{" + pairs.map { shape($0.key) + ":" + shape($0.value) }.joined(separator: ",") + "}"
        }
    }

    @Test func emittedYAMLParsesToTheSameTree() throws {
        let sources = [
            "a: 1\nb: [x, -5, \"- y\", '', {c: d}]\ne: {}\nf: []\n",
            "steps:\n  - name: qc\n    run: |\n      echo \"a: b\" # not a comment\n      exit 0\n    outputs: [\"*.txt\"]\n",
            "text: \"tab\\there\\u0007\"\nkey with space: ok\n\"quoted: key\": x\nnull1: ~\nempty:\nbool: true\nnum: 0x1F\n",
            "nested:\n  - - a\n    - b\n  - []\n  - x: [1, 2]\n    y: {z: '#hash'}\n",
        ]
        for source in sources {
            let tree = try parse(source)
            let text = YAMLEmitter.emit(tree)
            let again = try parse(text)
            #expect(shape(again) == shape(tree), "\(source)\n--- emitted ---\n\(text)")
        }
    }

    @Test func plainScalarsKeepTheirTypeAndOthersAreQuoted() {
        #expect(YAMLEmitter.canBePlain("S001") && YAMLEmitter.canBePlain("-5") && YAMLEmitter.canBePlain("3.5"))
        for text in ["- x", "a: b", "x #y", "#x", "", " lead", "trail ", "[a]", "{", "*ref", "@x", "a:"] where !text.isEmpty {
            #expect(!YAMLEmitter.canBePlain(text), "\(text)")
        }
        #expect(YAMLEmitter.doubleQuoted("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
        // JSON and YAML quote alike, but YAML also escapes what its readers take for breaks or marks.
        let text = "x\u{7F}\u{85}\u{2028}\u{2029}\u{FEFF}y\t"
        #expect(ParamValue.jsonString(text) == "\"" + "x\u{7F}\u{85}\u{2028}\u{2029}\u{FEFF}y" + "\\t\"")
        #expect(YAMLEmitter.doubleQuoted(text) == "\"x\\u007f\\u0085\\u2028\\u2029\\ufeffy\\t\"")
    }

    @Test func paramsAndInputsAreSetAndRelativeInputsRewritten() throws {
        var root = try parse("workflow: hello # hi\nparams: {name: Ada}\ninputs:\n  reads: r1.fq\n  ref: {path: /abs/ref.fa, stage: copy}\n  other: {path: o.txt}\n")
        ManifestEdit.set(&root, section: "params", key: "name", value: ManifestEdit.plain("Bob"))
        ManifestEdit.set(&root, section: "params", key: "threads", value: ManifestEdit.plain("4"))
        let changed = ManifestEdit.mapInputs(&root) { _, path in path.hasPrefix("/") ? nil : "/work/" + path }
        #expect(changed)
        #expect(ManifestEdit.inputPaths(root).map { "\($0.name)=\($0.path)" } == ["reads=/work/r1.fq", "ref=/abs/ref.fa", "other=/work/o.txt"])
        #expect(YAMLEmitter.emit(root) == """
            workflow: hello
            params:
              name: Bob
              threads: 4
            inputs:
              reads: "/work/r1.fq"
              ref:
                path: /abs/ref.fa
                stage: copy
              other:
                path: "/work/o.txt"

            """)
        // A missing or null section is made.
        var bare = try parse("workflow: hello\nparams:\n")
        ManifestEdit.set(&bare, section: "params", key: "name", value: ManifestEdit.plain("Cy"))
        ManifestEdit.set(&bare, section: "inputs", key: "reads", value: ManifestEdit.string("x y.fq"))
        #expect(YAMLEmitter.emit(bare) == "workflow: hello\nparams:\n  name: Cy\ninputs:\n  reads: \"x y.fq\"\n")
        #expect(!ManifestEdit.mapInputs(&bare) { _, _ in nil })
    }

    @Test func aHeartbeatIsStaleAfterThreeIntervals() {
        let beat = SystemStatus(pid: 1, host: "h", startedAt: "2026-11-21T10:00:00.000Z", heartbeatAt: "2026-11-21T10:00:10.000Z",
                                intervalSeconds: 2, state: "running", spool: "/s", stateDirectory: "/s/state",
                                inboxes: [], intake: .init(), jobs: [:])
        let at = Timestamp.parse("2026-11-21T10:00:10.000Z")!
        #expect(beat.staleAfter == 6)
        #expect(beat.isAlive(now: at + 5.9))
        #expect(!beat.isAlive(now: at + 6.1))
        var stopped = beat
        stopped.state = "stopped"
        #expect(!stopped.isAlive(now: at + 1))
    }
}
