// YAMLLimits — what a YAML file may cost to parse.
//
// SECURITY: manifests come from anyone who can write to an inbox. A "billion laughs"
// document (anchors referring to anchors) or a deeply nested one must fail quickly with a
// clear message instead of exhausting memory or stack. The caller limits the byte size
// (the config's `max_manifest_size`) before handing the bytes to the parser.

public struct YAMLLimits: Sendable, Equatable {
    /// Deepest nesting of sequences and mappings (the top-level mapping is depth 1).
    public var maxDepth: Int
    /// Most alias uses (`*name`) in one file; each use counts.
    public var maxAliases: Int
    /// Most nodes that alias uses may copy in total.
    public var maxAliasNodes: Int
    /// Whether explicit tags (`!!str`, `!!python/object`) are accepted. Hopper's files never need them.
    public var allowTags: Bool

    public init(maxDepth: Int = 64, maxAliases: Int = 16, maxAliasNodes: Int = 10_000, allowTags: Bool = false) {
        self.maxDepth = maxDepth
        self.maxAliases = maxAliases
        self.maxAliasNodes = maxAliasNodes
        self.allowTags = allowTags
    }
}

/// A file that is not acceptable YAML, with every problem found (libyaml stops at its first).
public struct YAMLError: Error, Sendable, Equatable {
    public var diagnostics: [Diagnostic]
    /// True when the file holds no document at all (empty, whitespace or comments only).
    public var isEmptyInput: Bool

    public init(diagnostics: [Diagnostic], isEmptyInput: Bool = false) {
        self.diagnostics = diagnostics
        self.isEmptyInput = isEmptyInput
    }
}
