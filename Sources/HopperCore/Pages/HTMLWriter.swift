// HTMLWriter — builds a page as bytes, one append at a time. The only way text reaches a page:
// `text` and attribute values are escaped (& < > " '), and anything from a manifest, a file
// name or a log is first made plain (`PlainText.clean`): invalid UTF-8 becomes U+FFFD, ANSI
// escape sequences are dropped, other control characters become U+FFFD. Markup comes only from
// the `StaticString`s of the page code, never from a value.
//
// SECURITY. A value can never become markup: there is no call that appends a runtime String
// unescaped. Links are relative paths built from percent-encoded names (`PlainText.href`).

public struct HTMLWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 16 << 10) { bytes.reserveCapacity(capacity) }

    /// Markup written by the page code itself.
    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Text content: cleaned and escaped.
    public mutating func text(_ s: String) {
        escape(PlainText.clean(s))
    }

    /// A number as text.
    public mutating func text(_ n: Int) { escape(String(n)) }

    /// `<tag>text</tag>`, the tag from the page code.
    public mutating func element(_ open: StaticString, _ s: String, _ close: StaticString) {
        raw(open); text(s); raw(close)
    }

    /// ` name="value"`: the name from the page code, the value cleaned and escaped.
    public mutating func attribute(_ name: StaticString, _ value: String) {
        raw(" "); raw(name); raw("=\""); escape(PlainText.clean(value)); raw("\"")
    }

    /// `<a href="…">text</a>` to a relative link of the spool.
    public mutating func link(_ href: String, _ label: String) {
        raw("<a"); attribute("href", href); raw(">"); text(label); raw("</a>")
    }

    private mutating func escape(_ s: String) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "&"): append("&amp;")
            case UInt8(ascii: "<"): append("&lt;")
            case UInt8(ascii: ">"): append("&gt;")
            case UInt8(ascii: "\""): append("&quot;")
            case UInt8(ascii: "'"): append("&#39;")
            default: bytes.append(b)
            }
        }
    }

    private mutating func append(_ s: StaticString) { raw(s) }
}

/// Making values plain text before they are escaped.
public enum PlainText {
    /// Valid UTF-8 without ANSI escapes or control characters (tab and newline kept).
    public static func clean(_ s: String) -> String {
        clean(bytes: Array(s.utf8))
    }

    /// Bytes from a log: invalid UTF-8 replaced, ANSI escapes dropped, controls replaced.
    public static func clean(bytes: [UInt8]) -> String {
        let decoded = String(decoding: bytes, as: UTF8.self)
        var out = String.UnicodeScalarView()
        var it = decoded.unicodeScalars.makeIterator()
        while let u = it.next() {
            if u.value == 0x1B { skipEscape(&it); continue }
            if u.value == 0x9B { skipCSI(&it); continue }   // the 8-bit CSI
            if u.value == 0x09 || u.value == 0x0A { out.append(u); continue }
            if u.value == 0x0D { continue }   // CRLF logs and progress bars: the line feed stays
            if u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0) {
                out.append("\u{FFFD}")
                continue
            }
            out.append(u)
        }
        return String(out)
    }

    /// After ESC: a CSI (`[` … final byte 0x40–0x7E), an OSC (`]` … BEL or ESC \), or one more character.
    private static func skipEscape(_ it: inout String.UnicodeScalarView.Iterator) {
        guard let next = it.next() else { return }
        switch next {
        case "[": skipCSI(&it)
        case "]", "P", "_", "^":
            var previousWasEscape = false
            while let u = it.next() {
                if u.value == 0x07 { return }
                if previousWasEscape && u == "\\" { return }
                previousWasEscape = u.value == 0x1B
            }
        default: return
        }
    }

    private static func skipCSI(_ it: inout String.UnicodeScalarView.Iterator) {
        while let u = it.next() {
            if u.value >= 0x40 && u.value <= 0x7E { return }
            if u.value < 0x20 || u.value > 0x7E { return }   // malformed: stop at a stray byte
        }
    }

    /// A relative link made of path segments, each percent-encoded (so `<`, `&`, `"`, `#`, `?`,
    /// `%` and spaces in a file name stay part of the name and never end the attribute).
    public static func href(_ segments: [String]) -> String {
        var out = ""
        for (i, segment) in segments.enumerated() {
            if i > 0 { out += "/" }
            out += percentEncode(segment)
        }
        return out
    }

    /// Percent-encodes everything but unreserved characters; `/` inside a segment is encoded too.
    public static func percentEncode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        let hex: [Character] = Array("0123456789ABCDEF")
        for b in s.utf8 {
            let isUnreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
            if isUnreserved {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out.append("%")
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0F)])
            }
        }
        return out
    }
}
