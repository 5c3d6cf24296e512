// Job ids, queue names, step names and workflow names: the characters that may reach a path.
//
// SECURITY: every name that becomes part of a path in the spool passes through here. The
// pattern `[A-Za-z0-9][A-Za-z0-9._-]{0,127}` excludes `/`, NUL, newlines, and names that
// start with `.` (so `.` and `..` are impossible).

public enum Names {
    /// `[A-Za-z0-9][A-Za-z0-9._-]{0,maxLength-1}`
    public static func isValid(_ name: String, maxLength: Int = 128) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            if alnum { continue }
            if i > 0 && (b == 0x2E || b == 0x5F || b == 0x2D) { continue }
            return false
        }
        return true
    }

    public static let idRule = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}"

    /// Why a job id is not valid, or nil when it is.
    public static func jobIDProblem(_ id: String) -> String? {
        if isValid(id) { return nil }
        let shown = String(reflecting: id)
        if id.isEmpty { return "the job id is empty" }
        if id.utf8.count > 128 { return "job id \(shown.prefix(60))… is longer than 128 characters" }
        return "job id \(shown) is not valid: it must match \(idRule) (letters, digits, '.', '_', '-'; not starting with '.', '_' or '-')"
    }
}
