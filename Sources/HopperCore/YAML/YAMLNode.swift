// YAMLNode — one node of a parsed YAML document, with the position where it starts.
//
// The tree keeps what validation needs and nothing else: scalars stay text (typing is the
// schema's job, so `NO` given to a string field stays "NO"), mappings keep their keys in
// document order, and every node remembers its 1-based line and column so that a problem
// can be reported as `file:line:col`.

public struct YAMLNode: Sendable {
    /// How a scalar was written. Only a plain scalar can be `null`, a number or a boolean.
    public enum ScalarStyle: String, Sendable, Equatable, Hashable, Codable {
        case plain, quoted, literal, folded
    }

    public enum Kind: Sendable {
        /// `tag` is the explicit tag (`!!str`), nil when none was written.
        case scalar(String, style: ScalarStyle, tag: String?)
        case sequence([YAMLNode])
        /// Pairs in document order. Keys are always scalars (the parser rejects other keys).
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    public var kind: Kind
    /// 1-based line of the node's first character.
    public var line: Int
    /// 1-based column (in characters) of the node's first character.
    public var column: Int

    public init(_ kind: Kind, line: Int, column: Int) {
        self.kind = kind
        self.line = line
        self.column = column
    }
}

extension YAMLNode {
    /// The text of a scalar node; nil for a sequence or mapping.
    public var scalar: String? {
        if case .scalar(let text, _, _) = kind { return text }
        return nil
    }

    /// The pairs of a mapping node; nil for a scalar or sequence.
    public var pairs: [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    /// The items of a sequence node; nil for a scalar or mapping.
    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// True for a plain `null`, `Null`, `NULL`, `~` or empty scalar (YAML 1.2 core schema).
    public var isNull: Bool {
        guard case .scalar(let text, .plain, nil) = kind else { return false }
        switch text {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// The value for `key` in a mapping node (the first such key), or nil.
    public subscript(key: String) -> YAMLNode? {
        guard let pairs else { return nil }
        for pair in pairs where pair.key.scalar == key { return pair.value }
        return nil
    }

    /// What a message says was found: `a mapping`, `a sequence`, `null`, `nothing` or the quoted text.
    public var described: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .scalar(let text, let style, _):
            if style == .plain && text.isEmpty { return "nothing" }
            if isNull { return "null" }
            return quoted(text)
        }
    }
}

extension YAMLNode: Equatable {
    public static func == (a: YAMLNode, b: YAMLNode) -> Bool {
        guard a.line == b.line, a.column == b.column else { return false }
        switch (a.kind, b.kind) {
        case let (.scalar(t1, s1, g1), .scalar(t2, s2, g2)):
            return t1 == t2 && s1 == s2 && g1 == g2
        case let (.sequence(i1), .sequence(i2)):
            return i1 == i2
        case let (.mapping(p1), .mapping(p2)):
            guard p1.count == p2.count else { return false }
            for (x, y) in zip(p1, p2) where x.key != y.key || x.value != y.value { return false }
            return true
        default:
            return false
        }
    }
}

/// `"text"` for messages: escaped like a Swift/JSON string and cut at 60 characters.
func quoted(_ text: String) -> String {
    var out = "\""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == 60 { out += "…"; break }
        count += 1
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u{" + hex + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
