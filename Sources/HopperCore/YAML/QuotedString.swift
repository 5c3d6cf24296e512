// QuotedString — a string in double quotes with backslash escapes, as both JSON and YAML's
// double-quoted style read it: `"`, `\`, newline, tab and carriage return by name, other
// control characters as \u00XX. YAML adds the characters its readers treat as line breaks or
// markers (NEL, LS, PS, BOM) and DEL; JSON has no need to.
enum QuotedString {
    enum Dialect {
        case json, yaml

        func mustEscape(_ value: UInt32) -> Bool {
            if value < 0x20 { return true }
            guard self == .yaml else { return false }
            return value == 0x7F || value == 0x85 || value == 0x2028 || value == 0x2029 || value == 0xFEFF
        }
    }

    static func quote(_ text: String, _ dialect: Dialect) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if dialect.mustEscape(s.value) {
                    let hex = String(s.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }
}
