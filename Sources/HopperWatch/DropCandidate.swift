// DropCandidate — a name in an inbox folder that may be a dropped manifest.
//
// The watcher only says "look at this path"; intake decides (it lstat()s, opens with
// O_NOFOLLOW|O_NONBLOCK, checks size and id, accepts or rejects). A candidate may be emitted
// more than once, and may have vanished by the time it is looked at: both are normal.

public struct DropCandidate: Sendable, Hashable, CustomStringConvertible {
    public enum Cause: String, Sendable, Hashable {
        /// An inotify event said the file is complete (closed after writing, renamed in) or
        /// that the entry is not a regular file (rejected at once, never opened).
        case event
        /// A scan found it, and it kept its size, mtime and inode across the settle interval.
        case scan
    }

    /// Absolute path of the entry: `folder + "/" + name`.
    public var path: String
    /// Absolute path of the inbox folder it is in.
    public var folder: String
    /// The queue (`inbox/<queue>/`), or nil for the inbox root.
    public var queue: String?
    /// The entry's name, e.g. `S001-qc.yaml`.
    public var name: String
    public var cause: Cause
    /// Set when the folder is not one manifests are taken from (a sub-folder whose name is not
    /// a valid queue name, or one nested inside a queue): why, and what to do. Intake rejects
    /// such a file with this reason, unread.
    public var misplaced: String?

    public init(folder: String, queue: String?, name: String, cause: Cause, misplaced: String? = nil) {
        self.misplaced = misplaced
        self.path = folder == "/" ? "/" + name : folder + "/" + name
        self.folder = folder
        self.queue = queue
        self.name = name
        self.cause = cause
    }

    public var description: String { "\(path) (\(cause.rawValue))" }
}
