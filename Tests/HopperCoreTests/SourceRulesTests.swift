// Rules the code keeps, checked on the sources themselves:
//   - no swallowed errors in the daemon: every `try?` in Sources/HopperDaemon says, on its line
//     or the line above, why failing silently is right (`silent: …`); the others are handled;
//   - one spool API: only SpoolLayout.swift and JobFolder.swift spell a job's paths.
import Foundation
import Testing

@Suite struct SourceRulesTests {
    static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// (path relative to the repository, lines) of every Swift file under `folder`.
    func sources(_ folder: String) throws -> [(String, [Substring])] {
        let root = Self.repo + "/" + folder
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw SourceRuleError("no \(root)") }
        var out: [(String, [Substring])] = []
        while let name = walker.nextObject() as? String {
            guard name.hasSuffix(".swift") || name.hasSuffix(".c") else { continue }
            let text = try String(contentsOfFile: root + "/" + name, encoding: .utf8)
            out.append((folder + "/" + name, text.split(separator: "\n", omittingEmptySubsequences: false)))
        }
        return out
    }

    @Test func everyTryQuestionMarkInTheDaemonSaysWhyItIsSilent() throws {
        var unexplained: [String] = []
        for (path, lines) in try sources("Sources/HopperDaemon") {
            for (i, line) in lines.enumerated() where line.contains("try?") {
                let above = i > 0 ? lines[i - 1] : ""
                if !line.contains("silent") && !above.contains("silent") { unexplained.append("\(path):\(i + 1): \(line.trimmingCharacters(in: .whitespaces))") }
            }
        }
        #expect(unexplained.isEmpty, "handle the failure (log it with context) or say why silence is right:\n\(unexplained.joined(separator: "\n"))")
    }

    @Test func onlyTheSpoolAPISpellsAJobsPaths() throws {
        let api: Set<String> = ["Sources/HopperCore/Spool/SpoolLayout.swift", "Sources/HopperCore/Spool/JobFolder.swift"]
        let spellings = ["\"/logs", "\"/results", "\"/requests", "\"/.hopper", "\"/status.json", "\"/events.jsonl", "\"/manifest.yaml", "\"logs/", "\"/index.html"]
        var found: [String] = []
        for (path, lines) in try sources("Sources") where !api.contains(path) {
            for (i, line) in lines.enumerated() where spellings.contains(where: { line.contains($0) }) {
                found.append("\(path):\(i + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(found.isEmpty, "use JobFolder / JobWorkspace / SpoolLayout:\n\(found.joined(separator: "\n"))")
    }
}

struct SourceRuleError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
