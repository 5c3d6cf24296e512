// PageSources — what the pages are made of, read from the spool: a job's events, params and
// inputs (from its accepted manifest), the failing step's log tail, the rejected files with
// the lines their errors point at, the inbox backlog. Everything is read with a size limit;
// a file that cannot be read leaves its part of a page empty (the page is a view, the files
// are the record).
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

enum PageSources {
    /// Bytes read at most from the end of a log for its tail, and from events.jsonl.
    static let tailBytes = 64 << 10
    static let eventsBytes = 256 << 10

    /// The last `maxBytes` of the regular file `relative` beneath the folder `base` (nil when
    /// it cannot be opened). No link is followed, at any level: under run_as: owner a job's
    /// folder is its owner's, who could make `logs` a link to a folder only root may read.
    static func tail(_ base: String, _ relative: String, maxBytes: Int) -> [UInt8]? {
        var fd = Glibc.open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let parts = relative.split(separator: "/").map(String.init)
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY)
            let next = openat(fd, part, flags)
            Glibc.close(fd)
            guard next >= 0 else { return nil }
            fd = next
        }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(st.st_size)
        let start = max(0, size - maxBytes)
        var buffer = [UInt8](repeating: 0, count: size - start)
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(start + done)) }
            if n <= 0 { break }
            done += n
        }
        buffer.removeLast(buffer.count - done)
        return buffer
    }

    /// Lines of a tail; a first line cut by the byte limit is dropped.
    static func lines(_ bytes: [UInt8], cut: Bool) -> [String] {
        var parts = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        if cut && parts.count > 1 { parts.removeFirst() }
        if parts.last?.isEmpty == true { parts.removeLast() }
        return parts.map { PlainText.clean(bytes: $0) }
    }

    static func events(_ folder: JobFolder) -> [JobEvent] {
        guard let bytes = tail(folder.path, JobFolder.eventsName, maxBytes: eventsBytes) else { return [] }
        var out: [JobEvent] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            // silent: a torn or foreign line is left out of the page; events.jsonl keeps it.
            if let e = try? JSON.decode(JobEvent.self, from: Array(line)) { out.append(e) }
        }
        return out
    }

    /// The failing step's log, its last `JobPage.logTailLines` lines.
    static func failedLogTail(_ folder: JobFolder, _ status: JobStatus) -> [String] {
        guard status.state == .failed, let step = status.error?.step ?? status.currentStep else { return [] }
        guard let bytes = tail(folder.path, JobFolder.logRelative(step: step), maxBytes: tailBytes) else { return [] }
        let all = lines(bytes, cut: bytes.count == tailBytes)
        return Array(all.suffix(JobPage.logTailLines))
    }

    /// Params (defaults applied) and inputs of the accepted manifest; empty when it cannot be read.
    static func manifestParts(_ folder: JobFolder, catalog: WorkflowCatalog?) -> (params: [(name: String, value: String)], inputs: [JobPageData.Input]) {
        guard let bytes = tail(folder.path, JobFolder.manifestName, maxBytes: 4 << 20) else { return ([], []) }
        guard case .success(.job(let manifest)) = ManifestParser.parse(bytes, fileName: folder.id + ".yaml", catalog: catalog) else {
            return ([], [])
        }
        let params = manifest.params.keys.sorted().map { (name: $0, value: manifest.params[$0]!.jsonLiteral) }
        var inputs: [JobPageData.Input] = []
        for name in manifest.inputs.keys.sorted() {
            let path = manifest.inputs[name]!
            // silent: an input gone or unreadable shows as missing.
            let bytes: Int64? = (try? FileOps.statFollowing(path)).flatMap { $0 }.map { Int64($0.st_size) }
            inputs.append(.init(name: name, path: path, bytes: bytes))
        }
        return (params, inputs)
    }

    /// A rejection and the lines of the rejected file its errors point at.
    static func rejected(_ folder: RejectedFolder, errorFile: String) -> RejectedPageItem? {
        guard errorFile.hasSuffix(RejectedFolder.errorSuffix), !errorFile.contains("/") else { return nil }
        guard let bytes = tail(folder.path, errorFile, maxBytes: 1 << 20) else { return nil }
        // silent: an error file being written (or not ours) is read again at the next change.
        guard let r = try? JSON.decode(Rejection.self, from: bytes) else { return nil }
        let wanted = Set(r.errors.compactMap(\.line))
        var lines: [Int: String] = [:]
        if !wanted.isEmpty, let text = tail(folder.path, String(errorFile.dropLast(RejectedFolder.errorSuffix.count)), maxBytes: 1 << 20) {
            for (i, line) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where wanted.contains(i + 1) {
                lines[i + 1] = PlainText.clean(bytes: Array(line.prefix(500)))
            }
        }
        return RejectedPageItem(rejection: r, lines: lines)
    }
}
