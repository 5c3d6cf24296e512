// DropNames — which names in an inbox folder are manifests being dropped (SPEC §2).
//
// A name is a candidate when it ends in `.yaml` or `.yml` (case-sensitive) and is not one of
// the names the drop protocol reserves for work in progress: names starting with `.` and
// names ending in `.tmp`, `.part`, `.partial` or `~` are ignored, so that writing
// `.S001.yaml.tmp` and renaming it to `S001.yaml` is the safe way to drop. Everything else
// (README.txt, notes.md) is ignored too.
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
}

extension DropNames {
    /// The job id a file name asks for: the name without `.yaml`/`.yml` (the whole name otherwise).
    public static func stem(of name: String) -> String {
        if case .candidate(let stem) = classify(name) { return stem }
        for suffix in manifestSuffixes where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }
}
