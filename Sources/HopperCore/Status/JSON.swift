// JSON — the encoders the spool files use: pretty, sorted keys for files people read, compact for lines.
import Foundation

public enum JSON {
    public static func pretty<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = Array(try e.encode(value))
        data.append(0x0A)
        return data
    }

    public static func line<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        var data = Array(try e.encode(value))
        data.append(0x0A)
        return data
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
