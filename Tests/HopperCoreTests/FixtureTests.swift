// Golden files: every manifest under Fixtures/manifests is parsed against the workflows in
// Fixtures/workflows, and the outcome (the parsed document as JSON, or the error lines) must
// equal `<file>.expected`. Run with HOPPER_UPDATE_GOLDEN=1 to rewrite the expected files
// (then review the diff). The bad-*.yaml files also seed the manifest fuzzer.

import Foundation
import Testing
@testable import HopperCore

@Suite struct FixtureTests {
    static var fixtures: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static var manifestNames: [String] {
        let dir = fixtures.appendingPathComponent("manifests")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// The golden text for one manifest.
    static func outcome(_ name: String) throws -> String {
        let workflows = fixtures.appendingPathComponent("workflows").path
        let catalog = WorkflowCatalog(directory: workflows)
        let bytes = try [UInt8](Data(contentsOf: fixtures.appendingPathComponent("manifests/" + name)))
        switch ManifestParser.parse(bytes, fileName: name, catalog: catalog) {
        case .failure(let error):
            return error.formatted + "\n"
        case .success(let document):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let json: Data
            switch document {
            case .job(let job): json = try encoder.encode(job)
            case .control(let request): json = try encoder.encode(request)
            case .group(let draft): json = try encoder.encode(["group": draft.foreach.samplesheet ?? "rows"])
            }
            return String(decoding: json, as: UTF8.self).replacingOccurrences(of: workflows, with: "<workflows>") + "\n"
        }
    }

    @Test func thereAreFixtures() {
        #expect(Self.manifestNames.count >= 20)
        #expect(Self.manifestNames.filter { $0.hasPrefix("bad-") }.count >= 15)
    }

    @Test(arguments: manifestNames)
    func golden(_ name: String) throws {
        let actual = try Self.outcome(name)
        let expectedURL = Self.fixtures.appendingPathComponent("manifests/" + name + ".expected")
        if ProcessInfo.processInfo.environment["HOPPER_UPDATE_GOLDEN"] != nil {
            // Write into the source tree, not the copied bundle.
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/manifests/" + name + ".expected")
            try actual.write(to: source, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected, "\(name)")
    }

    @Test func badFixturesFailAndGoodOnesPass() throws {
        let catalog = WorkflowCatalog(directory: Self.fixtures.appendingPathComponent("workflows").path)
        for name in Self.manifestNames {
            let bytes = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("manifests/" + name)))
            let result = ManifestParser.parse(bytes, fileName: name, catalog: catalog)
            if name.hasPrefix("bad-") {
                #expect(throws: ManifestError.self, "\(name) should fail") { try result.get() }
            } else {
                #expect(throws: Never.self, "\(name) should pass") { try result.get() }
            }
        }
    }
}
