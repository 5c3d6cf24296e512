// ProvenancePublisher — what stays in a job's outbox folder so that a reader needs nothing
// else (docs/provenance.md): at the job's start `plan.json` (the resolved plan), `params.json`
// (the params, defaults applied) and `workflow/` (a copy of the named workflow's file and the
// Snakefiles its steps use); at its end `ro-crate-metadata.json` (RunCrate).
//
// WHAT IT DOES
//
//   keepPlan    writes plan.json and params.json atomically and copies the workflow's files
//               into workflow/ (each copy: temporary file, fsync, rename). A Snakefile under
//               the workflow directory keeps its relative path there (workflow/readmap/Snakefile);
//               one elsewhere is copied as workflow/<its file name>. Files a Snakefile includes
//               are not followed.
//   writeCrate  lists the folder's files (RunCrate.File): results/ take their size and SHA-256
//               from status.json's results when the size on disk agrees, every other file is
//               hashed here; events.jsonl is listed unhashed (notifications and requests
//               append to it after the end); requests/, hidden names (temporary files),
//               index.html and the crate's own two files are left out. The crate is written
//               atomically (temporary file, fsync, rename), just before the terminal status.json,
//               whose size and SHA-256 it takes from the bytes about to be written.
//
// SECURITY
//
//   Files are opened without following symlinks; a symlink in the folder is not listed. Under
//   run_as: owner the caller runs this with the owner's rights (AsUser), like publishing.
//
// This does blocking I/O: call it from a thread that may block.
import Crypto
import HopperCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct ProvenancePublisher: Sendable {
    public let folder: JobFolder
    /// The workflow directory (the daemon's `workflows:`), for the copies' relative paths.
    public let workflowDirectory: String?

    public init(folder: JobFolder, workflowDirectory: String?) {
        self.folder = folder
        self.workflowDirectory = workflowDirectory
    }

    // MARK: - At the start

    /// plan.json, params.json and the workflow copy. `workflowFile`: the named workflow's file
    /// (nil for inline steps).
    public func keepPlan(_ manifest: JobManifest, workflowFile: String?) throws(SystemError) {
        try FileOps.writeAtomically(folder.plan, Self.json(manifest))
        try FileOps.writeAtomically(folder.params, Self.json(SortedParams(manifest.params)))
        guard let workflowFile, let name = manifest.workflowName else { return }
        try FileOps.makeDirectories(folder.workflowCopy)
        try copy(workflowFile, to: folder.path + "/" + Self.workflowCopy(name))
        for snakefile in Self.snakefiles(manifest) {
            let rel = Self.snakefileCopy(snakefile, workflowDirectory: workflowDirectory)
            let target = folder.path + "/" + rel
            try FileOps.makeDirectories(FileOps.split(target).0)
            try copy(snakefile, to: target)
        }
    }

    /// `workflow/<name>.yaml`, relative to the job's folder.
    public static func workflowCopy(_ name: String) -> String { JobFolder.workflowCopyName + "/" + name + ".yaml" }

    /// Where a Snakefile's copy goes, relative to the job's folder.
    public static func snakefileCopy(_ snakefile: String, workflowDirectory: String?) -> String {
        if let dir = workflowDirectory.map({ $0.hasSuffix("/") ? $0 : $0 + "/" }), snakefile.hasPrefix(dir) {
            let rel = String(snakefile.dropFirst(dir.count))
            if !rel.split(separator: "/").contains("..") { return JobFolder.workflowCopyName + "/" + rel }
        }
        return JobFolder.workflowCopyName + "/" + FileOps.split(snakefile).1
    }

    /// The Snakefiles the plan's steps name (in order, each once).
    public static func snakefiles(_ manifest: JobManifest) -> [String] {
        var out: [String] = []
        for step in manifest.resolvedSteps {
            if case .snakemake(let sm) = step.kind, !out.contains(sm.snakefile) { out.append(sm.snakefile) }
        }
        return out
    }

    func copy(_ source: String, to target: String) throws(SystemError) {
        let bytes = try FileOps.readFile(source, limit: 16 << 20)
        try FileOps.writeAtomically(target, bytes)
    }

    static func json<T: Encodable>(_ value: T) throws(SystemError) -> [UInt8] {
        do { return try JSON.pretty(value) } catch {
            throw SystemError("encode", path: "\(T.self)", errno: EINVAL)
        }
    }

    // MARK: - At the end

    /// Writes ro-crate-metadata.json for the job as `status` says it ended. `statusBytes`: the
    /// status.json about to be written (the crate is written first, so that the job's end is
    /// published in status.json and the store together, as before); nil: status.json as it is.
    public func writeCrate(status: JobStatus, manifest: JobManifest, snakemakeVersion: String?,
                           statusBytes: [UInt8]? = nil) throws(SystemError) {
        var files = try listFiles(results: status.results)
        if let statusBytes, let i = files.firstIndex(where: { $0.path == JobFolder.statusName }) {
            var hasher = SHA256()
            statusBytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            let digest = PublishSession.hex(hasher.finalize())
            files[i] = RunCrate.File(path: JobFolder.statusName, bytes: Int64(statusBytes.count), sha256: digest)
        }
        let named = manifest.workflowName.map(Self.workflowCopy)
        let workflowFile = named.flatMap { path in files.contains { $0.path == path } ? path : nil }
        var snakefiles: [String: String] = [:]
        for snakefile in Self.snakefiles(manifest) {
            let rel = Self.snakefileCopy(snakefile, workflowDirectory: workflowDirectory)
            if files.contains(where: { $0.path == rel }) { snakefiles[snakefile] = rel }
        }
        var facts = RunCrate.Facts(status: status, manifest: manifest, files: files, workflowFile: workflowFile,
                                   snakefiles: snakefiles, snakemakeVersion: snakemakeVersion)
        facts.hasRequests = FileOps.isDirectory(folder.requests)
        let text = RunCrate.build(facts).text
        try FileOps.writeAtomically(folder.crate, Array(text.utf8))
    }

    /// Names the crate leaves out of the folder's files.
    public static let notListed: Set<String> = [JobFolder.crateName, JobFolder.cratePreviewName, SpoolLayout.pageName]

    /// Every regular file of the folder that the crate lists (see the header), sorted.
    func listFiles(results: [ResultFile]) throws(SystemError) -> [RunCrate.File] {
        var known: [String: ResultFile] = [:]
        for r in results { known[r.path] = r }
        var out: [RunCrate.File] = []
        for rel in try Self.walk(folder.path) {
            if Self.notListed.contains(rel) || rel.hasPrefix(JobFolder.requestsName + "/") { continue }
            if rel == JobFolder.eventsName {
                out.append(RunCrate.File(path: rel, bytes: nil, sha256: nil))
                continue
            }
            let full = folder.path + "/" + rel
            if let r = known[rel], let st = try FileOps.lstat(full), Int64(st.st_size) == r.bytes {
                out.append(RunCrate.File(path: rel, bytes: r.bytes, sha256: r.sha256))
                continue
            }
            let (bytes, sha) = try FileDigest.sha256(of: full)
            out.append(RunCrate.File(path: rel, bytes: bytes, sha256: sha))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Regular files under `root`, relative to it, without hidden names; symlinks and other
    /// kinds are not followed nor listed.
    public static func walk(_ root: String, prefix: String = "") throws(SystemError) -> [String] {
        var out: [String] = []
        for name in try FileOps.listDirectory(root).sorted() where !name.hasPrefix(".") {
            guard let st = try FileOps.lstat(root + "/" + name) else { continue }
            let kind = st.st_mode & S_IFMT
            if kind == S_IFDIR {
                out += try walk(root + "/" + name, prefix: prefix + name + "/")
            } else if kind == S_IFREG {
                out.append(prefix + name)
            }
        }
        return out
    }
}

/// SHA-256 of a file, read in 1 MiB chunks without following a symlink.
public enum FileDigest {
    public static func sha256(of path: String) throws(SystemError) -> (bytes: Int64, sha256: String) {
        let fd = try FileOps.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        defer { Glibc.close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var total: Int64 = 0
        while true {
            let n = try FileOps.read(fd, into: buffer, path: path)
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
        return (total, PublishSession.hex(hasher.finalize()))
    }
}

/// `snakemake --version`, asked once per executable.
public enum SnakemakeVersion {
    static let cache = Mutex<[String: String]>([:])

    /// The version Snakemake prints (its last line), or nil when it cannot be run.
    public static func of(_ executable: String) -> String? {
        if let known = cache.withLock({ $0[executable] }) { return known }
        var quoted = "'"
        for c in executable { quoted += c == "'" ? "'\\''" : String(c) }
        quoted += "'"
        guard let pipe = popen(quoted + " --version 2>/dev/null", "r") else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, pipe) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 65536 { break }
        }
        guard pclose(pipe) == 0 else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        let words = lines.last.map { $0.split(separator: " ") } ?? []
        guard let word = words.last else { return nil }
        let last = String(word)
        cache.withLock { $0[executable] = last }
        return last
    }
}
