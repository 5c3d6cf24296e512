// ChecksumFile — the text of `results/SHA256SUMS`, exactly as `sha256sum` writes it, so that
// `cd results && sha256sum -c SHA256SUMS` checks every published file.
//
// FORMAT: one line per file, sorted by path (byte order), `<64 lowercase hex>  <path relative
// to results/>` (two spaces: text mode, which on Linux reads the same bytes as binary mode).
// Spaces need nothing special. A path holding a backslash, a line feed or a carriage return is
// written with GNU coreutils' escaping (what sha256sum 9 itself writes for such names): the
// line starts with a backslash and the path has `\\`, `\n`, `\r` for those characters. Such
// files are published and listed, not skipped.

enum ChecksumFile {
    /// The file's name at the top of `results/`.
    static let name = "SHA256SUMS"

    /// The whole file for `entries` (path relative to results/, hex digest); one entry per path
    /// (the last one given wins), sorted.
    static func text(_ entries: [(path: String, sha256: String)]) -> String {
        var byPath: [String: String] = [:]
        for entry in entries { byPath[entry.path] = entry.sha256 }
        var out = ""
        for path in byPath.keys.sorted(by: WorkspaceScan.byteOrder) {
            out += line(sha256: byPath[path]!, path: path)
            out += "\n"
        }
        return out
    }

    /// One line, without its line feed.
    static func line(sha256: String, path: String) -> String {
        guard path.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\n" || $0 == "\r" }) else {
            return sha256 + "  " + path
        }
        var escaped = ""
        for c in path.unicodeScalars {
            switch c {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            default: escaped.unicodeScalars.append(c)
            }
        }
        return "\\" + sha256 + "  " + escaped
    }
}
