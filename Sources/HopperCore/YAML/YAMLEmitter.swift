// YAMLEmitter — writes a YAMLNode tree back as block-style YAML that parses to the same tree
// (`hopper submit --param`, `--input` and relative inputs rewrite a manifest this way).
//
// A plain scalar stays plain when it can be written so (numbers, booleans, null and ordinary
// words keep their type); any other scalar, and every quoted, literal or folded one, is written
// double-quoted with JSON escapes (a subset of YAML's). Comments and layout are not kept.

public enum YAMLEmitter {
    public static func emit(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar: return inline(node) + "\n"
        default: return block(node, indent: 0)
        }
    }

    static func block(_ node: YAMLNode, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        switch node.kind {
        case .scalar:
            return pad + inline(node) + "\n"
        case .mapping(let pairs):
            if pairs.isEmpty { return pad + "{}\n" }
            var out = ""
            for pair in pairs {
                let key = scalarText(pair.key)
                if isInline(pair.value) {
                    out += pad + key + ": " + inline(pair.value) + "\n"
                } else {
                    out += pad + key + ":\n" + block(pair.value, indent: indent + 2)
                }
            }
            return out
        case .sequence(let items):
            if items.isEmpty { return pad + "[]\n" }
            var out = ""
            for item in items {
                if isInline(item) {
                    out += pad + "- " + inline(item) + "\n"
                } else {
                    // The item's block, its first indentation replaced by the dash.
                    let inner = block(item, indent: indent + 2)
                    out += pad + "- " + inner.dropFirst(indent + 2)
                }
            }
            return out
        }
    }

    static func isInline(_ node: YAMLNode) -> Bool {
        switch node.kind {
        case .scalar: return true
        case .mapping(let pairs): return pairs.isEmpty
        case .sequence(let items): return items.isEmpty
        }
    }

    static func inline(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar: return scalarText(node)
        case .mapping: return "{}"
        case .sequence: return "[]"
        }
    }

    static func scalarText(_ node: YAMLNode) -> String {
        guard case .scalar(let text, let style, let tag) = node.kind else { return "\"\"" }
        let body = style == .plain && canBePlain(text) ? text : doubleQuoted(text)
        guard let tag else { return body }
        return tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count) + " " + body : tag + " " + body
    }

    /// Text a plain scalar in block context reads back unchanged.
    static func canBePlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return true }
        let scalars = Array(text.unicodeScalars)
        if ",[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) || first == " " || last == " " { return false }
        // `-5`, `:x`, `?y` are plain; `- x`, `: x`, `? y` (and the bare indicator) are not.
        if "-?:".unicodeScalars.contains(first) && (scalars.count == 1 || scalars[1] == " ") { return false }
        if text.contains(": ") || text.contains(" #") || text.hasSuffix(":") { return false }
        for s in text.unicodeScalars where s.value < 0x20 || s.value == 0x7F { return false }
        return true
    }

    /// `"text"` with JSON escapes, which YAML's double-quoted style reads the same.
    public static func doubleQuoted(_ text: String) -> String {
        QuotedString.quote(text, .yaml)
    }
}
