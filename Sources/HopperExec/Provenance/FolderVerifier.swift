// FolderVerifier — `hopper verify PATH`: does a job's outbox folder, or a copy of it anywhere,
// still hold what its crate (`ro-crate-metadata.json`) and `results/SHA256SUMS` say? Needs no
// spool and no daemon.
//
// WHAT IT CHECKS
//
//   Every file the crate lists (a File entity whose @id is a relative path) and every line of
//   results/SHA256SUMS must be a regular file; where a size (contentSize) or a SHA-256 is
//   given, it must match (each file is hashed once). Every folder the crate lists must be a
//   folder. Every regular file in PATH that neither lists is unexpected — except the crate
//   itself, the job page (`index.html`, `ro-crate-preview.html`, kept by the pages) and the
//   contents of `requests/` (requests honoured after the end are filed there). A symlink
//   anywhere is unexpected: a job's folder has none.
//
// DIAGNOSTICS
//
//   One line per problem, `<path>: missing`, `<path>: changed (…)`, `<path>: unexpected`,
//   `<path>: not a regular file`, sorted by path; the crate or SHA256SUMS unreadable or not
//   what they should be is a problem too. No problems: the folder holds.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

public struct FolderVerifier: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public struct Report: Sendable, Equatable {
        /// One line each, sorted by the path they are about.
        public var problems: [String]
        /// Files checked (listed by the crate or SHA256SUMS).
        public var checked: Int
        /// results/SHA256SUMS was there and read.
        public var checksums = false
    }

    struct Expectation {
        var bytes: Int64?
        var sha256: String?
    }

    /// Names at the top of the folder that are neither expected nor unexpected.
    static let tolerated: Set<String> = [JobFolder.crateName, JobFolder.cratePreviewName, SpoolLayout.pageName]

    public func run() -> Report {
        var problems: [(String, String)] = []
        var expected: [String: Expectation] = [:]
        var folders: Set<String> = []
        var openFolders: [String] = [JobFolder.requestsName + "/"]

        let (crate, crateProblem) = readCrate()
        if let crateProblem { problems.append((JobFolder.crateName, crateProblem)) }
        if let crate {
            for entity in crate.graph {
                guard let rel = Self.relativePath(entity.id) else { continue }
                if entity.types.contains("Dataset") {
                    let dir = rel.hasSuffix("/") ? rel : rel + "/"
                    folders.insert(dir)
                    if entity.hasPart == nil { openFolders.append(dir) }
                } else if entity.types.contains("File") {
                    expected[rel] = Expectation(bytes: entity.contentSize, sha256: entity.sha256?.lowercased())
                }
            }
        }
        let sumsRel = JobFolder.resultsName + "/" + ResultPublisher.checksumFileName
        if FileOps.exists(path + "/" + sumsRel) {
            if expected[sumsRel] == nil { expected[sumsRel] = Expectation() }
            let (entries, sumsProblem) = readSums(sumsRel)
            if let sumsProblem { problems.append((sumsRel, sumsProblem)) }
            for (rel, sha) in entries {
                let full = JobFolder.resultsName + "/" + rel
                if let known = expected[full]?.sha256, known != sha {
                    problems.append((full, "changed (SHA256SUMS and the crate give different SHA-256s)"))
                }
                var e = expected[full] ?? Expectation()
                e.sha256 = sha
                expected[full] = e
            }
        }

        for rel in expected.keys.sorted() {
            if let problem = check(rel, expected[rel]!) { problems.append((rel, problem)) }
        }
        for dir in folders.sorted() where dir != "./" {
            let full = path + "/" + String(dir.dropLast())
            if !FileOps.isDirectory(full) && !openFolders.contains(dir) { problems.append((dir, "missing")) }
        }
        for (rel, isLink) in walk("", prefix: "") {
            // An expected symlink is reported by `check`; the job page may be a link to index.html.
            if expected[rel] != nil || Self.tolerated.contains(rel) { continue }
            if isLink {
                problems.append((rel, "unexpected (a symlink)"))
            } else if !openFolders.contains(where: { rel.hasPrefix($0) }) {
                problems.append((rel, "unexpected"))
            }
        }
        let sorted = problems.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        var report = Report(problems: sorted.map { "\($0.0): \($0.1)" }, checked: expected.count)
        report.checksums = FileOps.exists(path + "/" + sumsRel)
        return report
    }

    /// A relative path for an @id naming a file or folder in the crate; nil for `./`, `#…`,
    /// URIs and anything leading out of the folder.
    static func relativePath(_ id: String) -> String? {
        if id == "./" || id.isEmpty || id.hasPrefix("#") || id.hasPrefix("/") || id.contains(":") { return nil }
        let decoded = percentDecoded(id)
        if decoded.split(separator: "/").contains("..") { return nil }
        return decoded.hasPrefix("./") ? String(decoded.dropFirst(2)) : decoded
    }

    /// `%20` → space and the like (RO-Crate @ids are URI references).
    static func percentDecoded(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2,
               let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func check(_ rel: String, _ e: Expectation) -> String? {
        let full = path + "/" + rel
        let st: stat?
        do { st = try FileOps.lstat(full) } catch { return "cannot be examined (\(error.message))" }
        guard let st else { return "missing" }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return "not a regular file" }
        if let bytes = e.bytes, Int64(st.st_size) != bytes {
            return "changed (\(st.st_size) bytes, the crate says \(bytes))"
        }
        guard let sha = e.sha256 else { return nil }
        do {
            let (_, actual) = try FileDigest.sha256(of: full)
            return actual == sha ? nil : "changed (SHA-256 differs)"
        } catch {
            return "cannot be read (\(error.message))"
        }
    }

    /// Every regular file and symlink under the folder (hidden names too), relative.
    func walk(_ rel: String, prefix: String) -> [(String, Bool)] {
        let dir = rel.isEmpty ? path : path + "/" + rel
        // silent: a folder that cannot be listed shows up as its files missing.
        let names = ((try? FileOps.listDirectory(dir)) ?? []).sorted()
        var out: [(String, Bool)] = []
        for name in names {
            let r = prefix + name
            // silent: vanished meanwhile; nothing to report about it.
            guard let st = try? FileOps.lstat(dir + "/" + name) else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: out += walk(r, prefix: r + "/")
            case S_IFLNK: out.append((r, true))
            default: out.append((r, false))
            }
        }
        return out
    }

    // MARK: - The crate and SHA256SUMS

    struct Crate: Decodable {
        var graph: [Entity]
        enum CodingKeys: String, CodingKey { case graph = "@graph" }
    }

    struct Entity: Decodable {
        var id: String
        var types: [String]
        var contentSize: Int64?
        var sha256: String?
        var hasPart: [Ref]?

        struct Ref: Decodable { var id: String?; enum CodingKeys: String, CodingKey { case id = "@id" } }

        enum CodingKeys: String, CodingKey { case id = "@id", type = "@type", contentSize, sha256, hasPart }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            if let one = try? c.decode(String.self, forKey: .type) {   // silent: else a list of types
                types = [one]
            } else {
                types = try c.decodeIfPresent([String].self, forKey: .type) ?? []
            }
            if let text = try? c.decode(String.self, forKey: .contentSize) {   // silent: else a number
                contentSize = Int64(text)
            } else {
                contentSize = try? c.decodeIfPresent(Int64.self, forKey: .contentSize)   // silent: a size that is neither is not checked
            }
            sha256 = try? c.decodeIfPresent(String.self, forKey: .sha256)   // silent: a non-string is not checked
            if let parts = try? c.decodeIfPresent([Ref].self, forKey: .hasPart) {   // silent: else one reference
                hasPart = parts
            } else if let part = try? c.decodeIfPresent(Ref.self, forKey: .hasPart) {   // silent: else none
                hasPart = [part]
            }
        }
    }

    /// The crate, or the problem with it.
    func readCrate() -> (Crate?, String?) {
        let file = path + "/" + JobFolder.crateName
        let bytes: [UInt8]
        do { bytes = try FileOps.readFile(file) } catch {
            return (nil, error.errno == ENOENT ? "missing (not a finished job's folder?)" : "cannot be read (\(error.message))")
        }
        do { return (try JSON.decode(Crate.self, from: bytes), nil) } catch {
            return (nil, "not a valid crate (\(error))")
        }
    }

    /// (path relative to results/, sha256) per line; a line that is not one is a problem.
    func readSums(_ rel: String) -> ([(String, String)], String?) {
        let bytes: [UInt8]
        do { bytes = try FileOps.readFile(path + "/" + rel) } catch { return ([], "cannot be read (\(error.message))") }
        var out: [(String, String)] = []
        var n = 0
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            n += 1
            if raw.isEmpty { continue }
            guard let entry = Self.sumsLine(Array(raw)) else { return (out, "line \(n) is not `<sha256>  <path>`") }
            out.append(entry)
        }
        return (out, nil)
    }

    /// `<64 hex>  <path>` (or ` *<path>`), a leading `\` for GNU escapes; (path, sha256).
    static func sumsLine(_ line: [UInt8]) -> (String, String)? {
        var chars = line[...]
        let escaped = chars.first == UInt8(ascii: "\\")
        if escaped { chars = chars.dropFirst() }
        let a = Array(chars)
        guard a.count > 66, a[64] == 0x20, a[65] == 0x20 || a[65] == 0x2A else { return nil }
        let hex = a[0..<64]
        guard hex.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }) else { return nil }
        var name = String(decoding: a[66...], as: UTF8.self)
        if escaped { name = unescape(name) }
        if name.hasPrefix("/") || name.split(separator: "/").contains("..") { return nil }
        return (name, String(decoding: hex, as: UTF8.self).lowercased())
    }

    static func unescape(_ s: String) -> String {
        var out = "", pending = false
        for c in s {
            if pending { out.append(c == "n" ? "\n" : c == "r" ? "\r" : c); pending = false }
            else if c == "\\" { pending = true }
            else { out.append(c) }
        }
        return out
    }
}
