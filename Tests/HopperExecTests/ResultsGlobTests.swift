// Glob semantics of `outputs:` patterns, without a filesystem: OutputGlob.matches(_:) and the
// patterns OutputGlob refuses.
@testable import HopperExec
import Testing

struct GlobCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var path: String
    var matches: Bool
    init(_ pattern: String, _ path: String, _ matches: Bool) {
        self.pattern = pattern
        self.path = path
        self.matches = matches
    }
    var testDescription: String { "\(pattern) ~ \(path.debugDescription) → \(matches)" }
}

private let globCases: [GlobCase] = [
    // * and ? stay within one component; hidden names need a literal dot
    GlobCase("*.txt", "a.txt", true),
    GlobCase("*.txt", ".txt", false),
    GlobCase("*.txt", "dir/a.txt", false),
    GlobCase("*.txt", ".a.txt", false),
    GlobCase(".*", ".a.txt", true),
    GlobCase("*", "a", true),
    GlobCase("*", "", false),
    GlobCase("*.TXT", "a.txt", false),
    GlobCase("a*b*c", "aXbYc", true),
    GlobCase("a*b*c", "abc", true),
    GlobCase("a*b*c", "aXbY", false),
    GlobCase("a*c", "abcbc", true),
    GlobCase("?.txt", "a.txt", true),
    GlobCase("?.txt", "ab.txt", false),
    GlobCase("?.txt", ".txt", false),
    GlobCase("é?", "éa", true),
    // sets
    GlobCase("[abc].txt", "b.txt", true),
    GlobCase("[abc].txt", "d.txt", false),
    GlobCase("[a-c]x", "bx", true),
    GlobCase("[a-c]x", "dx", false),
    GlobCase("[!x]y", "ay", true),
    GlobCase("[!x]y", "xy", false),
    GlobCase("[^x]y", "xy", false),
    GlobCase("[]]", "]", true),
    GlobCase("[a-]", "-", true),
    GlobCase("[*]", "*", true),
    GlobCase("[*]", "a", false),
    GlobCase("[[]x", "[x", true),
    // **: any number of directories, none included
    GlobCase("qc/**/*.html", "qc/a.html", true),
    GlobCase("qc/**/*.html", "qc/x/a.html", true),
    GlobCase("qc/**/*.html", "qc/x/y/a.html", true),
    GlobCase("qc/**/*.html", "qc/.x/a.html", false),
    GlobCase("qc/**/*.html", "a.html", false),
    GlobCase("qc/**/*.html", "qc/x/y/a.txt", false),
    GlobCase("qc/**", "qc/a", true),
    GlobCase("qc/**", "qc/x/y/z", true),
    GlobCase("qc/**", "qc", false),
    GlobCase("qc/**", "qc/.hidden", false),
    GlobCase("**/*.vcf", "a.vcf", true),
    GlobCase("**/*.vcf", "x/y/a.vcf", true),
    GlobCase("**", "anything/at/all", true),
    GlobCase("**/.hidden", "x/.hidden", true),
    GlobCase("a/**/b/**/c", "a/b/c", true),
    GlobCase("a/**/b/**/c", "a/x/b/y/z/c", true),
    GlobCase("a/**/b/**/c", "a/x/y/z/c", false),
    GlobCase("a/**/**/c", "a/c", true),
    GlobCase("a/x**/c", "a/x/c", true),
    GlobCase("a/x**/c", "a/x/y/c", false),
    // literal paths
    GlobCase("calls/out.vcf.gz", "calls/out.vcf.gz", true),
    GlobCase("calls/out.vcf.gz", "calls/out.vcf", false),
    GlobCase("calls/.out", "calls/.out", true),
    GlobCase("./qc//a", "qc/a", true),
    GlobCase("qc/", "qc", true),
]

@Test(arguments: globCases)
func globSemantics(_ c: GlobCase) throws {
    let glob = try OutputGlob(c.pattern)
    #expect(glob.matches(c.path) == c.matches)
}

@Test(arguments: [
    "/etc/passwd", "../x", "a/../b", "a/..", "..", "a\u{0}b", "a\nb", "a\rb", "", ".", "./", "//", "[abc", "x[!]",
])
func invalidPatternsAreRejected(_ pattern: String) {
    do {
        _ = try OutputGlob(pattern)
        Issue.record("accepted \(pattern.debugDescription)")
    } catch {
        #expect(error.code == .invalidPattern)
        #expect(error.message.hasPrefix("output \""))
    }
}

@Test func rejectionsSayWhy() {
    #expect(throws: ResultsError.self) { try OutputGlob("/abs") }
    do { _ = try OutputGlob("/abs") } catch { #expect(error.message == "output \"/abs\" must be a relative path inside the workspace") }
    do { _ = try OutputGlob("a/../b") } catch { #expect(error.message == "output \"a/../b\" must not contain a \"..\" component") }
    do { _ = try OutputGlob("a\nb") } catch { #expect(error.message == "output \"a\\nb\" must not contain a NUL or a line break") }
}

@Test func literalSegmentsAreLookedUpDirectly() throws {
    let glob = try OutputGlob("calls/*.vcf/**/x")
    #expect(glob.segments.count == 4)
    #expect(glob.segments[0] == .literal("calls"))
    #expect(glob.segments[2] == .globstar)
    #expect(try OutputGlob("a/**/**/b").segments.count == 3)
}
