// OutputGlob — one `outputs:` pattern of a step, relative to the job's workspace.
//
// SYNTAX (per `/`-separated component)
//
//   *        any run of characters (none included) within one component
//   ?        exactly one character
//   [abc]    one of a, b, c;  [a-z] a range;  [!x] or [^x] anything but x;
//            `]` first in the set is literal (`[]x]`), `-` first or last is literal
//   **       a whole component: any number of directories, none included
//            (`qc/**/*.html` matches `qc/a.html` and `qc/x/y/a.html`; `dir/**` every file below dir)
//   other    literal; there is no backslash escape: write `[*]`, `[?]`, `[[]` for those characters
//
// Hidden names: `*`, `?`, `[...]` and `**` never match a name that starts with `.` (so
// `**/*.log` stays out of `.snakemake/`); a component that starts with a literal `.` does
// (`.*`, `logs/.trace`). Empty and `.` components are ignored (`./qc//a` is `qc/a`).
//
// Rejected (ResultsError.invalidPattern): an empty pattern, an absolute one, a `..`
// component, NUL, a line break, an unterminated `[`. The manifest validator refuses the first
// ones already; this is the second line of defence, since the pattern decides which files of
// a user-writable tree get published.
//
// `matches(_:)` is the pure form of the match (for tests and callers that hold a list of
// paths); `OutputGlob.expand(_:in:)` walks a real workspace with the same rules.

public struct OutputGlob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written in the manifest.
    public let pattern: String
    let segments: [Segment]

    enum Segment: Sendable, Hashable {
        /// No wildcard: one exact name (looked up directly, never by listing the directory).
        case literal(String)
        /// `*`, `?`, `[...]` inside one component.
        case wildcard(ComponentPattern)
        /// `**`: any number of directories.
        case globstar
    }

    public init(_ pattern: String) throws(ResultsError) {
        self.pattern = pattern
        if pattern.isEmpty { throw .invalidPattern(pattern, "is empty") }
        if pattern.hasPrefix("/") { throw .invalidPattern(pattern, "must be a relative path inside the workspace") }
        if pattern.unicodeScalars.contains(where: { $0 == "\0" || $0 == "\n" || $0 == "\r" }) {
            throw .invalidPattern(pattern, "must not contain a NUL or a line break")
        }
        var segments: [Segment] = []
        for part in pattern.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw .invalidPattern(pattern, "must not contain a \"..\" component") }
            if part == "**" {
                if segments.last != .globstar { segments.append(.globstar) }   // `**/**` is `**`
                continue
            }
            guard let component = ComponentPattern(part) else {
                throw .invalidPattern(pattern, "has an unterminated \"[\" (write \"[[]\" for a literal bracket)")
            }
            if let literal = component.literal {
                segments.append(.literal(literal))
            } else {
                segments.append(.wildcard(component))
            }
        }
        if segments.isEmpty { throw .invalidPattern(pattern, "names the workspace itself; name files in it, e.g. \"**\"") }
        self.segments = segments
    }

    public var description: String { pattern }

    /// A name that wildcards do not match unless the pattern starts with a literal `.`.
    static func isHidden(_ name: String) -> Bool { name.unicodeScalars.first == "." }

    /// Whether a `/`-separated path relative to the workspace matches (no filesystem access).
    public func matches(_ relativePath: String) -> Bool {
        let names = relativePath.split(separator: "/", omittingEmptySubsequences: true)
            .filter { $0 != "." }.map(String.init)
        if names.isEmpty { return false }
        var memo: [Int: Bool] = [:]
        return match(names, 0, 0, &memo)
    }

    private func match(_ names: [String], _ n: Int, _ s: Int, _ memo: inout [Int: Bool]) -> Bool {
        let key = n * (segments.count + 1) + s
        if let known = memo[key] { return known }
        let result: Bool
        if s == segments.count {
            result = n == names.count
        } else if case .globstar = segments[s] {
            if s + 1 == segments.count {
                // A trailing `**`: every remaining name, at least one, none hidden.
                result = n < names.count && names[n...].allSatisfy { !OutputGlob.isHidden($0) }
            } else {
                // No more directories, or one more (non-hidden) swallowed by `**`.
                result = match(names, n, s + 1, &memo)
                    || n < names.count && !OutputGlob.isHidden(names[n]) && match(names, n + 1, s, &memo)
            }
        } else {
            result = n < names.count && segments[s].matches(names[n]) && match(names, n + 1, s + 1, &memo)
        }
        memo[key] = result
        return result
    }
}

extension OutputGlob.Segment {
    /// Whether one name matches this (non-`**`) segment, hidden-name rule included.
    func matches(_ name: String) -> Bool {
        switch self {
        case .literal(let literal): return name == literal
        case .wildcard(let pattern): return pattern.matches(name)
        case .globstar: return !OutputGlob.isHidden(name)
        }
    }
}

/// The pattern of one path component: literal characters, `?`, `*` and `[...]` sets.
struct ComponentPattern: Sendable, Hashable {
    enum Token: Sendable, Hashable {
        case scalar(Unicode.Scalar)
        case one
        case star
        case set(negated: Bool, ranges: [ClosedRange<UInt32>])
    }

    let tokens: [Token]

    /// nil when a `[` is not closed.
    init?(_ text: Substring) {
        let scalars = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case "*":
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case "?":
                tokens.append(.one)
                i += 1
            case "[":
                var j = i + 1
                var negated = false
                if j < scalars.count && (scalars[j] == "!" || scalars[j] == "^") { negated = true; j += 1 }
                var ranges: [ClosedRange<UInt32>] = []
                var first = true
                while j < scalars.count && (first || scalars[j] != "]") {
                    first = false
                    let low = scalars[j]
                    if j + 2 < scalars.count && scalars[j + 1] == "-" && scalars[j + 2] != "]" {
                        let high = scalars[j + 2]
                        if low.value <= high.value { ranges.append(low.value...high.value) }
                        j += 3
                    } else {
                        ranges.append(low.value...low.value)
                        j += 1
                    }
                }
                guard j < scalars.count else { return nil }     // no closing `]`
                tokens.append(.set(negated: negated, ranges: ranges))
                i = j + 1
            default:
                tokens.append(.scalar(c))
                i += 1
            }
        }
        self.tokens = tokens
    }

    /// The exact name when the pattern has no wildcard.
    var literal: String? {
        var out = ""
        for token in tokens {
            guard case .scalar(let c) = token else { return nil }
            out.unicodeScalars.append(c)
        }
        return out
    }

    /// Whether the pattern begins with a literal `.` (and so may match hidden names).
    var startsWithDot: Bool { tokens.first == .scalar(".") }

    func matches(_ name: String) -> Bool {
        if OutputGlob.isHidden(name) && !startsWithDot { return false }
        let s = Array(name.unicodeScalars)
        var t = 0, i = 0
        var starT = -1, starI = 0
        while i < s.count {
            if t < tokens.count {
                switch tokens[t] {
                case .star:
                    starT = t
                    starI = i
                    t += 1
                    continue
                case .one:
                    t += 1
                    i += 1
                    continue
                case .scalar(let c) where c == s[i]:
                    t += 1
                    i += 1
                    continue
                case .set(let negated, let ranges) where ranges.contains(where: { $0.contains(s[i].value) }) != negated:
                    t += 1
                    i += 1
                    continue
                default:
                    break
                }
            }
            guard starT >= 0 else { return false }
            t = starT + 1
            starI += 1
            i = starI
        }
        while t < tokens.count && tokens[t] == .star { t += 1 }
        return t == tokens.count
    }
}
