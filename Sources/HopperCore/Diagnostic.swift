// Diagnostic — one problem found in a manifest, workflow, control request or config file.
//
// A diagnostic names where the problem is (1-based line and column, and the dotted path of
// the offending key such as `params.genome` or `steps[2].run`) and what is wrong, in words a
// person understands. `line`/`column` are nil where no position applies (a FIFO, an empty file).

public struct Diagnostic: Sendable, Equatable, Hashable, Codable {
    public var line: Int?
    public var column: Int?
    public var path: String
    public var message: String
    /// The file the problem is in when it is not the one being checked: a group's sample
    /// sheet (`SampleSheet.csv:14: row S07: params.genome: …`).
    public var file: String?

    public init(line: Int? = nil, column: Int? = nil, path: String = "", message: String, file: String? = nil) {
        self.line = line
        self.column = column
        self.path = path
        self.message = message
        self.file = file
    }

    /// `S001.yaml:7:10: params.genome: expected one of hg19, hg38; got "hg37"`
    public func formatted(file: String) -> String {
        var s = self.file ?? file
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
        }
        s += ": "
        if !path.isEmpty { s += "\(path): " }
        s += message
        return s
    }
}

/// A file that could not be accepted: every problem found, in document order.
public struct ManifestError: Error, Sendable, Equatable {
    /// The file's name as the user gave it (for messages), e.g. `S001.yaml`.
    public var file: String
    /// A short reason for `rejected/<file>.error.json`'s `reason` (e.g. "invalid manifest").
    public var reason: String
    public var diagnostics: [Diagnostic]

    public init(file: String, reason: String = "invalid manifest", diagnostics: [Diagnostic]) {
        self.file = file
        self.reason = reason
        self.diagnostics = diagnostics
    }

    /// One line per diagnostic, `file:line:col: path: message`.
    public var formatted: String {
        diagnostics.map { $0.formatted(file: file) }.joined(separator: "\n")
    }
}
