// OutputMatches — what a step's `outputs:` globs found in its workspace: the regular files to
// publish, what was skipped and why, and the patterns that found nothing.

/// One file to publish.
public struct OutputMatch: Sendable, Equatable {
    /// Relative to the workspace: where the match is, and so where it goes below `results/`.
    public var path: String
    /// Relative to the workspace: the regular file whose content is published — `path` itself,
    /// or the file inside the workspace that the symlink at `path` resolves to.
    public var source: String
    /// The size when the workspace was scanned.
    public var bytes: Int64

    public init(path: String, source: String, bytes: Int64) {
        self.path = path
        self.source = source
        self.bytes = bytes
    }
}

public struct OutputMatches: Sendable, Equatable {
    /// Sorted by path (byte order), each path once.
    public var files: [OutputMatch]
    /// One line per thing skipped (a symlink out of the workspace, a dangling one, a FIFO,
    /// socket or device, an unreadable directory, ...), naming it.
    public var warnings: [String]
    /// Patterns, in the order given, for which no file is published (they matched nothing,
    /// only directories, or only things that were skipped).
    public var unmatched: [String]

    public init(files: [OutputMatch], warnings: [String], unmatched: [String]) {
        self.files = files
        self.warnings = warnings
        self.unmatched = unmatched
    }
}
