import Foundation
import Testing
@testable import HopperCore

@Suite struct ValuesTests {
    @Test(arguments: [
        ("30s", 30.0), ("2h", 7200), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172_800), ("90", 90),
        ("1.5h", 5400), ("1d 12h", 129_600), ("0", 0), ("0.25", 0.25), (" 5m ", 300), ("1m30s250ms", 90.25),
    ])
    func durations(_ text: String, _ seconds: Double) throws {
        let d = try #require(DurationValue(text))
        #expect(d.seconds == seconds)
        #expect(d.text == text)
    }

    @Test(arguments: ["", "soon", "-5s", "5 s s", "1h30", "s", "1..5s", "5S", "1e3", "1w", "h1", "5sm"])
    func badDurations(_ text: String) {
        #expect(DurationValue(text) == nil, "\(text)")
    }

    @Test(arguments: [
        ("8G", Int64(8) << 30), ("512M", 512 << 20), ("1.5G", 3 << 29), ("100K", 102_400), ("8GiB", 8 << 30),
        ("8GB", 8 << 30), ("1048576", 1_048_576), ("2 t", 2 << 40), ("1kb", 1024), ("0", 0), ("12b", 12),
    ])
    func sizes(_ text: String, _ bytes: Int64) throws {
        #expect(try #require(ByteSize(text)).bytes == bytes)
    }

    @Test(arguments: ["", "lots", "-1G", "1.5", "8X", "G", "99999999999P", "1.2.3M"])
    func badSizes(_ text: String) {
        #expect(ByteSize(text) == nil, "\(text)")
    }

    @Test func sizeDescription() {
        #expect(ByteSize.gib(8).description == "8G")
        #expect(ByteSize(bytes: 1536 << 20).description == "1536M")
        #expect(ByteSize(bytes: 100).description == "100")
        #expect(ByteSize.mib(1).description == "1M")
    }

    @Test func codableForms() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(DurationValue("1h30m")!), as: UTF8.self) == "\"1h30m\"")
        #expect(String(decoding: try encoder.encode(ByteSize.gib(1)), as: UTF8.self) == "1073741824")
        let values: [ParamValue] = [.string("a\"b"), .integer(42), .number(0.5), .boolean(true)]
        let json = try encoder.encode(values)
        #expect(String(decoding: json, as: UTF8.self) == #"["a\"b",42,0.5,true]"#)
        #expect(try JSONDecoder().decode([ParamValue].self, from: json) == values)
        #expect(try JSONDecoder().decode(DurationValue.self, from: Data("\"2h\"".utf8)).seconds == 7200)
    }

    @Test func paramValueText() {
        #expect(ParamValue.string("x y").stringValue == "x y")
        #expect(ParamValue.integer(-3).stringValue == "-3")
        #expect(ParamValue.number(2).stringValue == "2")
        #expect(ParamValue.number(0.1).stringValue == "0.1")
        #expect(ParamValue.boolean(false).stringValue == "false")
        #expect(ParamValue.string("a\nb").jsonLiteral == "\"a\\nb\"")
        #expect(Names.environmentName("sample_id") == "SAMPLE_ID")
        #expect(Names.environmentName("Genome2") == "GENOME2")
    }

    @Test func scalarTyping() {
        #expect(Checker.parseInt("42") == 42)
        #expect(Checker.parseInt("-7") == -7)
        #expect(Checker.parseInt("+3") == 3)
        #expect(Checker.parseInt("1.0") == nil)
        #expect(Checker.parseInt("99999999999999999999") == nil)
        #expect(Checker.parseNumber("1e-3") == 0.001)
        #expect(Checker.parseNumber(".5") == 0.5)
        #expect(Checker.parseNumber("inf") == nil)
        #expect(Checker.parseNumber("0x10") == nil)
        #expect(Checker.parseNumber("1e") == nil)
        #expect(Checker.parseBool("yes") == nil)
        #expect(Checker.parseBool("True") == true)
        #expect(JobManifest.inferred("007") == .string("007"))
        #expect(JobManifest.inferred("0") == .integer(0))
        #expect(JobManifest.inferred("0.5") == .number(0.5))
        #expect(JobManifest.inferred("NO") == .string("NO"))
        #expect(JobManifest.inferred("99999999999999999999") == .string("99999999999999999999"))
        #expect(JobManifest.inferred("false") == .boolean(false))
    }

    @Test func editDistance() {
        #expect(Checker.closest(to: "paramz", in: JobManifest.keys) == "params")
        #expect(Checker.closest(to: "workfow", in: JobManifest.keys) == "workflow")
        #expect(Checker.closest(to: "banana", in: JobManifest.keys) == nil)
        #expect(Checker.editDistance(Array("kitten".utf8), Array("sitting".utf8)) == 3)
    }
}
