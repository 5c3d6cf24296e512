// GroupCommit — durable atomic file writes, many per disk commit (a database's group commit).
//
// A durable write is `.<name>.tmp`, fsync, rename(2) (see FileOps.writeAtomically). Done one
// by one, every such write waits for its own journal commit and device flush; with many jobs
// ending at once those commits are most of what a job's end costs on a disk. Here the writes
// of a round are handed to one thread, which
//   1. writes every temporary file and starts its writeback (sync_file_range: the data blocks
//      are allocated and sent to the disk, still without a commit),
//   2. fsyncs each: the first fsync commits the journal transaction that now holds all of the
//      round's files, so the others find their data on disk and their metadata committed,
//   3. renames each into place,
// then wakes every writer of the round. A write handed in while a round is on its way waits for
// the next round (its bytes may have missed this one's writeback). Each file gets its own
// fsync, so the guarantee does not depend on the filesystem (ext4, XFS and NFS alike); the
// saving — one commit instead of one per file — comes from filesystems with a journal.
//
// Per path, writes are applied in the order they were handed in; within a round only the last
// write of a path is made (the earlier ones are superseded and reported as done).
import CHopperSys
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class GroupCommit: Sendable {
    struct Write: Sendable {
        let path: String
        let bytes: [UInt8]
        let mode: mode_t
        let done: Done
    }

    /// Who hears of the write's end: an awaiting writer, or a callback (`enqueue`).
    enum Done: Sendable {
        case waiter(CheckedContinuation<SystemError?, Never>)
        case callback(@Sendable (SystemError?) -> Void)

        func finish(_ result: SystemError?) {
            switch self {
            case .waiter(let c): c.resume(returning: result)
            case .callback(let f): f(result)
            }
        }
    }

    struct State {
        var waiting: [Write] = []
        var draining = false
        var rounds = 0
        var files = 0
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "hopper.group-commit", qos: .utility)

    public init() {}

    /// Rounds made so far and files written in them (for tests and the log).
    public var counts: (rounds: Int, files: Int) { state.withLock { ($0.rounds, $0.files) } }

    /// Replaces `path` with `bytes` atomically and durably, in the next round.
    public func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) async throws(SystemError) {
        let failure: SystemError? = await withCheckedContinuation { done in
            hand(Write(path: path, bytes: bytes, mode: mode, done: .waiter(done)))
        }
        if let failure { throw failure }
    }

    /// Like `write`, without waiting: the write is handed in now (so writes handed in later,
    /// by anyone, are applied after it) and `done` hears of its end.
    public func enqueue(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, done: @escaping @Sendable (SystemError?) -> Void) {
        hand(Write(path: path, bytes: bytes, mode: mode, done: .callback(done)))
    }

    private func hand(_ write: Write) {
        let start = state.withLock { s -> Bool in
            s.waiting.append(write)
            if s.draining { return false }
            s.draining = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    private func drain() {
        while true {
            let round = state.withLock { s -> [Write] in
                let round = s.waiting
                s.waiting = []
                if round.isEmpty { s.draining = false } else { s.rounds += 1; s.files += round.count }
                return round
            }
            if round.isEmpty { return }
            // The last write of each path wins; earlier ones in the same round are superseded.
            var last: [String: Int] = [:]
            for (i, w) in round.enumerated() { last[w.path] = i }
            let made = round.indices.filter { last[round[$0].path] == $0 }
            let results = Self.commit(made.map { round[$0] })
            var outcome = [SystemError?](repeating: nil, count: round.count)
            for (k, i) in made.enumerated() { outcome[i] = results[k] }
            for (i, w) in round.enumerated() { w.done.finish(outcome[i]) }
        }
    }

    /// Writes, starts writeback, fsyncs and renames the files of one round.
    static func commit(_ writes: [Write]) -> [SystemError?] {
        var errors = [SystemError?](repeating: nil, count: writes.count)
        var open = [(fd: Int32, tmp: String)?](repeating: nil, count: writes.count)
        for (i, w) in writes.enumerated() {
            do {
                let file = try FileOps.writeTemporary(for: w.path, w.bytes, mode: w.mode)
                _ = hopper_start_writeback(file.fd)   // an optimisation only: the fsync below is the guarantee
                open[i] = file
            } catch {
                errors[i] = error
            }
        }
        for i in writes.indices {
            guard let (fd, tmp) = open[i] else { continue }
            var failure: SystemError?
            do { try FileOps.fsync(fd, path: tmp) } catch { failure = error }
            Glibc.close(fd)
            if let failure {
                Glibc.unlink(tmp)
                errors[i] = failure
                continue
            }
            do { try FileOps.renameTemporary(tmp, to: writes[i].path) } catch { errors[i] = error }
        }
        return errors
    }
}
