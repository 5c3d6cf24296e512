// ResultPublisher — publishes the files a step's `outputs:` globs match in the job's workspace
// to `outbox/<id>/results/`, with sizes and SHA-256 checksums for status.json and SHA256SUMS.
//
// WHAT IT DOES
//
//   A match at `<workspace>/<rel>` goes to `results/<rel>` (parent directories created, mode
//   0755). When the workspace and the outbox are on one filesystem, it is a hard link (link(2))
//   to the same file; otherwise — or when linking fails (EXDEV across bind mounts, EPERM under
//   fs.protected_hardlinks, a filesystem without hard links), or with `allowHardLinks: false` —
//   a copy streamed in 1 MiB chunks into a temporary name beside the target, fsynced, then
//   renamed into place. Either way the final step is one rename(2) over `results/<rel>`, so a
//   rerun replaces an earlier file atomically and a reader never sees a half file. The
//   SHA-256 is computed with swift-crypto while reading (the copy's one read pass, or a read
//   of the linked file); no file is ever held in memory. At the end every directory written
//   to is fsynced.
//
//   `writeChecksums` writes `results/SHA256SUMS` (see ChecksumFile) atomically.
//
// SECURITY
//
//   The workspace belongs to the job's user, the outbox to the daemon. Each source is opened
//   below a descriptor of the workspace with O_NOFOLLOW on every component, O_NONBLOCK (a
//   FIFO swapped in never blocks) and must be a regular file by fstat(2); a hard link is
//   checked to be that very file (st_dev, st_ino) before it is renamed into place. Targets are
//   created below a descriptor of `results/` with O_NOFOLLOW on every component.
//
// DIAGNOSTICS
//
//   Skipped matches (see WorkspaceScan) come back as `PublishReport.warnings` and are logged at
//   info ("Output skipped", `results.warning`). Failures throw ResultsError: an invalid
//   pattern, the size cap (nothing is published when the scan already exceeds it), a directory
//   in the way in results/, a failed system call.
//
// CONFIGURATION
//
//   maxBytes        nil (no cap)   total bytes one publish may write
//   allowHardLinks  true           false: always copy
//
// This does blocking I/O for as long as the copies take: call it from a thread that may block,
// not from the cooperative pool.
import Crypto
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

public struct ResultPublisher: Sendable {
    /// The size of each read (and of the one buffer a publish uses).
    public static let chunkSize = 1 << 20
    /// The checksum file's name at the top of `results/`.
    public static let checksumFileName = ChecksumFile.name

    public let workspace: String
    /// `outbox/<id>/results`.
    public let results: String
    public let maxBytes: Int64?
    public let allowHardLinks: Bool
    public let logger: Logger

    public init(workspace: String, results: String, maxBytes: Int64? = nil, allowHardLinks: Bool = true,
                logger: Logger = Logger(label: "hopper.results")) {
        self.workspace = workspace
        self.results = results
        self.maxBytes = maxBytes
        self.allowHardLinks = allowHardLinks
        self.logger = logger
    }

    /// Publishes every file `patterns` match; see the header. Throws before publishing anything
    /// when a pattern is invalid or the matches exceed `maxBytes`.
    public func publish(patterns: [String]) throws(ResultsError) -> PublishReport {
        var globs: [OutputGlob] = []
        for pattern in patterns { globs.append(try OutputGlob(pattern)) }

        let rootFD = try sys("cannot open the workspace") { () throws(SystemError) in
            try FileOps.open(workspace, O_RDONLY | O_DIRECTORY)
        }
        defer { Glibc.close(rootFD) }
        guard let rootReal = try sys("cannot open the workspace", { () throws(SystemError) in try FileOps.realpath(workspace) }) else {
            throw .system(SystemError("realpath", path: workspace, errno: ENOENT), "cannot open the workspace")
        }
        var scan = WorkspaceScan(workspace: workspace, rootFD: rootFD, rootReal: rootReal)
        let matches = try scan.run(globs)

        var total: Int64 = 0
        for match in matches.files {
            let (sum, overflow) = total.addingReportingOverflow(match.bytes)
            total = overflow ? .max : sum
        }
        if let cap = maxBytes, total > cap { throw .tooLarge(cap: cap, bytes: total) }

        try sys("cannot create the results directory") { () throws(SystemError) in try FileOps.makeDirectories(results) }
        let resultsFD = try sys("cannot open the results directory") { () throws(SystemError) in
            try FileOps.open(results, O_RDONLY | O_DIRECTORY)
        }
        defer { Glibc.close(resultsFD) }
        let sameFileSystem = try sys("cannot examine the workspace and the results directory") { () throws(SystemError) in
            try FileOps.fstat(rootFD, path: workspace).st_dev == FileOps.fstat(resultsFD, path: results).st_dev
        }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var session = PublishSession(publisher: self, rootFD: rootFD, resultsFD: resultsFD, buffer: buffer,
                                     tryLinks: allowHardLinks && sameFileSystem)
        var files: [ResultFile] = []
        for match in matches.files {
            if let file = try session.publish(match) { files.append(file) }
        }
        try session.syncDirectories()

        let warnings = matches.warnings + session.warnings
        var unmatched = matches.unmatched
        if !session.warnings.isEmpty {
            // A pattern whose every match vanished or changed type since the scan.
            for glob in globs where !unmatched.contains(glob.pattern)
                && !files.contains(where: { glob.matches(String($0.path.dropFirst(Self.prefix.count))) }) {
                unmatched.append(glob.pattern)
            }
        }
        for warning in warnings { logger.info("Output skipped", metadata: ["results.warning": "\(warning)"]) }
        logger.debug("Results published", metadata: [
            "results.files": "\(files.count)", "results.linked": "\(session.linked)",
            "results.copied": "\(session.copied)", "results.bytes": "\(session.publishedBytes)",
        ])
        return PublishReport(files: files, warnings: warnings, unmatched: unmatched)
    }

    /// Writes `results/SHA256SUMS` atomically (temporary file, fsync, rename, fsync of the
    /// directory) for `all` — every result of the job, not only one step's: one line per path
    /// (the last entry for a path wins), sorted, in the format `sha256sum -c` reads (see
    /// ChecksumFile). An empty list writes an empty file.
    public func writeChecksums(_ all: [ResultFile]) throws(ResultsError) {
        let entries = all.map { file in
            (path: file.path.hasPrefix(Self.prefix) ? String(file.path.dropFirst(Self.prefix.count)) : file.path,
             sha256: file.sha256)
        }
        let text = ChecksumFile.text(entries)
        try sys("cannot write \(results)/\(ChecksumFile.name)") { () throws(SystemError) in
            try FileOps.makeDirectories(results)
            try FileOps.writeAtomically(results + "/" + ChecksumFile.name, Array(text.utf8))
            try FileOps.fsyncDirectory(results)
        }
    }

    /// What `ResultFile.path` starts with.
    static let prefix = "results/"
}

/// Runs `body`, turning a failed system call into `ResultsError.system` with `what` in front.
func sys<T>(_ what: @autoclosure () -> String, _ body: () throws(SystemError) -> T) throws(ResultsError) -> T {
    do {
        return try body()
    } catch {
        throw .system(error, what())
    }
}

/// The state of one `publish` call: the read buffer, the bytes published so far (for the cap),
/// whether hard links still look possible, the directories to fsync at the end.
struct PublishSession {
    let publisher: ResultPublisher
    let rootFD: Int32
    let resultsFD: Int32
    let buffer: UnsafeMutableRawBufferPointer
    var tryLinks: Bool
    var publishedBytes: Int64 = 0
    var linked = 0
    var copied = 0
    var warnings: [String] = []
    /// Directories below results/ written to (relative; "" is results/ itself).
    var touched: Set<String> = []

    init(publisher: ResultPublisher, rootFD: Int32, resultsFD: Int32, buffer: UnsafeMutableRawBufferPointer, tryLinks: Bool) {
        self.publisher = publisher
        self.rootFD = rootFD
        self.resultsFD = resultsFD
        self.buffer = buffer
        self.tryLinks = tryLinks
    }

    var workspace: String { publisher.workspace }
    var results: String { publisher.results }

    /// Publishes one match; nil (with a warning) when its source vanished or stopped being a
    /// regular file since the scan.
    mutating func publish(_ match: OutputMatch) throws(ResultsError) -> ResultFile? {
        let sourcePath = workspace + "/" + match.source
        let what = "cannot publish \(ResultsError.quote(match.path))"

        // The source, below the workspace, no symlink anywhere on the way.
        let source: (dirFD: Int32, name: String)
        let fd: Int32
        do {
            source = try FileOps.openParent(of: match.source, beneath: rootFD, display: workspace)
        } catch {
            return try skip(match, error, what)
        }
        defer { Glibc.close(source.dirFD) }
        do {
            fd = try FileOps.open(source.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, at: source.dirFD, path: sourcePath)
        } catch {
            return try skip(match, error, what)
        }
        defer { Glibc.close(fd) }
        let st = try sys(what) { () throws(SystemError) in try FileOps.fstat(fd, path: sourcePath) }
        guard WorkspaceScan.kind(st) == S_IFREG else {
            warnings.append("skipped \(ResultsError.quote(match.path)): it became \(WorkspaceScan.kindName(st)) while being published")
            return nil
        }

        // The target's directory, below results/, no symlink anywhere on the way.
        let target: (dirFD: Int32, name: String)
        do {
            target = try FileOps.makeParents(of: match.path, beneath: resultsFD, display: results)
        } catch {
            if error.errno == ENOTDIR || error.errno == ELOOP {
                throw ResultsError(.conflict, "\(what): \(ResultsError.quote(error.path)) is in the way: it is not a directory",
                                   path: error.path, cause: error)
            }
            throw .system(error, what)
        }
        defer { Glibc.close(target.dirFD) }
        let parent = FileOps.split(match.path).0
        touched.insert(match.path.contains("/") ? parent : "")
        let targetPath = results + "/" + match.path

        if tryLinks, let file = try link(match, fd: fd, st: st, source: source, target: target, targetPath: targetPath) {
            linked += 1
            return file
        }
        let file = try copy(match, fd: fd, st: st, target: target, targetPath: targetPath)
        copied += 1
        return file
    }

    /// A hard link to the source under a temporary name, checked to be the file opened as
    /// `fd`, hashed, renamed over the target. nil when linking is not possible here.
    private mutating func link(_ match: OutputMatch, fd: Int32, st: stat, source: (dirFD: Int32, name: String),
                               target: (dirFD: Int32, name: String), targetPath: String) throws(ResultsError) -> ResultFile? {
        let what = "cannot publish \(ResultsError.quote(match.path))"
        // A rerun where results/<rel> already is this very file: rename(2) of one hard link over
        // another of the same file does nothing, so only hash it.
        if let existing = try sys(what, { () throws(SystemError) in try FileOps.lstat(target.name, at: target.dirFD, path: targetPath) }),
           existing.st_dev == st.st_dev, existing.st_ino == st.st_ino {
            let (bytes, sha256) = try hash(fd, path: workspace + "/" + match.source)
            return finish(match, bytes, sha256)
        }
        let temp = Self.temporaryName()
        do {
            try FileOps.link(source.name, at: source.dirFD, to: temp, at: target.dirFD, path: "\(workspace)/\(match.source) -> \(targetPath)")
        } catch {
            if error.errno == EXDEV { tryLinks = false }     // another mount: no point trying again
            return nil
        }
        do throws(ResultsError) {
            let linked = try sys(what) { () throws(SystemError) in try FileOps.lstat(temp, at: target.dirFD, path: targetPath) }
            guard let linked, linked.st_dev == st.st_dev, linked.st_ino == st.st_ino else {
                throw ResultsError(.conflict, "\(what): the file was replaced while being published", path: match.path)
            }
            let (bytes, sha256) = try hash(fd, path: workspace + "/" + match.source)
            try sys(what) { () throws(SystemError) in
                try FileOps.fsync(fd, path: workspace + "/" + match.source)
                try FileOps.rename(temp, to: target.name, at: target.dirFD, path: targetPath)
            }
            return finish(match, bytes, sha256)
        } catch {
            try? FileOps.unlink(temp, at: target.dirFD, path: targetPath)
            throw Self.inTheWay(error, targetPath)
        }
    }

    /// A copy streamed into a temporary name beside the target, hashed on the way, fsynced,
    /// renamed over the target.
    private mutating func copy(_ match: OutputMatch, fd: Int32, st: stat, target: (dirFD: Int32, name: String),
                               targetPath: String) throws(ResultsError) -> ResultFile {
        let what = "cannot publish \(ResultsError.quote(match.path))"
        let temp = Self.temporaryName()
        let out = try sys(what) { () throws(SystemError) in
            try FileOps.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: st.st_mode & 0o777, at: target.dirFD, path: targetPath)
        }
        var open = true
        do throws(ResultsError) {
            let (bytes, sha256) = try hash(fd, path: workspace + "/" + match.source, copyTo: out, outPath: targetPath)
            try sys(what) { () throws(SystemError) in try FileOps.fsync(out, path: targetPath) }
            open = false
            if Glibc.close(out) != 0 { throw .system(SystemError("close", path: targetPath), what) }
            try sys(what) { () throws(SystemError) in try FileOps.rename(temp, to: target.name, at: target.dirFD, path: targetPath) }
            return finish(match, bytes, sha256)
        } catch {
            if open { Glibc.close(out) }
            try? FileOps.unlink(temp, at: target.dirFD, path: targetPath)
            throw Self.inTheWay(error, targetPath)
        }
    }

    /// Reads `fd` to its end in chunks, hashing (and copying to `out`); checks the cap as it goes.
    private mutating func hash(_ fd: Int32, path: String, copyTo out: Int32? = nil, outPath: String = "") throws(ResultsError) -> (Int64, String) {
        var hasher = SHA256()
        var bytes: Int64 = 0
        while true {
            let n = try sys("cannot read \(ResultsError.quote(path))") { () throws(SystemError) in
                try FileOps.read(fd, into: buffer, path: path)
            }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(bufferPointer: chunk)
            if let out {
                try sys("cannot write \(ResultsError.quote(outPath))") { () throws(SystemError) in
                    try FileOps.writeAll(out, chunk, path: outPath)
                }
            }
            bytes += Int64(n)
            if let cap = publisher.maxBytes, publishedBytes + bytes > cap {
                throw .tooLarge(cap: cap, bytes: publishedBytes + bytes, growing: true)
            }
        }
        return (bytes, Self.hex(hasher.finalize()))
    }

    private mutating func finish(_ match: OutputMatch, _ bytes: Int64, _ sha256: String) -> ResultFile {
        publishedBytes += bytes
        return ResultFile(path: ResultPublisher.prefix + match.path, bytes: bytes, sha256: sha256)
    }

    /// A source that vanished (ENOENT) or became a symlink (ELOOP, ENOTDIR on the way) since
    /// the scan is skipped with a warning; anything else is an error.
    private mutating func skip(_ match: OutputMatch, _ error: SystemError, _ what: String) throws(ResultsError) -> ResultFile? {
        switch error.errno {
        case ENOENT:
            warnings.append("skipped \(ResultsError.quote(match.path)): it vanished while being published")
            return nil
        case ELOOP, ENOTDIR:
            warnings.append("skipped \(ResultsError.quote(match.path)): it was replaced by a symlink while being published")
            return nil
        default:
            throw .system(error, what)
        }
    }

    /// fsync(2) of every directory written to, so the new names survive a crash; and of
    /// results/'s parent, which may have gained results/ itself.
    func syncDirectories() throws(ResultsError) {
        for rel in touched.sorted() {
            try sys("cannot sync the results directory") { () throws(SystemError) in
                let fd = try FileOps.open(rel.isEmpty ? "." : rel, O_RDONLY | O_DIRECTORY, at: resultsFD, path: results + "/" + rel)
                defer { Glibc.close(fd) }
                try FileOps.fsync(fd, path: results + "/" + rel)
            }
        }
        try sys("cannot sync the results directory") { () throws(SystemError) in
            try FileOps.fsyncDirectory(FileOps.split(FileOps.absolute(results)).0)
        }
    }

    /// A rename onto a directory (EISDIR, ENOTEMPTY, EEXIST) is a conflict to explain.
    private static func inTheWay(_ error: ResultsError, _ targetPath: String) -> ResultsError {
        guard let cause = error.cause, cause.call == "renameat",
              cause.errno == EISDIR || cause.errno == ENOTEMPTY || cause.errno == EEXIST else { return error }
        return ResultsError(.conflict, "cannot publish \(ResultsError.quote(targetPath)): a directory of that name is in the way; "
            + "remove it from results/", path: targetPath, cause: cause)
    }

    /// `.hopper-<16 hex>.tmp`: short (any name fits beside it), hidden, unlikely to clash.
    private static func temporaryName() -> String {
        let n = UInt64.random(in: .min ... .max)
        let hex = String(n, radix: 16)
        return ".hopper-" + String(repeating: "0", count: 16 - hex.count) + hex + ".tmp"
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
