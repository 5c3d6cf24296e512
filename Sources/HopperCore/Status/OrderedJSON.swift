// OrderedJSON — an Encoder that keeps keys in the order a type encodes them.
//
// status.json is read by people first: `id` and `state` come first, as in SPEC §5, not in
// alphabetical order (Foundation's JSONEncoder either sorts keys or scrambles them on Linux).
// Output: two-space indentation, `"key": value`, empty arrays as `[]`; or one compact line.

public enum OrderedJSON {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool) throws -> [UInt8] {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(root, into: &out, pretty: pretty, indent: 0)
        out.append(0x0A)
        return out
    }

    // MARK: - Tree

    final class Node {
        enum Value {
            case null, bool(Bool), int(Int64), uint(UInt64), double(Double), string(String)
            case array([Node]), object([(String, Node)])
        }
        var value: Value = .null
        func appendToObject(_ key: String) -> Node {
            let child = Node()
            if case .object(var pairs) = value {
                value = .null   // so `pairs` is the only reference: appended in place, not copied
                if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = child } else { pairs.append((key, child)) }
                value = .object(pairs)
            } else {
                value = .object([(key, child)])
            }
            return child
        }
        func appendToArray() -> Node {
            let child = Node()
            // `value = .null` first: `items` is then the only reference, appended in place (a
            // group's 10,000 children were otherwise copied at each append).
            if case .array(var items) = value { value = .null; items.append(child); value = .array(items) } else { value = .array([child]) }
            return child
        }
    }

    /// `s` as a JSON string literal (also a valid YAML double-quoted scalar).
    public static func encodeString(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        writeString(s, into: &out)
        return out
    }

    /// A coding key made of any string, for encoding dictionaries in a chosen order.
    public struct Key: CodingKey {
        public var stringValue: String
        public var intValue: Int?
        public init(stringValue: String) { self.stringValue = stringValue }
        public init(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
    }

    struct NodeEncoder: Encoder {
        let node: Node
        var codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<K: CodingKey>(keyedBy type: K.Type) -> KeyedEncodingContainer<K> {
            if case .object = node.value {} else { node.value = .object([]) }
            return KeyedEncodingContainer(Keyed<K>(node: node, codingPath: codingPath))
        }
        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = node.value {} else { node.value = .array([]) }
            return Unkeyed(node: node, codingPath: codingPath)
        }
        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    static func assign<T: Encodable>(_ value: T, to node: Node, path: [any CodingKey]) throws {
        switch value {
        case let v as String: node.value = .string(v)
        case let v as Bool: node.value = .bool(v)
        case let v as Int: node.value = .int(Int64(v))
        case let v as Int64: node.value = .int(v)
        case let v as Int32: node.value = .int(Int64(v))
        case let v as UInt64: node.value = .uint(v)
        case let v as UInt32: node.value = .uint(UInt64(v))
        case let v as Double: node.value = .double(v)
        case let v as Float: node.value = .double(Double(v))
        default: try value.encode(to: NodeEncoder(node: node, codingPath: path))
        }
    }

    struct Keyed<K: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey]
        mutating func encodeNil(forKey key: K) throws { _ = node.appendToObject(key.stringValue) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: K) throws {
            try OrderedJSON.assign(value, to: node.appendToObject(key.stringValue), path: codingPath + [key])
        }
        mutating func nestedContainer<NK: CodingKey>(keyedBy keyType: NK.Type, forKey key: K) -> KeyedEncodingContainer<NK> {
            NodeEncoder(node: node.appendToObject(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: K) -> any UnkeyedEncodingContainer {
            NodeEncoder(node: node.appendToObject(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appendToObject("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: K) -> any Encoder {
            NodeEncoder(node: node.appendToObject(key.stringValue), codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey]
        var count: Int { if case .array(let a) = node.value { return a.count }; return 0 }
        mutating func encodeNil() throws { _ = node.appendToArray() }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let path = codingPath + [Key(intValue: count)]
            try OrderedJSON.assign(value, to: node.appendToArray(), path: path)
        }
        mutating func nestedContainer<NK: CodingKey>(keyedBy keyType: NK.Type) -> KeyedEncodingContainer<NK> {
            NodeEncoder(node: node.appendToArray(), codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            NodeEncoder(node: node.appendToArray(), codingPath: codingPath).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appendToArray(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey]
        mutating func encodeNil() throws { node.value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws { try OrderedJSON.assign(value, to: node, path: codingPath) }
    }

    // MARK: - Writing

    static func write(_ node: Node, into out: inout [UInt8], pretty: Bool, indent: Int) {
        switch node.value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .uint(let u): out.append(contentsOf: String(u).utf8)
        case .double(let d):
            if d.isFinite && d == d.rounded() && abs(d) < 1e15 {
                out.append(contentsOf: String(Int64(d)).utf8)
            } else if d.isFinite {
                out.append(contentsOf: String(d).utf8)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                if pretty { newline(&out, indent + 1) }
                write(item, into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(0x5D)
        case .object(let pairs):
            if pairs.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(0x7B)
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out.append(0x2C) }
                if pretty { newline(&out, indent + 1) }
                writeString(key, into: &out)
                out.append(0x3A)
                if pretty { out.append(0x20) }
                write(value, into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(0x7D)
        }
    }

    static func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * 2))
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x00..<0x20, 0x7F:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
