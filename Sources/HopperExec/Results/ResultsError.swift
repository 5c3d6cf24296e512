// ResultsError — why a step's outputs could not be published: a code, a message that says
// what to change, the path involved and the failed system call behind it (after NIOFS's
// FileSystemError). The executor fails the job with `message`.
import HopperCore

public struct ResultsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// An `outputs:` glob that is absolute, has a `..` component, a NUL or a line break,
        /// is empty, or has an unterminated `[...]`.
        case invalidPattern = "invalid_pattern"
        /// The files to publish add up to more than the configured cap.
        case tooLarge = "too_large"
        /// Something in `results/` is in the way (a directory where a file goes, a symlink).
        case conflict
        /// A system call failed (`cause` says which).
        case system
    }

    public var code: Code
    /// One line for a person: what is wrong and how to fix it.
    public var message: String
    /// The pattern or path concerned, when there is one.
    public var path: String?
    /// The failed system call, when there is one.
    public var cause: SystemError?

    public init(_ code: Code, _ message: String, path: String? = nil, cause: SystemError? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.cause = cause
    }

    public var description: String { message }

    static func invalidPattern(_ pattern: String, _ why: String) -> ResultsError {
        ResultsError(.invalidPattern, "output \(quote(pattern)) \(why)", path: pattern)
    }

    static func tooLarge(cap: Int64, bytes: Int64, growing: Bool = false) -> ResultsError {
        let what = growing ? "the outputs grew while being published to at least" : "the outputs add up to"
        return ResultsError(.tooLarge, "\(what) \(ByteSize(bytes: bytes)) (\(bytes) bytes), over the results size cap of "
            + "\(ByteSize(bytes: cap)) (\(cap) bytes); raise the cap or publish fewer files")
    }

    static func system(_ e: SystemError, _ what: String) -> ResultsError {
        ResultsError(.system, "\(what): \(e)", path: e.path, cause: e)
    }

    /// A pattern or path in double quotes, with line breaks and NULs made visible.
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
