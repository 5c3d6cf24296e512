// Rejection — `rejected/<file>.error.json`: why a dropped file was not accepted (SPEC §2).

public struct Rejection: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var line: Int?
        public var column: Int?
        public var path: String?
        public var message: String
        /// Set when the problem is in another file than the one dropped (a group's sample sheet).
        public var file: String?
        public init(_ d: Diagnostic) {
            line = d.line; column = d.column; path = d.path.isEmpty ? nil : d.path; message = d.message; file = d.file
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(line, forKey: .line)
            try c.encode(column, forKey: .column)
            try c.encode(path, forKey: .path)
            try c.encode(message, forKey: .message)
            try c.encodeIfPresent(file, forKey: .file)
        }
    }

    /// The name the file was dropped under, e.g. `S001.yaml`.
    public var file: String
    /// A short reason: "invalid manifest", "symlink", "duplicate job id", …
    public var reason: String
    public var errors: [Entry]
    public var time: String
    /// Where it was dropped, relative to the spool: `inbox/seq1/S001.yaml`.
    public var source: String?
    /// The name it has in `rejected/` (differs from `file` when that name was taken).
    public var rejectedAs: String?

    public init(file: String, reason: String, diagnostics: [Diagnostic], time: String = Timestamp.rfc3339(),
                source: String? = nil, rejectedAs: String? = nil) {
        self.file = file; self.reason = reason; self.errors = diagnostics.map(Entry.init); self.time = time
        self.source = source; self.rejectedAs = rejectedAs
    }

    enum CodingKeys: String, CodingKey { case file, reason, errors, time, source, rejectedAs = "rejected_as" }

    /// `file:line:col: path: message` lines, for people.
    public var formatted: String {
        if errors.isEmpty { return "\(file): \(reason)" }
        return errors.map { Diagnostic(line: $0.line, column: $0.column, path: $0.path ?? "", message: $0.message, file: $0.file).formatted(file: file) }
            .joined(separator: "\n")
    }
}
