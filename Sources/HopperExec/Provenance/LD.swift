// LD — a JSON value in the order it is built, for `ro-crate-metadata.json`: entities are
// objects whose keys keep the order they were added in ("@id", "@type" first), written with
// two-space indentation. Built with small typed statements (no big literals) and written
// atomically by RunCrate.
import HopperCore

public indirect enum LD: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case array([LD])
    case object([(String, LD)])

    public static func == (a: LD, b: LD) -> Bool { a.text == b.text }

    /// `{"@id": id}`: a reference to an entity.
    public static func ref(_ id: String) -> LD { .object([("@id", .string(id))]) }

    /// A list of references.
    public static func refs(_ ids: [String]) -> LD { .array(ids.map { LD.ref($0) }) }

    /// The pretty text, ending with a newline.
    public var text: String {
        var out: [UInt8] = []
        write(into: &out, indent: 0)
        out.append(0x0A)
        return String(decoding: out, as: UTF8.self)
    }

    func write(into out: inout [UInt8], indent: Int) {
        switch self {
        case .string(let s): out += OrderedJSON.encodeString(s)
        case .int(let i): out += Array(String(i).utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .array(let items):
            if items.isEmpty { out += Array("[]".utf8); return }
            out += Array("[\n".utf8)
            for (n, item) in items.enumerated() {
                out += [UInt8](repeating: 0x20, count: indent + 2)
                item.write(into: &out, indent: indent + 2)
                out += Array((n + 1 < items.count ? ",\n" : "\n").utf8)
            }
            out += [UInt8](repeating: 0x20, count: indent)
            out.append(0x5D)
        case .object(let pairs):
            if pairs.isEmpty { out += Array("{}".utf8); return }
            out += Array("{\n".utf8)
            for (n, pair) in pairs.enumerated() {
                out += [UInt8](repeating: 0x20, count: indent + 2)
                out += OrderedJSON.encodeString(pair.0)
                out += Array(": ".utf8)
                pair.1.write(into: &out, indent: indent + 2)
                out += Array((n + 1 < pairs.count ? ",\n" : "\n").utf8)
            }
            out += [UInt8](repeating: 0x20, count: indent)
            out.append(0x7D)
        }
    }
}

/// One entity of the crate's `@graph`, built key by key.
public struct LDEntity: Sendable {
    public private(set) var pairs: [(String, LD)] = []

    public init(_ id: String, _ types: [String]) {
        pairs.append(("@id", .string(id)))
        let typeValue: LD = types.count == 1 ? .string(types[0]) : .array(types.map { LD.string($0) })
        pairs.append(("@type", typeValue))
    }

    public init(_ id: String, _ type: String) { self.init(id, [type]) }

    public mutating func set(_ key: String, _ value: LD) { pairs.append((key, value)) }
    public mutating func set(_ key: String, _ value: String) { pairs.append((key, .string(value))) }
    public mutating func set(_ key: String, ref id: String) { pairs.append((key, LD.ref(id))) }
    public mutating func set(_ key: String, refs ids: [String]) { pairs.append((key, LD.refs(ids))) }

    public var value: LD { .object(pairs) }
}
