// WorkflowCatalog — the workflows in one directory, loaded on first use and cached.
//
// `Workflows/<name>.yaml` is read when a manifest first names it; later lookups cost one
// stat(2) and reuse the parsed Workflow (or its diagnostics) until the file's mtime, size
// or inode changes. Safe to share between threads.

import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum WorkflowLookup: Sendable, Equatable {
    case found(Workflow)
    /// No such file (or the name is not a valid workflow name).
    case notFound
    /// The file exists but is broken; the error names the workflow file.
    case invalid(ManifestError)
}

public final class WorkflowCatalog: Sendable {
    /// Largest workflow file read.
    public static let maxFileSize = 1 << 20

    public let directory: String
    let limits: YAMLLimits
    private let cache = Mutex<[String: Entry]>([:])

    struct Entry: Sendable {
        var stamp: FileStamp
        var lookup: WorkflowLookup
    }

    public init(directory: String, limits: YAMLLimits = YAMLLimits()) {
        self.directory = directory
        self.limits = limits
    }

    /// `Workflows/demo.yaml`: the directory's last component and the file, for messages.
    public func displayPath(of name: String) -> String {
        let trimmed = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        let last = trimmed.split(separator: "/").last.map(String.init) ?? trimmed
        return last + "/" + name + ".yaml"
    }

    public func path(of name: String) -> String {
        directory.hasSuffix("/") ? directory + name + ".yaml" : directory + "/" + name + ".yaml"
    }

    /// The workflow called `name`, read from disk only when new or changed.
    public func lookup(_ name: String) -> WorkflowLookup {
        guard Names.isValid(name) else { return .notFound }
        let path = path(of: name)
        guard let stamp = FileBytes.stamp(path) else {
            _ = cache.withLock { $0.removeValue(forKey: name) }
            return .notFound
        }
        if let entry = cache.withLock({ $0[name] }), entry.stamp == stamp { return entry.lookup }
        let lookup = load(name, path: path)
        cache.withLock { $0[name] = Entry(stamp: stamp, lookup: lookup) }
        return lookup
    }

    /// The workflow, or nil when it is missing or invalid.
    public func workflow(named name: String) -> Workflow? {
        if case .found(let workflow) = lookup(name) { return workflow }
        return nil
    }

    /// Valid workflow names in the directory (files `<name>.yaml`), sorted.
    public func names() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard file.hasSuffix(".yaml") else { continue }
            let name = String(file.dropLast(5))
            if Names.isValid(name) { names.append(name) }
        }
        return names.sorted()
    }

    func load(_ name: String, path: String) -> WorkflowLookup {
        let display = displayPath(of: name)
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path, maxBytes: WorkflowCatalog.maxFileSize)
        } catch {
            return .invalid(ManifestError(file: display, reason: "invalid workflow",
                                          diagnostics: [Diagnostic(message: error.message)]))
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        switch Workflow.parse(bytes, name: name, fileName: display, directory: base, limits: limits) {
        case .success(let workflow): return .found(workflow)
        case .failure(let error): return .invalid(error)
        }
    }
}
