// The documentation stays inside the repository: every link in README.md and docs/*.md is
// relative, resolves to a file of the repository (a clone has nothing beside it, so no
// `../shared/…`), and a `#fragment` names a heading of the page it points to.
import Foundation
import HopperCore
import Testing

@Suite struct DocLinkTests {
    static let repo: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.standardizedFileURL
    }()

    /// README.md and every page under docs/.
    static func pages() throws -> [URL] {
        let docs = repo.appendingPathComponent("docs")
        let names = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
        return [repo.appendingPathComponent("README.md")] + names.map { docs.appendingPathComponent($0) }
    }

    /// Lines outside fenced code blocks, numbered from 1.
    static func prose(_ text: String) -> [(Int, String)] {
        var out: [(Int, String)] = []
        var fenced = false
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("```") { fenced.toggle(); continue }
            if fenced { continue }
            out.append((index + 1, String(line)))
        }
        return out
    }

    /// Targets of `[label](target)` links, not counting those inside inline code.
    static func links(in line: String) -> [String] {
        let withoutCode = line.replacing(/`[^`]*`/, with: "")
        return withoutCode.matches(of: /\]\(([^)\s]*)\)/).map { String($0.output.1) }
    }

    /// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces to `-`.
    static func anchor(_ heading: String) -> String {
        let plain = heading.lowercased().replacing(/[`*]/, with: "")
        let kept = plain.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == " " }
        return kept.replacingOccurrences(of: " ", with: "-")
    }

    static func anchors(of page: URL) throws -> Set<String> {
        let text = try String(contentsOf: page, encoding: .utf8)
        var found: Set<String> = []
        for (_, line) in prose(text) {
            if let m = line.firstMatch(of: /^#{1,6} (.*)$/) { found.insert(anchor(String(m.output.1))) }
        }
        return found
    }

    /// Every problem with one page's links, as `file:line: problem`.
    static func problems(in page: URL) throws -> [String] {
        let text = try String(contentsOf: page, encoding: .utf8)
        let name = page.path.replacingOccurrences(of: repo.path + "/", with: "")
        var problems: [String] = []
        for (number, line) in prose(text) {
            for target in links(in: line) {
                let at = "\(name):\(number): \(target)"
                if target.firstMatch(of: /^[A-Za-z][A-Za-z0-9+.-]*:/) != nil {
                    problems.append("\(at): points outside the repository (use a relative link)"); continue
                }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let path = String(parts[0])
                let fragment = parts.count > 1 ? String(parts[1]) : ""
                let file = path.isEmpty ? page
                    : URL(fileURLWithPath: path, relativeTo: page.deletingLastPathComponent()).standardizedFileURL
                guard file.path.hasPrefix(repo.path + "/") else {
                    problems.append("\(at): leaves the repository"); continue
                }
                guard FileManager.default.fileExists(atPath: file.path) else {
                    problems.append("\(at): no such file"); continue
                }
                guard !fragment.isEmpty, file.pathExtension == "md" else { continue }
                let headings = try anchors(of: file)
                if !headings.contains(fragment) { problems.append("\(at): no heading with that anchor") }
            }
        }
        return problems
    }

    @Test func everyLinkResolvesInsideTheRepository() throws {
        let pages = try Self.pages()
        #expect(pages.count > 5, "docs/ should hold the contract's pages")
        var problems: [String] = []
        for page in pages { problems += try Self.problems(in: page) }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// The checker itself: it must catch each kind of broken link.
    @Test func theCheckerCatchesBrokenLinks() throws {
        let dir = Self.repo.appendingPathComponent("docs/.linktest-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("page.md")
        try """
            # A page

            ## Some `code` heading: here
            [fine](#some-code-heading-here) [fine](../../README.md#hopper) `[ignored](nowhere.md)`
            [gone](missing.md) [out](../../../shared/SPEC.md) [web](https://example.org/) [anchor](#nope)
            ```
            [in a fence](nowhere.md)
            ```

            """.write(to: page, atomically: true, encoding: .utf8)
        let problems = try Self.problems(in: page)
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.contains { $0.contains("missing.md: no such file") })
        #expect(problems.contains { $0.contains("SPEC.md: leaves the repository") })
        #expect(problems.contains { $0.contains("https://example.org/: points outside") })
        #expect(problems.contains { $0.contains("#nope: no heading") })
    }

    @Test func theReadmeOpensWithTheTwoCommands() throws {
        let readme = try String(contentsOf: Self.repo.appendingPathComponent("README.md"), encoding: .utf8)
        let opening = readme.split(separator: "\n").prefix(6).joined(separator: "\n")
        #expect(opening.contains("```sh\nscripts/quickstart") && opening.contains("\nscripts/test "), "\(opening)")
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(lines < 350, "README.md has \(lines) lines; the reference belongs in docs/")
    }
}

@Suite struct DocContentTests {
    @Test func theStatusPageNamesEveryJobState() throws {
        let page = try String(contentsOf: DocLinkTests.repo.appendingPathComponent("docs/status.md"), encoding: .utf8)
        for state in JobState.allCases {
            #expect(page.contains("`\(state.rawValue)`") || page.contains(" \(state.rawValue) "), "docs/status.md does not name the state \(state.rawValue)")
        }
    }
}
