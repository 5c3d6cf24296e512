// Checker — reads typed values out of a YAMLNode tree and collects every problem.
//
// Scalars are typed by the schema, not guessed: a string field takes any scalar's text
// (`NO` stays "NO", `007` stays "007"), an integer field takes `42` or `"42"`, a boolean
// field takes only true/false. A plain null, `~` or empty value is never a value.
// Each reader returns nil after recording a diagnostic at the offending node.

struct Checker {
    /// At most this many diagnostics per file; one more line says how many were left out.
    static let maxDiagnostics = 50

    var diagnostics: [Diagnostic] = []

    mutating func error(_ node: YAMLNode, _ path: String, _ message: String) {
        diagnostics.append(Diagnostic(line: node.line, column: node.column, path: path, message: message))
    }

    /// Diagnostics in document order (stable), capped.
    var sortedDiagnostics: [Diagnostic] {
        var list = diagnostics.enumerated().sorted { a, b in
            let la = a.element.line ?? 0, lb = b.element.line ?? 0
            if la != lb { return la < lb }
            let ca = a.element.column ?? 0, cb = b.element.column ?? 0
            if ca != cb { return ca < cb }
            return a.offset < b.offset
        }.map(\.element)
        if list.count > Checker.maxDiagnostics {
            let more = list.count - Checker.maxDiagnostics
            list.removeLast(more)
            list.append(Diagnostic(message: "\(more) more problem\(more == 1 ? "" : "s") not shown"))
        }
        return list
    }

    // MARK: - Paths

    static func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : base + "." + key }
    static func index(_ base: String, _ i: Int) -> String { base + "[" + String(i) + "]" }

    // MARK: - Structure

    mutating func mapping(_ node: YAMLNode, _ path: String) -> [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let pairs) = node.kind { return pairs }
        error(node, path, "expected a mapping; got \(node.described)")
        return nil
    }

    mutating func sequence(_ node: YAMLNode, _ path: String) -> [YAMLNode]? {
        if case .sequence(let items) = node.kind { return items }
        error(node, path, "expected a list; got \(node.described)")
        return nil
    }

    /// `paramz: unknown key "paramz"; did you mean "params"?` at the key, with the key's own path.
    mutating func unknownKey(_ key: YAMLNode, _ path: String, valid: [String]) {
        let name = key.scalar ?? ""
        var message = "unknown key \(quoted(name))"
        // Suggestions only while they can still be shown: a file of 100,000 unknown keys would
        // otherwise cost an edit distance per key and valid name.
        if diagnostics.count < Checker.maxDiagnostics, let guess = Checker.closest(to: name, in: valid) {
            message += "; did you mean \(quoted(guess))?"
        }
        error(key, path.isEmpty ? name : path + "." + name, message)
    }

    mutating func missing(_ key: String, in node: YAMLNode, _ path: String) {
        error(node, path, "missing required key \(quoted(key))")
    }

    // MARK: - Scalars

    /// Any scalar's text. `nonEmpty` also rejects text that is only whitespace.
    mutating func string(_ node: YAMLNode, _ path: String, nonEmpty: Bool = true) -> String? {
        guard case .scalar(let text, _, _) = node.kind, !node.isNull else {
            error(node, path, "expected a string; got \(node.described)")
            return nil
        }
        if nonEmpty && text.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            error(node, path, "must not be empty")
            return nil
        }
        return text
    }

    /// A single-line string: no newline or carriage return (names, paths, addresses), and no
    /// other control character either (an escape sequence in a path would reach terminals
    /// through `hopper status` and the logs).
    mutating func line(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        if text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            error(node, path, "must be a single line")
            return nil
        }
        if let control = text.unicodeScalars.first(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value <= 0x9F) }) {
            let hex = String(control.value, radix: 16, uppercase: true)
            let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            error(node, path, "must not contain control characters; found \(code) in \(quoted(text))")
            return nil
        }
        return text
    }

    mutating func int(_ node: YAMLNode, _ path: String, min: Int? = nil, max: Int? = nil) -> Int? {
        guard let text = node.scalar, !node.isNull, let value = Checker.parseInt(text) else {
            error(node, path, "expected an integer; got \(node.described)")
            return nil
        }
        if !Checker.inRange(Double(value), min.map(Double.init), max.map(Double.init), node, path, &self, shown: String(value)) {
            return nil
        }
        return value
    }

    mutating func number(_ node: YAMLNode, _ path: String, min: Double? = nil, max: Double? = nil) -> Double? {
        guard let text = node.scalar, !node.isNull, let value = Checker.parseNumber(text) else {
            error(node, path, "expected a number; got \(node.described)")
            return nil
        }
        if !Checker.inRange(value, min, max, node, path, &self, shown: ParamValue.format(value)) { return nil }
        return value
    }

    mutating func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        if let text = node.scalar, let value = Checker.parseBool(text) { return value }
        error(node, path, "expected true or false; got \(node.described)")
        return nil
    }

    mutating func duration(_ node: YAMLNode, _ path: String, allowZero: Bool = false) -> DurationValue? {
        guard let text = node.scalar, !node.isNull else {
            error(node, path, "expected a duration such as 30s, 5m, 2h; got \(node.described)")
            return nil
        }
        guard let value = DurationValue(text) else {
            if text.hasPrefix("-") {
                error(node, path, "a duration must not be negative; got \(quoted(text))")
            } else {
                error(node, path, "expected a duration such as 30s, 5m, 2h; got \(quoted(text))")
            }
            return nil
        }
        if value.seconds == 0 && !allowZero {
            error(node, path, "must be longer than zero; got \(quoted(text))")
            return nil
        }
        if value.seconds > DurationValue.maximumSeconds {
            error(node, path, "must be at most 3650d; got \(quoted(text))")
            return nil
        }
        return value
    }

    mutating func size(_ node: YAMLNode, _ path: String, allowZero: Bool = false) -> ByteSize? {
        guard let text = node.scalar, !node.isNull else {
            error(node, path, "expected a size such as 512M, 8G; got \(node.described)")
            return nil
        }
        guard let value = ByteSize(text) else {
            if text.hasPrefix("-") {
                error(node, path, "a size must not be negative; got \(quoted(text))")
            } else {
                error(node, path, "expected a size such as 512M, 8G; got \(quoted(text))")
            }
            return nil
        }
        if value.bytes == 0 && !allowZero {
            error(node, path, "must be larger than zero; got \(quoted(text))")
            return nil
        }
        return value
    }

    /// One of an enum's raw values: `expected one of local, slurm; got "k8s"`.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ path: String, _ type: E.Type) -> E?
    where E.RawValue == String {
        if let text = node.scalar, !node.isNull, let value = E(rawValue: text) { return value }
        let names = E.allCases.map(\.rawValue).joined(separator: ", ")
        error(node, path, "expected one of \(names); got \(node.described)")
        return nil
    }

    /// A list of strings, each passed through `element` (which records its own problems).
    /// With `allowSingle`, a lone scalar counts as a list of one.
    mutating func list<T>(_ node: YAMLNode, _ path: String, nonEmpty: Bool = false, allowSingle: Bool = false,
                          _ element: (inout Checker, YAMLNode, String) -> T?) -> [T]? {
        let items: [YAMLNode]
        let single: Bool
        switch node.kind {
        case .sequence(let list): items = list; single = false
        case .scalar where allowSingle && !node.isNull: items = [node]; single = true
        default:
            error(node, path, "expected a list; got \(node.described)")
            return nil
        }
        if nonEmpty && items.isEmpty {
            error(node, path, "must not be an empty list")
            return nil
        }
        var out: [T] = []
        out.reserveCapacity(items.count)
        var ok = true
        for (i, item) in items.enumerated() {
            if let value = element(&self, item, single ? path : Checker.index(path, i)) { out.append(value) } else { ok = false }
        }
        return ok ? out : nil
    }

    // MARK: - Text to values

    static func inRange(_ value: Double, _ min: Double?, _ max: Double?, _ node: YAMLNode, _ path: String,
                        _ checker: inout Checker, shown: String) -> Bool {
        if let min, let max, value < min || value > max {
            checker.error(node, path, "must be between \(ParamValue.format(min)) and \(ParamValue.format(max)); got \(shown)")
            return false
        }
        if let min, value < min {
            checker.error(node, path, "must be at least \(ParamValue.format(min)); got \(shown)")
            return false
        }
        if let max, value > max {
            checker.error(node, path, "must be at most \(ParamValue.format(max)); got \(shown)")
            return false
        }
        return true
    }

    /// `42`, `-7`, `+3`: decimal digits with an optional sign; nil on anything else or overflow.
    static func parseInt(_ text: String) -> Int? {
        var utf8 = text.utf8[...]
        var negative = false
        if let f = utf8.first, f == 0x2D || f == 0x2B {
            negative = f == 0x2D
            utf8 = utf8.dropFirst()
        }
        guard !utf8.isEmpty, utf8.count <= 19 else { return nil }
        var value = 0
        for b in utf8 {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b - 0x30))
            if o1 || o2 { return nil }
            value = s
        }
        return negative ? -value : value
    }

    /// `1.5`, `-2`, `.5`, `1e-3`: a finite decimal number (no `inf`, `nan`, hex).
    static func parseNumber(_ text: String) -> Double? {
        var state = 0      // 0 sign, 1 int, 2 fraction, 3 exponent sign, 4 exponent
        var digits = 0, expDigits = 0
        for b in text.utf8 {
            switch b {
            case 0x2B, 0x2D:
                if state == 0 { state = 1 } else if state == 3 { state = 4 } else { return nil }
            case 0x30...0x39:
                if state <= 2 { digits += 1; if state == 0 { state = 1 } } else { expDigits += 1; state = 4 }
            case 0x2E:
                if state <= 1 { state = 2 } else { return nil }
            case 0x65, 0x45:
                if state >= 1 && state <= 2 && digits > 0 { state = 3 } else { return nil }
            default:
                return nil
            }
        }
        guard digits > 0, state < 3 || expDigits > 0 else { return nil }
        guard let d = Double(text), d.isFinite else { return nil }
        return d
    }

    /// YAML 1.2 core booleans only: `true`/`True`/`TRUE`/`false`/`False`/`FALSE` (not yes/no/on/off).
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    // MARK: - Did you mean

    /// The valid name closest to `name` by edit distance, if at most 2 edits away.
    static func closest(to name: String, in valid: [String]) -> String? {
        let a = Array(name.utf8)
        guard a.count <= 64 else { return nil }
        var best: (String, Int)?
        for candidate in valid {
            let d = editDistance(a, Array(candidate.utf8))
            if d <= 2 && d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, at most 64 characters: param and input names (they become
/// environment variable names).
func isVariableName(_ name: String) -> Bool {
    let bytes = name.utf8
    guard !bytes.isEmpty, bytes.count <= 64 else { return false }
    for (i, b) in bytes.enumerated() {
        let letter = (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
        if letter || (i > 0 && b >= 0x30 && b <= 0x39) { continue }
        return false
    }
    return true
}

extension Names {
    /// `sample_id` → `SAMPLE_ID`: the part after `HOPPER_PARAM_` / `HOPPER_INPUT_` (letters
    /// upper-cased, anything but letters and digits becomes `_`).
    public static func environmentName(_ name: String) -> String {
        let bytes = name.utf8.map { b -> UInt8 in
            switch b {
            case 0x61...0x7A: return b - 0x20
            case 0x41...0x5A, 0x30...0x39: return b
            default: return 0x5F
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
