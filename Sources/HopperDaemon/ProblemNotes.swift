// ProblemNotes — an `.error.json` beside each thing in the inbox that the daemon cannot take
// and cannot move to rejected/: a folder that is not a queue (`inbox/My Queue/`), a folder
// nested in a queue (`inbox/seqA/sub/`), an entry whose move was refused (a directory the
// daemon may not write, a queue folder it may not write). The note says what is wrong and what
// to do, in the shape of `rejected/<file>.error.json` (Rejection), so that whoever looks in the
// inbox finds the answer beside the thing itself; the heartbeat's `problems` say the same.
//
// Written atomically (a temporary name, then rename), once per problem and again only when
// its message changes; removed when the problem is gone (the folder renamed or removed) while
// the daemon runs. Where the note cannot be written (the folder holding the entry is read-only
// to the daemon), the heartbeat entry and, for a refused move, rejected/<name>.error.json
// remain; the failure is logged once.
//
// DIAGNOSTICS
//      warning  inbox.problem_note_failed  the note could not be written: path, error
import HopperCore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class ProblemNotes: Sendable {
    /// Note path → the message written (or tried: a failure is not retried until it changes).
    private let written = Mutex<[String: String]>([:])
    let layout: SpoolLayout
    let logger: Logger

    public init(layout: SpoolLayout, logger: Logger) {
        self.layout = layout
        self.logger = logger
    }

    /// The note's path beside `path`: `inbox/My Queue.error.json`.
    static func note(for path: String) -> String { path + ".error.json" }

    /// Brings the notes in line with `problems` (path → what to do): writes new or changed
    /// ones, removes the ones whose problem is gone.
    public func update(_ problems: [(path: String, message: String)]) {
        var wanted: [String: (path: String, message: String)] = [:]
        // Only what is there by that name (a name that is not UTF-8 is listed under another spelling).
        for p in problems where p.path.hasPrefix(layout.inbox + "/") && FileOps.exists(p.path) {
            wanted[Self.note(for: p.path)] = p
        }
        let before = written.withLock { $0 }
        for (note, _) in before where wanted[note] == nil {
            unlink(note)   // a note already removed (by a person) is as good as removed here
            written.withLock { $0[note] = nil }
        }
        for (note, p) in wanted where before[note] != p.message {
            write(note, p)
            written.withLock { $0[note] = p.message }
        }
    }

    func write(_ note: String, _ p: (path: String, message: String)) {
        let name = String(p.path.split(separator: "/").last ?? "")
        let relative = String(p.path.dropFirst(layout.root.count + 1))
        let isFolder = FileOps.isDirectory(p.path)
        let record = Rejection(file: name, reason: isFolder ? "folder not taken from" : "cannot be moved",
                               diagnostics: [Diagnostic(message: p.message)], source: relative)
        do {
            try FileOps.writeAtomically(note, try JSON.pretty(record), durable: false)
        } catch {
            logger.warning("inbox.problem_note_failed", metadata: ["path": "\(note)", "error": "\(error)"])
        }
    }
}
