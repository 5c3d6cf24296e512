// ManifestEdit — changes `hopper submit` makes to a manifest before it drops it: `--param k=v`,
// `--input name=path`, `--workflow W`, and relative input paths made absolute. Works on the
// parsed tree; YAMLEmitter writes the result (the manifest is then checked again as a whole).

public enum ManifestEdit {
    static func scalar(_ text: String, style: YAMLNode.ScalarStyle) -> YAMLNode {
        YAMLNode(.scalar(text, style: style, tag: nil), line: 0, column: 0)
    }

    /// A plain scalar: typed as the workflow declares (`4` is a number for an int param).
    public static func plain(_ text: String) -> YAMLNode { scalar(text, style: .plain) }
    /// A quoted scalar: always a string (paths).
    public static func string(_ text: String) -> YAMLNode { scalar(text, style: .quoted) }

    /// An empty document, for `hopper submit --workflow W` without a file.
    public static var emptyDocument: YAMLNode { YAMLNode(.mapping([]), line: 1, column: 1) }

    /// Sets the top-level `key` (replacing it where it is, else added at the end).
    public static func set(_ root: inout YAMLNode, _ key: String, _ value: YAMLNode) {
        guard var pairs = root.pairs else { return }
        if let i = pairs.firstIndex(where: { $0.key.scalar == key }) {
            pairs[i].value = value
        } else {
            pairs.append((key: plain(key), value: value))
        }
        root.kind = .mapping(pairs)
    }

    /// Sets `section.key` (the `section` mapping made when missing or null).
    public static func set(_ root: inout YAMLNode, section: String, key: String, value: YAMLNode) {
        var inner = root[section].flatMap { $0.pairs == nil ? nil : $0 } ?? YAMLNode(.mapping([]), line: 0, column: 0)
        set(&inner, key, value)
        set(&root, section, inner)
    }

    /// Every input as (name, path), in document order: `name: path` or `name: {path: …}`.
    public static func inputPaths(_ root: YAMLNode) -> [(name: String, path: String)] {
        guard let pairs = root["inputs"]?.pairs else { return [] }
        var out: [(name: String, path: String)] = []
        for (key, value) in pairs {
            guard let name = key.scalar else { continue }
            if let path = value.scalar ?? value["path"]?.scalar { out.append((name: name, path: path)) }
        }
        return out
    }

    /// Replaces input paths: `transform(name, path)` gives the new path, or nil to keep it.
    /// Returns whether anything changed.
    @discardableResult
    public static func mapInputs(_ root: inout YAMLNode, _ transform: (String, String) -> String?) -> Bool {
        guard var inputs = root["inputs"], var pairs = inputs.pairs else { return false }
        var changed = false
        for i in pairs.indices {
            guard let name = pairs[i].key.scalar else { continue }
            if let path = pairs[i].value.scalar {
                if let new = transform(name, path), new != path { pairs[i].value = string(new); changed = true }
            } else if let path = pairs[i].value["path"]?.scalar, let new = transform(name, path), new != path {
                set(&pairs[i].value, "path", string(new))
                changed = true
            }
        }
        guard changed else { return false }
        inputs.kind = .mapping(pairs)
        set(&root, "inputs", inputs)
        return true
    }
}
