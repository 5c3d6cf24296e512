// YAMLParser — bytes to a YAMLNode tree, through libyaml's event parser.
//
// Before libyaml sees them, the bytes are checked: valid UTF-8 (the first bad byte is
// reported with its line and column), no NUL byte, no UTF-16/32 byte order mark. libyaml
// then produces events (`yaml_parser_parse`) that are assembled into a tree, and these are
// rejected with a position: a second document, a duplicate mapping key, a mapping key that
// is not a scalar, an explicit tag, an alias to an unknown anchor, text holding a NUL
// (`"\0"` escapes), and anything over the YAMLLimits.
//
// SECURITY: the parser and every event are deleted on every path (`yaml_parser_delete`,
// `yaml_event_delete`). Alias expansion is counted both in uses and in copied nodes.
//
// DIAGNOSTICS: libyaml's problem and context become one sentence, e.g.
// `did not find expected key while parsing a block mapping`, at the problem's mark.

import CYAML
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum YAMLParser {
    public static let emptyMessage = "the file is empty"

    /// Parses one YAML document. Throws every problem found, in document order.
    public static func parse(_ bytes: [UInt8], limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> YAMLNode {
        let result = bytes.withUnsafeBufferPointer { parse(buffer: $0, limits: limits) }
        return try result.get()
    }

    static func parse(buffer: UnsafeBufferPointer<UInt8>, limits: YAMLLimits) -> Result<YAMLNode, YAMLError> {
        if let problem = precheck(buffer) { return .failure(problem) }
        guard let base = buffer.baseAddress else { return .failure(emptyError) }

        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            return .failure(YAMLError(diagnostics: [Diagnostic(message: "out of memory while starting the YAML parser")]))
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_input_string(parser, base, buffer.count)

        var builder = TreeBuilder(limits: limits)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer { event.deallocate() }
        while true {
            guard yaml_parser_parse(parser, event) == 1 else {
                builder.diagnostics.append(libyamlProblem(parser.pointee, buffer))
                return .failure(YAMLError(diagnostics: builder.diagnostics))
            }
            let outcome = builder.handle(event.pointee)
            yaml_event_delete(event)
            switch outcome {
            case .more: continue
            case .fatal: return .failure(YAMLError(diagnostics: builder.diagnostics))
            case .end:
                guard let root = builder.root else { return .failure(emptyError) }
                if !builder.diagnostics.isEmpty { return .failure(YAMLError(diagnostics: builder.diagnostics)) }
                return .success(root)
            }
        }
    }

    static var emptyError: YAMLError {
        YAMLError(diagnostics: [Diagnostic(message: emptyMessage)], isEmptyInput: true)
    }

    // MARK: - Checks before libyaml

    /// Valid UTF-8, no NUL, no UTF-16/32 byte order mark. Returns nil when the bytes are fine.
    static func precheck(_ bytes: UnsafeBufferPointer<UInt8>) -> YAMLError? {
        let n = bytes.count
        if n == 0 { return emptyError }
        func fail(_ line: Int, _ column: Int, _ message: String) -> YAMLError {
            YAMLError(diagnostics: [Diagnostic(line: line, column: column, message: message)])
        }
        if n >= 4 && ((bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0xFE && bytes[3] == 0xFF)
                      || (bytes[0] == 0xFF && bytes[1] == 0xFE && bytes[2] == 0 && bytes[3] == 0)) {
            return fail(1, 1, "file starts with a UTF-32 byte order mark; save it as UTF-8 text")
        }
        if n >= 2 && ((bytes[0] == 0xFE && bytes[1] == 0xFF) || (bytes[0] == 0xFF && bytes[1] == 0xFE)) {
            return fail(1, 1, "file starts with a UTF-16 byte order mark; save it as UTF-8 text")
        }
        // Lines and columns as libyaml counts them: characters, a UTF-8 BOM not counted,
        // LF, CR LF and lone CR all ending a line.
        var i = n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        let start = i
        var line = 1, column = 1
        var onlySpace = true
        while i < n {
            let b = bytes[i]
            if onlySpace && b != 0x20 && b != 0x09 && b != 0x0A && b != 0x0D { onlySpace = false }
            if b == 0xEF && i > start && i + 2 < n && bytes[i + 1] == 0xBB && bytes[i + 2] == 0xBF {
                // libyaml would only say "did not find expected key": name the invisible character.
                return fail(line, column, "file contains a byte order mark (U+FEFF) after its start; remove it (most editors do not show it)")
            }
            if b < 0x80 {
                if b == 0 { return fail(line, column, "file contains a NUL byte; it is not a text file") }
                if b == 0x0A || (b == 0x0D && (i + 1 == n || bytes[i + 1] != 0x0A)) {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                i += 1
                continue
            }
            // Well-formed sequences per Unicode table 3-7 (no overlongs, no surrogates).
            var length = 0
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: length = 0
            }
            var ok = length > 0 && i + length <= n
            if ok {
                let second = bytes[i + 1]
                ok = second >= low && second <= high
                var k = 2
                while ok && k < length {
                    ok = bytes[i + k] & 0xC0 == 0x80
                    k += 1
                }
            }
            if !ok { return fail(line, column, "file is not valid UTF-8 text (byte \(hexByte(b)))") }
            i += length
            column += 1
        }
        // Only spaces, tabs and line breaks: empty, not a tab problem at some line.
        if onlySpace { return emptyError }
        return nil
    }

    static func hexByte(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xF)])
    }

    // MARK: - libyaml errors

    static func libyamlProblem(_ p: yaml_parser_t, _ bytes: UnsafeBufferPointer<UInt8>) -> Diagnostic {
        let problem = p.problem.map { String(cString: $0) } ?? "unknown problem"
        switch p.error {
        case YAML_MEMORY_ERROR:
            return Diagnostic(message: "out of memory while parsing YAML")
        case YAML_READER_ERROR:
            // The reader reports a byte offset, not a mark.
            let (line, column) = position(ofByte: p.problem_offset, in: bytes)
            var message = "file is not readable YAML text: \(problem)"
            if p.problem_value >= 0 && p.problem_value <= 0xFF {
                message += " (byte \(hexByte(UInt8(p.problem_value))))"
            }
            return Diagnostic(line: line, column: column, message: message)
        default:
            var message = problem
            if let context = p.context { message += " " + String(cString: context) }
            let line = p.problem_mark.line + 1, column = p.problem_mark.column + 1
            if problem == "found character that cannot start any token", character(line: line, column: column, in: bytes) == 0x09 {
                message = "a tab character cannot indent YAML; indent with spaces"
            } else if problem == "could not find expected ':'" {
                // libyaml's limit on implicit keys, or a key whose ':' is on another line.
                message += "; a key and its ':' must be on one line, at most 1024 characters apart"
            }
            return Diagnostic(line: line, column: column, message: message)
        }
    }

    /// The first byte of the character at a 1-based line and column (as libyaml counts them), or nil.
    static func character(line: Int, column: Int, in bytes: UnsafeBufferPointer<UInt8>) -> UInt8? {
        var l = 1, c = 1
        var i = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        while i < bytes.count {
            let b = bytes[i]
            if l == line && c == column { return b }
            if l > line { return nil }
            if b == 0x0A || (b == 0x0D && (i + 1 == bytes.count || bytes[i + 1] != 0x0A)) {
                l += 1
                c = 1
            } else if b & 0xC0 != 0x80 {
                c += 1
            }
            i += 1
        }
        return nil
    }

    static func position(ofByte offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int) {
        var line = 1, column = 1
        let start = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        for i in start..<max(start, min(offset, bytes.count)) {
            let b = bytes[i]
            if b == 0x0A || (b == 0x0D && (i + 1 == bytes.count || bytes[i + 1] != 0x0A)) {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

// MARK: - Tree assembly

/// Turns libyaml events into YAMLNodes. Non-fatal problems (duplicate keys, tags) are
/// collected and assembly goes on; limits and a second document stop it.
struct TreeBuilder {
    enum Outcome { case more, fatal, end }

    struct Frame {
        var isMapping: Bool
        var line: Int
        var column: Int
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        /// The pending key is rejected (duplicate, complex): drop its value too.
        var dropValue = false
        /// Key text → line of first use; built once a mapping has many keys.
        var keyLines: [String: Int]?
        /// Nodes in this subtree, itself included.
        var size = 1
    }

    let limits: YAMLLimits
    var diagnostics: [Diagnostic] = []
    var frames: [Frame] = []
    var root: YAMLNode?
    var documents = 0
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var aliasUses = 0
    var aliasNodes = 0

    init(limits: YAMLLimits) {
        self.limits = limits
        frames.reserveCapacity(8)
    }

    mutating func handle(_ e: yaml_event_t) -> Outcome {
        let line = e.start_mark.line + 1
        let column = e.start_mark.column + 1
        switch e.type {
        case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
            return .more
        case YAML_STREAM_END_EVENT:
            return .end
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                diagnostics.append(Diagnostic(line: line, column: column,
                                              message: "a manifest holds one YAML document; found a second one"))
                return .fatal
            }
            return .more
        case YAML_SCALAR_EVENT:
            let s = e.data.scalar
            let text = string(s.value, s.length)
            let style: YAMLNode.ScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE, YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .quoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let tag = s.tag.map { tagText($0) }
            if let tag { rejectTag(tag, line, column) }
            if s.length > 0, memchr(s.value, 0, s.length) != nil {
                diagnostics.append(Diagnostic(line: line, column: column, message: "text must not contain a NUL character"))
            }
            let node = YAMLNode(.scalar(text, style: style, tag: tag), line: line, column: column)
            if let anchor = s.anchor { anchors[cString(anchor)] = (node, 1) }
            return add(node, size: 1)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = e.type == YAML_MAPPING_START_EVENT
            let tag = isMapping ? e.data.mapping_start.tag : e.data.sequence_start.tag
            let anchor = isMapping ? e.data.mapping_start.anchor : e.data.sequence_start.anchor
            if let tag { rejectTag(tagText(tag), line, column) }
            if frames.count >= limits.maxDepth {
                diagnostics.append(Diagnostic(line: line, column: column,
                                              message: "nesting is deeper than \(limits.maxDepth) levels"))
                return .fatal
            }
            frames.append(Frame(isMapping: isMapping, line: line, column: column, anchor: anchor.map { cString($0) }))
            return .more
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = frames.popLast() else { return .more }
            let node = YAMLNode(frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items),
                                line: frame.line, column: frame.column)
            if let anchor = frame.anchor { anchors[anchor] = (node, frame.size) }
            return add(node, size: frame.size)
        case YAML_ALIAS_EVENT:
            let name = cString(e.data.alias.anchor)
            guard let target = anchors[name] else {
                diagnostics.append(Diagnostic(line: line, column: column, message: "unknown anchor \"\(name)\" in alias *\(name)"))
                return .fatal
            }
            aliasUses += 1
            aliasNodes += target.size
            if aliasUses > limits.maxAliases {
                diagnostics.append(Diagnostic(line: line, column: column,
                                              message: "too many aliases (more than \(limits.maxAliases))"))
                return .fatal
            }
            if aliasNodes > limits.maxAliasNodes {
                diagnostics.append(Diagnostic(line: line, column: column,
                                              message: "too many aliases: they expand to more than \(limits.maxAliasNodes) nodes"))
                return .fatal
            }
            var copy = target.node
            copy.line = line
            copy.column = column
            return add(copy, size: target.size)
        default:
            return .more
        }
    }

    mutating func add(_ node: YAMLNode, size: Int) -> Outcome {
        guard !frames.isEmpty else {
            root = node
            return .more
        }
        let top = frames.count - 1
        frames[top].size += size
        if !frames[top].isMapping {
            frames[top].items.append(node)
            return .more
        }
        guard let key = frames[top].pendingKey else {
            // This node is a key.
            frames[top].pendingKey = node
            frames[top].dropValue = false
            guard let text = node.scalar else {
                diagnostics.append(Diagnostic(line: node.line, column: node.column,
                                              message: "a mapping key must be a plain name; got \(node.described)"))
                frames[top].dropValue = true
                return .more
            }
            if let first = firstLine(ofKey: text, in: top) {
                diagnostics.append(Diagnostic(line: node.line, column: node.column,
                                              message: "duplicate key \(quoted(text)) (first at line \(first))"))
                frames[top].dropValue = true
            } else if frames[top].keyLines != nil {
                frames[top].keyLines![text] = node.line
            }
            return .more
        }
        if !frames[top].dropValue {
            frames[top].pairs.append((key: key, value: node))
        }
        frames[top].pendingKey = nil
        return .more
    }

    /// Line of an earlier key with this text in the mapping frame, or nil.
    mutating func firstLine(ofKey text: String, in top: Int) -> Int? {
        if let lines = frames[top].keyLines { return lines[text] }
        let pairs = frames[top].pairs
        if pairs.count < 12 {
            for pair in pairs where pair.key.scalar == text { return pair.key.line }
            return nil
        }
        var lines: [String: Int] = [:]
        for pair in pairs.reversed() { lines[pair.key.scalar ?? ""] = pair.key.line }
        frames[top].keyLines = lines
        return lines[text]
    }

    mutating func rejectTag(_ tag: String, _ line: Int, _ column: Int) {
        guard !limits.allowTags else { return }
        diagnostics.append(Diagnostic(line: line, column: column, message: "YAML tags are not allowed; found \(tag)"))
    }

    func tagText(_ p: UnsafeMutablePointer<yaml_char_t>) -> String {
        let tag = cString(p)
        let core = "tag:yaml.org,2002:"
        return tag.hasPrefix(core) ? "!!" + tag.dropFirst(core.count) : tag
    }

    func string(_ p: UnsafeMutablePointer<yaml_char_t>?, _ length: Int) -> String {
        guard let p, length > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: p, count: length), as: UTF8.self)
    }

    func cString(_ p: UnsafeMutablePointer<yaml_char_t>) -> String {
        string(p, strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self)))
    }
}
