// Workspace — `runs/<id>/`, the isolated folder a job's steps run in.
//
//   inputs/<file>   each input, staged as a symlink to its source (or a copy, `stage: copy`);
//                   only when the job has inputs
//   params.json     the job's params
//   config.yaml     the params as a Snakemake config (plus `inputs:` with the staged paths)
//   tmp/            TMPDIR of the steps
//   .hopper/        the supervisors' records: <step>.<attempt>.json and .exit
//
// Params never reach a command line: steps read them from HOPPER_PARAM_* variables, params.json
// or config.yaml. A missing or unreadable input fails the job before any step, with a message
// naming the input. Relative input paths are relative to the spool root.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

public struct StagingError: Error, CustomStringConvertible, Sendable {
    public var input: String?
    public var message: String
    public var description: String { message }
    public init(input: String?, message: String) { self.input = input; self.message = message }
}

public struct PreparedWorkspace: Sendable {
    public var path: String
    /// Input name → staged path inside the workspace (absolute).
    public var inputs: [String: String]
    public var records: String { JobWorkspace(path: path).records }
}

public enum Workspace {
    /// Creates (or refreshes, on a retry) the workspace of a job. Throws StagingError.
    public static func prepare(path: String, jobID: String, manifest: JobManifest, spoolRoot: String) throws -> PreparedWorkspace {
        do {
            if mkdir(path, 0o755) != 0 && errno != EEXIST { try FileOps.makeDirectories(path) }
            let layout = JobWorkspace(path: path)
            if !manifest.inputs.isEmpty { try FileOps.makeDirectory(layout.inputs) }
            try FileOps.makeDirectory(layout.tmp)
            try FileOps.makeDirectory(layout.records)
        } catch {
            throw StagingError(input: nil, message: "cannot create the workspace \(path): \(error)")
        }
        let copied = Set(manifest.copiedInputs ?? [])
        var staged: [String: String] = [:]
        var usedNames: Set<String> = []
        for name in manifest.inputs.keys.sorted() {
            let given = manifest.inputs[name]!
            let source = FileOps.resolve(given, against: spoolRoot)
            var st = stat()
            guard stat(source, &st) == 0 else {
                let why = errno == ENOENT ? "does not exist" : String(cString: strerror(errno))
                throw StagingError(input: name, message: "input \(name): \(source) \(why)")
            }
            // Opened, not access(2)ed: under run_as: owner this runs with the owner's filesystem
            // identity (AsUser), and an open is checked with exactly that.
            let probe = open(source, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
            if probe >= 0 { close(probe) }
            guard probe >= 0 else {
                throw StagingError(input: name, message: "input \(name): \(source) is not readable")
            }
            var base = FileOps.split(source).1
            if base.isEmpty || base == "." || base == ".." || usedNames.contains(base) { base = name + "-" + base }
            usedNames.insert(base)
            let target = path + "/inputs/" + base
            try? FileOps.removeTree(target)
            do {
                if copied.contains(name) {
                    try copyTree(source, target)
                } else if symlink(source, target) != 0 {
                    throw SystemError("symlink", path: target)
                }
            } catch {
                throw StagingError(input: name, message: "input \(name): cannot stage \(source): \(error)")
            }
            staged[name] = target
        }
        do {
            try FileOps.writeNew(path + "/params.json", try JSON.pretty(SortedParams(manifest.params)))
            try FileOps.writeNew(path + "/config.yaml", Array(configYAML(manifest.params, inputs: staged).utf8))
        } catch {
            throw StagingError(input: nil, message: "cannot write the workspace files: \(error)")
        }
        return PreparedWorkspace(path: path, inputs: staged)
    }

    /// The params as YAML for `snakemake --configfile` (strings double-quoted, JSON-style).
    public static func configYAML(_ params: [String: ParamValue], inputs: [String: String]) -> String {
        var out = "# Written by hopper: the job's params (and its staged inputs).\n"
        for name in params.keys.sorted() {
            out += name + ": " + yamlScalar(params[name]!) + "\n"
        }
        if params["inputs"] == nil && !inputs.isEmpty {
            out += "inputs:\n"
            for name in inputs.keys.sorted() { out += "  " + name + ": " + yamlString(inputs[name]!) + "\n" }
        }
        if params.isEmpty && inputs.isEmpty { out += "{}\n" }  // Snakemake wants a mapping, even an empty one
        return out
    }

    static func yamlScalar(_ v: ParamValue) -> String {
        switch v {
        case .string(let s): return yamlString(s)
        default: return v.stringValue
        }
    }

    static func yamlString(_ s: String) -> String {
        String(decoding: OrderedJSON.encodeString(s), as: UTF8.self)
    }

    /// cp -R without following symlinks inside the tree (they are copied as symlinks).
    static func copyTree(_ source: String, _ target: String) throws {
        guard let st = try FileOps.lstat(source) else { throw SystemError("lstat", path: source, errno: ENOENT) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            try FileOps.makeDirectory(target, mode: 0o755)
            for name in try FileOps.listDirectory(source) { try copyTree(source + "/" + name, target + "/" + name) }
        case S_IFLNK:
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(source, &buf, buf.count - 1)
            guard n >= 0 else { throw SystemError("readlink", path: source) }
            if symlink(String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self), target) != 0 {
                throw SystemError("symlink", path: target)
            }
        case S_IFREG:
            try copyRegularFile(source, target, mode: st.st_mode & 0o777)
        default:
            break  // FIFOs, sockets and devices are not copied
        }
    }
}

/// Copies one regular file (1 MiB at a time), keeping its permission bits.
func copyRegularFile(_ source: String, _ target: String, mode: mode_t) throws {
    let input = try FileOps.open(source, O_RDONLY | O_NOFOLLOW)
    defer { close(input) }
    let output = try FileOps.open(target, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
    defer { close(output) }
    while true {
        let chunk = try FileOps.readUpTo(input, limit: 1 << 20, path: source)
        if chunk.isEmpty { break }
        try FileOps.writeAll(output, chunk, path: target)
    }
}

/// Params with keys in a stable order, for params.json.
struct SortedParams: Encodable {
    let params: [String: ParamValue]
    init(_ params: [String: ParamValue]) { self.params = params }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: OrderedJSON.Key.self)
        for name in params.keys.sorted() { try c.encode(params[name]!, forKey: OrderedJSON.Key(stringValue: name)) }
    }
}
