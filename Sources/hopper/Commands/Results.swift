// hopper results — a job's result files (status.json's `results`): path, size, SHA-256.
//
// --json prints them as JSON lines; --verify re-hashes the files in `outbox/<id>/results/`
// against `results/SHA256SUMS` (the format `sha256sum -c` reads inside results/), streaming
// each file through SHA-256, and prints `OK` or `FAILED` per file (exit 1 on any failure).
import ArgumentParser
import Crypto
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Results: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a job's result files with sizes and checksums.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs)
        var id: String

        @Flag(help: "JSON lines, one object per file ({path, bytes, sha256}).")
        var json = false

        @Flag(help: "Re-hash every file against results/SHA256SUMS; exit 1 on a mismatch or a missing file.")
        var verify = false

        func validate() throws {
            if let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
            if json && verify { throw ValidationError("--json and --verify do not go together") }
        }

        func run() async throws {
            let layout = try spoolOptions.resolve().layout
            let status = try loadJob(id, layout)
            let folder = layout.folder(id).results
            let sums = folder + "/SHA256SUMS"
            if verify {
                if !FileOps.exists(sums) {
                    if status.results.isEmpty { print(noResults(status)); return }
                    throw CLIError("\(sums) is missing: nothing to verify against")
                }
                try verifyAll(folder: folder, sums: sums)
                return
            }
            if status.results.isEmpty {
                if !json { print(noResults(status)) }
                return
            }
            if json {
                for r in status.results { Console.out(bytes: try JSON.line(r)) }
                return
            }
            let sizes = status.results.map { ByteSize.human($0.bytes) }
            let pathWidth = max(4, status.results.map(\.path.count).max() ?? 0)
            let sizeWidth = max(4, sizes.map(\.count).max() ?? 0)
            func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
            func right(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
            print(pad("PATH", pathWidth) + "  " + right("SIZE", sizeWidth) + "  SHA256")
            for (r, size) in zip(status.results, sizes) {
                print(pad(r.path, pathWidth) + "  " + right(size, sizeWidth) + "  " + r.sha256)
            }
        }

        func noResults(_ s: JobStatus) -> String {
            s.state.isTerminal ? "job \(s.id) has no results (\(s.state.rawValue))"
                               : "job \(s.id) has no results yet (\(s.state.rawValue))"
        }

        /// `results/a.txt: OK` / `results/a.txt: FAILED` per line of SHA256SUMS; a one-line error when any failed.
        func verifyAll(folder: String, sums: String) throws {
            let bytes: [UInt8]
            do { bytes = try FileOps.readFile(sums) } catch { throw CLIError("cannot read \(sums): \(error.message)") }
            let entries = Self.parseSums(bytes)
            var failed = 0, malformed = 0
            var listed = Set<String>()
            for entry in entries {
                guard let (expected, rel) = entry else { malformed += 1; continue }
                listed.insert(rel)
                let shown = "results/" + rel
                if rel.hasPrefix("/") || rel.split(separator: "/").contains("..") {
                    print("\(shown): FAILED (path outside results/)"); failed += 1; continue
                }
                switch Self.sha256(of: folder + "/" + rel) {
                case .success(let actual) where actual == expected: print("\(shown): OK")
                case .success: print("\(shown): FAILED"); failed += 1
                case .failure(let error):
                    print("\(shown): FAILED (\(error.errno == ENOENT ? "missing" : error.message))"); failed += 1
                }
            }
            for rel in Self.files(under: folder) where rel != "SHA256SUMS" && !listed.contains(rel) {
                Console.err("hopper: warning: results/\(rel) is not listed in SHA256SUMS\n")
            }
            if malformed > 0 {
                Console.err("hopper: warning: \(malformed) line\(malformed == 1 ? "" : "s") of \(sums) \(malformed == 1 ? "is" : "are") not `<sha256>  <path>`\n")
            }
            let checked = entries.count - malformed
            if failed > 0 { throw CLIError("\(failed) of \(checked) result file\(checked == 1 ? "" : "s") FAILED verification") }
        }

        /// Lines `<64 hex>  <path>` (or ` *<path>`), with sha256sum's `\` escapes for names
        /// holding a newline or backslash. Nil for a line that is not one; empty lines are skipped.
        static func parseSums(_ bytes: [UInt8]) -> [(String, String)?] {
            var out: [(String, String)?] = []
            for raw in bytes.split(separator: UInt8(ascii: "\n")) {
                var line = String(decoding: raw, as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                if line.isEmpty { continue }
                let escaped = line.hasPrefix("\\")
                if escaped { line.removeFirst() }
                let chars = Array(line.utf8)
                guard chars.count > 66, chars[64] == 0x20, chars[65] == 0x20 || chars[65] == 0x2A,
                      chars[0..<64].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) })
                else { out.append(nil); continue }
                var path = String(decoding: chars[66...], as: UTF8.self)
                if escaped { path = unescape(path) }
                out.append((String(decoding: chars[0..<64], as: UTF8.self).lowercased(), path))
            }
            return out
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

        /// SHA-256 of a regular file (never following a symlink), read in 1 MiB chunks.
        static func sha256(of path: String) -> Result<String, SystemError> {
            let fd: Int32
            do { fd = try FileOps.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) } catch { return .failure(error) }
            defer { close(fd) }
            var st = stat()
            if fstat(fd, &st) != 0 { return .failure(SystemError("fstat", path: path)) }
            if (st.st_mode & S_IFMT) != S_IFREG { return .failure(SystemError("open", path: path, errno: EISDIR)) }
            var hasher = SHA256()
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return .failure(SystemError("read", path: path))
                }
                if n == 0 { break }
                buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            var text: [UInt8] = []
            for byte in hasher.finalize() { text.append(hex[Int(byte >> 4)]); text.append(hex[Int(byte & 15)]) }
            return .success(String(decoding: text, as: UTF8.self))
        }

        /// Regular files under `folder`, relative to it (symlinks are not followed).
        static func files(under folder: String, prefix: String = "") -> [String] {
            var out: [String] = []
            for name in ((try? FileOps.listDirectory(folder)) ?? []).sorted() {
                guard let st = try? FileOps.lstat(folder + "/" + name) else { continue }
                let rel = prefix + name
                if (st.st_mode & S_IFMT) == S_IFDIR { out += files(under: folder + "/" + name, prefix: rel + "/") }
                else { out.append(rel) }
            }
            return out
        }
    }
}
