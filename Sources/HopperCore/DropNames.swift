// DropNames — which names in an inbox folder are manifests being dropped (SPEC §2).
//
// A name is a candidate when it ends in `.yaml` or `.yml` (case-sensitive) and is not one of
// the names the drop protocol reserves for work in progress: names starting with `.` and
// names ending in `.tmp`, `.part`, `.partial` or `~` are ignored, so that writing
// `.S001.yaml.tmp` and renaming it to `S001.yaml` is the safe way to drop. Everything else
// (README.txt, notes.md) is ignored too.
//
// Names a person clearly meant as manifests but spelled otherwise — `RUN.YAML`, `run.Yml` (any
// case), `run.yaml.txt` (Windows hiding the extension) — are `misnamed`: intake moves them to
// rejected/ saying which name to use, so that no such file lies in the inbox unanswered.
//
// These are name rules only: whether the entry is a regular file, and whether the stem is a
// valid job id (`Names.isValid`), is decided later by intake — an invalid id is still a
// candidate so that it is rejected with a reason instead of lying in the inbox forever.

public enum DropNames {
    public enum Classification: Sendable, Equatable, Hashable {
        /// Not a manifest, or one still being written: leave it alone.
        case ignored
        /// A manifest name; `stem` is the job id it asks for (`S001-qc.yaml` → `S001-qc`).
        case candidate(stem: String)
        /// Meant as a manifest but misspelled: `rename` is the name it should have.
        case misnamed(rename: String)
    }

    /// Suffixes of manifests, in the order they are tried.
    public static let manifestSuffixes = [".yaml", ".yml"]
    /// Suffixes of files still being written (checked before `manifestSuffixes`).
    public static let temporarySuffixes = [".tmp", ".part", ".partial", "~"]

    /// Compared byte by byte (UTF-8), never by Unicode equivalence: the kernel sees bytes.
    public static func classify(_ name: String) -> Classification {
        let bytes = Array(name.utf8)
        if bytes.isEmpty || bytes[0] == UInt8(ascii: ".") || bytes.contains(UInt8(ascii: "/")) { return .ignored }
        for suffix in temporarySuffixes where hasSuffix(bytes, suffix) { return .ignored }
        for suffix in manifestSuffixes where bytes.count > suffix.utf8.count && hasSuffix(bytes, suffix) {
            return .candidate(stem: String(decoding: bytes.dropLast(suffix.utf8.count), as: UTF8.self))
        }
        // Any case, and a `.txt` added: what the name should be.
        var lower = bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        if lower.count > 4 && hasSuffix(lower, ".txt") { lower.removeLast(4) }
        for suffix in manifestSuffixes where lower.count > suffix.utf8.count && hasSuffix(lower, suffix) {
            let stem = bytes.prefix(lower.count - suffix.utf8.count)
            return .misnamed(rename: String(decoding: stem, as: UTF8.self) + suffix)
        }
        return .ignored
    }

    private static func hasSuffix(_ bytes: [UInt8], _ suffix: String) -> Bool {
        let s = Array(suffix.utf8)
        return bytes.count >= s.count && bytes[(bytes.count - s.count)...].elementsEqual(s)
    }

    /// `classify(name)` is a candidate.
    public static func isCandidate(_ name: String) -> Bool {
        if case .candidate = classify(name) { return true }
        return false
    }

    /// A candidate or a misnamed manifest: a name intake must answer.
    public static func isPlausible(_ name: String) -> Bool {
        classify(name) != .ignored
    }
}

extension DropNames {
    /// The job id a file name asks for: the name without `.yaml`/`.yml` (the whole name otherwise).
    public static func stem(of name: String) -> String {
        if case .candidate(let stem) = classify(name) { return stem }
        for suffix in manifestSuffixes where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }
}
