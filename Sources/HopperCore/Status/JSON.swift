// JSON — how spool files are written (ordered keys, pretty for files people read, one line for .jsonl) and read.
import Foundation

public enum JSON {
    /// Indented, keys in the order the type encodes them (see OrderedJSON).
    public static func pretty<T: Encodable>(_ value: T) throws -> [UInt8] {
        try OrderedJSON.encode(value, pretty: true)
    }

    /// One line, keys in encoding order, ending in a newline (for .jsonl files).
    public static func line<T: Encodable>(_ value: T) throws -> [UInt8] {
        try OrderedJSON.encode(value, pretty: false)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
