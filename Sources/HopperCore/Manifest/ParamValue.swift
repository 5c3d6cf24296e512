// ParamValue — the value of one job param: a string, an integer, a number or a boolean.
//
// Params reach steps as environment variables (`stringValue`) and as `params.json`
// (the Encodable form: a JSON string, number or boolean).

public enum ParamValue: Sendable, Equatable, Hashable {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)

    /// The text for `HOPPER_PARAM_<NAME>`: the string itself, `42`, `0.5`, `true`.
    public var stringValue: String {
        switch self {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .number(let d): return ParamValue.format(d)
        case .boolean(let b): return b ? "true" : "false"
        }
    }

    /// The value as a JSON literal: `"hg38"`, `42`, `0.5`, `true`.
    public var jsonLiteral: String {
        switch self {
        case .string(let s): return ParamValue.jsonString(s)
        default: return stringValue
        }
    }

    /// The value as written in a message: strings quoted, others bare (`"hg37"`, `42`).
    var shown: String {
        if case .string(let s) = self { return quoted(s) }
        return stringValue
    }

    /// `2` for 2.0, `0.5`, `1e-07`: Swift's shortest round-trip form without a needless `.0`.
    static func format(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    static func jsonString(_ s: String) -> String {
        QuotedString.quote(s, .json)
    }
}

extension ParamValue: Codable {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .boolean(let b): try c.encode(b)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .boolean(b) }
        else if let i = try? c.decode(Int.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else { self = .string(try c.decode(String.self)) }
    }
}
