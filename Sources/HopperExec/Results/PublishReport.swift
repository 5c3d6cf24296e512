// PublishReport — what one publish of a step's outputs did.
import HopperCore

public struct PublishReport: Sendable, Equatable {
    /// The published files, sorted by path; each `path` is `results/<path in the workspace>`.
    public var files: [ResultFile]
    /// One line per thing skipped, naming it (see `OutputMatches.warnings`).
    public var warnings: [String]
    /// Patterns for which no file was published.
    public var unmatched: [String]

    public init(files: [ResultFile], warnings: [String], unmatched: [String]) {
        self.files = files
        self.warnings = warnings
        self.unmatched = unmatched
    }
}
