// DurationValue — a length of time as people write it: `30s`, `2h`, `1h30m`, `500ms`, `2d`, `90`.
//
// Units: `ms`, `s`, `m`, `h`, `d`; components may be combined (`1h30m`, `1d 12h`) and may
// have a decimal fraction (`1.5h`). A bare number is seconds. Negative values are not
// durations. The original text is kept for messages and for writing the value back out.

public struct DurationValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The longest duration accepted anywhere: ten years (keeps later arithmetic far from overflow).
    public static let maximumSeconds: Double = 3650 * 86_400

    public var seconds: Double
    /// The text as written (`1h30m`); for values built in code, a generated form (`90s`).
    public var text: String

    public init(seconds: Double, text: String) {
        self.seconds = seconds
        self.text = text
    }

    /// A duration from a number of seconds, written as `90s` / `0.5s`.
    public init(seconds: Double) {
        self.seconds = seconds
        self.text = seconds == seconds.rounded() && abs(seconds) < 1e15 ? "\(Int64(seconds))s" : "\(seconds)s"
    }

    /// Parses `30s`, `1h30m`, `90`; nil when the text is not a non-negative duration.
    public init?(_ text: String) {
        guard let seconds = DurationValue.parseSeconds(text) else { return nil }
        self.seconds = seconds
        self.text = text
    }

    public var description: String { text }

    /// Whole nanoseconds, for `Duration` and timers (values are at most ten years).
    public var duration: Duration {
        .nanoseconds(Int64((min(seconds, DurationValue.maximumSeconds) * 1e9).rounded()))
    }

    static func parseSeconds(_ text: String) -> Double? {
        var bytes = Array(text.utf8)[...]
        while let f = bytes.first, f == 0x20 { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 0x20 { bytes = bytes.dropLast() }
        guard !bytes.isEmpty else { return nil }
        // A bare number: seconds.
        if let n = parseDecimal(bytes) { return n }
        var total = 0.0
        var rest = bytes
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex { !(($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E) } ?? rest.endIndex
            guard numberEnd > rest.startIndex, let n = parseDecimal(rest[rest.startIndex..<numberEnd]) else { return nil }
            rest = rest[numberEnd...]
            let unitEnd = rest.firstIndex { !($0 >= 0x61 && $0 <= 0x7A) } ?? rest.endIndex
            let unit = rest[rest.startIndex..<unitEnd]
            rest = rest[unitEnd...]
            let scale: Double
            switch String(decoding: unit, as: UTF8.self) {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: return nil
            }
            total += n * scale
            while let f = rest.first, f == 0x20 { rest = rest.dropFirst() }
        }
        return total
    }

    /// `12`, `1.5`, `.5` — digits with at most one dot; no sign, no exponent.
    static func parseDecimal(_ bytes: ArraySlice<UInt8>) -> Double? {
        var digits = 0, dots = 0
        for b in bytes {
            if b >= 0x30 && b <= 0x39 { digits += 1 } else if b == 0x2E { dots += 1 } else { return nil }
        }
        guard digits > 0, dots <= 1 else { return nil }
        return Double(String(decoding: bytes, as: UTF8.self))
    }
}

extension DurationValue: Codable {
    /// Encoded as its text (`"1h30m"`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Double.self) {
            self.init(seconds: n)
            return
        }
        let text = try c.decode(String.self)
        guard let value = DurationValue(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a duration: \(text)")
        }
        self = value
    }
}
