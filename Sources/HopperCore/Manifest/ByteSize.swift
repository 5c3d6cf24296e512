// ByteSize — an amount of memory or disk as people write it: `8G`, `512M`, `1.5G`, `100K`,
// `8GiB`, `8GB`, `1048576`.
//
// Units are 1024-based whatever their spelling (`K`, `KB`, `KiB` are all 1024 bytes), case
// does not matter, and a space may separate number and unit. A bare integer is bytes.

public struct ByteSize: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) {
        self.bytes = bytes
    }

    /// Parses `8G`, `1.5GiB`, `4096`; nil when the text is not a non-negative size or overflows.
    public init?(_ text: String) {
        guard let bytes = ByteSize.parse(text) else { return nil }
        self.bytes = bytes
    }

    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }

    public static func kib(_ n: Int64) -> ByteSize { ByteSize(bytes: n << 10) }
    public static func mib(_ n: Int64) -> ByteSize { ByteSize(bytes: n << 20) }
    public static func gib(_ n: Int64) -> ByteSize { ByteSize(bytes: n << 30) }

    /// The shortest exact form: `8G`, `1536M`, `100`.
    public var description: String {
        let units: [(String, Int64)] = [("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        for (suffix, scale) in units where bytes != 0 && bytes % scale == 0 {
            return "\(bytes / scale)\(suffix)"
        }
        return "\(bytes)"
    }

    /// For people: `512 B`, `1.2 KiB`, `3.4 MiB`, `23.5 GiB` (binary multiples, named so).
    public static func human(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while (value * 10).rounded() >= 10240, unit < units.count - 1 { value /= 1024; unit += 1 }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    static func parse(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)[...]
        while let f = bytes.first, f == 0x20 { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 0x20 { bytes = bytes.dropLast() }
        let numberEnd = bytes.firstIndex { !(($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E) } ?? bytes.endIndex
        guard let number = DurationValue.parseDecimal(bytes[bytes.startIndex..<numberEnd]) else { return nil }
        var unit = bytes[numberEnd...]
        while let f = unit.first, f == 0x20 { unit = unit.dropFirst() }
        let shift: Int
        switch String(decoding: unit, as: UTF8.self).lowercased() {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        case "t", "tb", "tib": shift = 40
        case "p", "pb", "pib": shift = 50
        default: return nil
        }
        let value = (number * Double(Int64(1) << shift)).rounded()
        if shift == 0 && value != number { return nil }     // fractional bytes
        guard value < 9.2e18 else { return nil }
        return Int64(value)
    }
}

extension ByteSize: Codable {
    /// Encoded as a number of bytes.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            self.init(bytes: n)
            return
        }
        let text = try c.decode(String.self)
        guard let value = ByteSize(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a size: \(text)")
        }
        self = value
    }
}
