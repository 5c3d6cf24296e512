// Intake — where a dropped file becomes a job (accepted) or is set aside with a reason (rejected).
//
// Postfix's pickup + cleanup in one: for each candidate the watcher reports, examine the file
// without ever blocking or following it, parse and validate it, and move it — by rename(2) — to
// exactly one place.
//
// EXACTLY ONCE. An accepted file's commit point is one rename(2):
//   1. `outbox/.staging/<id>/` is prepared with `status.json` (pending) and `events.jsonl`;
//   2. a batch of 8 or more: the staged files and the manifests are made durable (one syncfs);
//   3. COMMIT: rename `inbox/…/<file>` → `outbox/.staging/<id>/manifest.yaml`;
//   4. rename `outbox/.staging/<id>` → `outbox/<id>`; a smaller batch fsyncs each manifest
//      now (one journal commit that also holds the renames); the directories are fsynced;
//   5. the job is indexed in the store, and only then can it start.
// A crash before 3 leaves the file in the inbox (the staging folder, without manifest.yaml, is
// removed at start-up); a crash after 3 leaves manifest.yaml in staging or the outbox, and
// start-up recovery rolls it forward and indexes it (`Recovery`). The file itself moved, so it
// can never be seen in the inbox again: it cannot be accepted twice.
// A rejected file's commit point is its rename into `rejected/` (RENAME_NOREPLACE), after its
// `.error.json` was written; a crash before leaves it in the inbox to be examined again.
//
// Misplaced and misnamed files (a folder that is not a queue, one nested in a queue; `RUN.YAML`,
// `run.yaml.txt`) are rejected unread, the reason saying where to put them or how to name them.
//
// SECURITY: candidates are lstat'ed first; anything but a regular file (symlink, FIFO, socket,
// device, directory) is renamed aside unopened. Regular files are opened with
// O_NONBLOCK|O_NOFOLLOW|O_NOCTTY and fstat'ed; the inode must be the one lstat saw. Files
// with more than one hard link, over the size limit, or unreadable are rejected.
//
// DIAGNOSTICS: `job.accepted` / `job.rejected` log lines; `rejected/<file>.error.json`.
import CHopperSys
import HopperCore
import HopperStore
import HopperWatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

public struct IntakeSettings: Sendable {
    public var maxManifestSize: Int = 1 << 20
    /// Batches of at least this many accepted files are made durable with one syncfs(2)
    /// instead of an fsync(2) per file.
    public var syncfsThreshold: Int = 8
    public var defaultExecutor: ExecutorKind = .local
    public var queueExecutors: [String: ExecutorKind] = [:]
    /// A queue's default workflow, for manifests that name neither `workflow:` nor `steps:`.
    public var queueWorkflows: [String: String] = [:]
    /// A job with more steps than this is rejected.
    public var maxSteps: Int = 100
    /// run_as: owner — who may own a job, and how its folders are handed over.
    public var owners: OwnerPolicy?
    /// When not empty, only these users may submit jobs.
    public var allowUsers: Set<String> = []
    /// These users may not submit jobs.
    public var denyUsers: Set<String> = []
    public init() {}

    /// Why a job manifest owned by `uid` is refused, or nil.
    func submitterProblem(uid: uid_t) -> String? {
        let name = Accounts.userName(uid)
        if let owners {
            guard FileIdentity.of(uid: uid) != nil else {
                return "the manifest belongs to uid \(uid), which has no account on this host; with run_as: owner a job runs as its manifest's owner"
            }
            if uid < owners.minUID && !allowUsers.contains(name) {
                return "the manifest belongs to \(name) (uid \(uid)); with run_as: owner a job runs as its manifest's owner, and root and system accounts (uid below min_uid \(owners.minUID)) may not submit unless allow_users names them"
            }
        }
        if denyUsers.contains(name) { return "user \(name) may not submit jobs here (deny_users in the daemon's config)" }
        if !allowUsers.isEmpty && !allowUsers.contains(name) {
            return "user \(name) may not submit jobs here (not in allow_users in the daemon's config)"
        }
        return nil
    }
}

/// A job just accepted: what the scheduler needs to queue it.
public struct AcceptedJob: Sendable {
    public var id: String
    public var status: JobStatus
    public var uid: uid_t
    public var manifest: JobManifest
}

/// A control request found in the inbox, examined but not yet honoured or refused.
public struct ControlDrop: Sendable {
    public var candidate: DropCandidate
    public var request: ControlRequest
    public var uid: uid_t
    public var gid: gid_t
}

/// What one batch produced.
public struct IntakeBatch: Sendable {
    public var counts = IntakeCounts()
    public var accepted: [AcceptedJob] = []
    public var controls: [ControlDrop] = []
    /// Every entry rejected but left in the inbox (path → why), when this batch added one.
    public var stuck: [String: String]?
}

public struct IntakeCounts: Sendable, Equatable {
    public var accepted = 0
    public var rejected = 0
    public var vanished = 0
    public var deferred = 0
}

public final class Intake {
    let layout: SpoolLayout
    let store: JobStore
    let catalog: WorkflowCatalog?
    let settings: IntakeSettings
    let logger: Logger
    public private(set) var totals = IntakeCounts()
    /// Entries rejected but not movable out of the inbox (see keepUnmovable): skipped.
    var unmovable = Set<FileKey>()
    /// The same entries by path, with what to do, for the heartbeat's `problems`.
    var stuck: [String: String] = [:]
    var stuckChanged = false

    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    /// syncfs(2) makes the outbox durable only on a local filesystem: on FUSE it returns 0
    /// having done nothing (the FUSE daemon is never asked), on NFS it commits nothing the
    /// server has not. There every manifest is fsynced on its own.
    let syncfsWorks: Bool

    public init(layout: SpoolLayout, store: JobStore, catalog: WorkflowCatalog?, settings: IntakeSettings, logger: Logger) {
        self.layout = layout
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.logger = logger
        let kind = try? FileSystemKind.of(path: layout.outbox)   // silent: unknown counts as local, as the watcher does
        syncfsWorks = !(kind?.isNetwork ?? false)
        if !syncfsWorks {
            FallbackLog.note("syncfs.fsync", "the outbox is on \(kind?.name ?? "?"), where syncfs(2) does not make files durable: each accepted manifest is fsynced on its own")
        }
    }

    struct Accepted {
        let candidate: DropCandidate
        let id: String
        let status: JobStatus
        let uid: uid_t
        let fd: Int32
        let manifest: JobManifest
        var staging: String = ""
    }

    struct Rejected {
        let candidate: DropCandidate
        let reason: String
        let diagnostics: [Diagnostic]
    }

    enum Outcome {
        case vanished
        case accept(Accepted)
        case reject(Rejected)
        case control(ControlDrop)
    }

    /// Handles one batch of candidates: every manifest that still exists ends in exactly one
    /// place; control requests are returned for the scheduler to honour or refuse (then `settle`).
    @discardableResult
    public func process(_ batch: [DropCandidate]) -> IntakeBatch {
        var result = IntakeBatch()
        var counts = IntakeCounts()
        var seenPaths = Set<String>()
        var batchIDs = Set<String>()
        var accepted: [Accepted] = []
        var rejected: [Rejected] = []

        for candidate in batch where seenPaths.insert(candidate.path).inserted {
            switch examine(candidate) {
            case .vanished:
                counts.vanished += 1
            case .reject(let r):
                rejected.append(r)
            case .control(let c):
                result.controls.append(c)
            case .accept(var a):
                if batchIDs.contains(a.id) {
                    Glibc.close(a.fd)
                    rejected.append(duplicate(candidate, id: a.id))
                    continue
                }
                batchIDs.insert(a.id)
                a.staging = layout.staging + "/" + a.id
                accepted.append(a)
            }
        }
        // Ids the store or the outbox already has are duplicates: checked once for the batch.
        if !accepted.isEmpty {
            // A store that fails: the outbox check below still refuses existing ids, and the
            // heartbeat pauses intake after this batch.
            let known = store.logged("existing", logger: logger) { try $0.existing(accepted.map(\.id)) } ?? []
            accepted.removeAll { a in
                if known.contains(a.id) || FileOps.exists(layout.job(a.id)) {
                    Glibc.close(a.fd)
                    rejected.append(duplicate(a.candidate, id: a.id))
                    return true
                }
                return false
            }
        }
        result.accepted = commit(&accepted)
        counts.accepted = result.accepted.count
        counts.deferred = accepted.count - counts.accepted
        counts.rejected = reject(rejected)
        if stuckChanged {
            result.stuck = stuck
            stuckChanged = false
        }
        totals.accepted += counts.accepted
        totals.rejected += counts.rejected
        result.counts = counts
        return result
    }

    // MARK: - Examining one file

    func examine(_ c: DropCandidate) -> Outcome {
        let st: stat
        do {
            guard let s = try FileOps.lstat(c.path) else { return .vanished }
            st = s
            if !unmovable.isEmpty && unmovable.contains(FileKey(s)) { return .vanished }
        } catch {
            return .reject(Rejected(candidate: c, reason: "unreadable", diagnostics: [Diagnostic(message: "cannot examine the file: \(error)")]))
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK:
            return reject(c, "symlink", "the file is a symbolic link; links are never followed: copy the manifest itself into the inbox")
        case S_IFIFO:
            return reject(c, "not a regular file", "the file is a FIFO (named pipe), not a manifest; it was not opened")
        case S_IFSOCK:
            return reject(c, "not a regular file", "the file is a socket, not a manifest")
        case S_IFCHR, S_IFBLK:
            return reject(c, "not a regular file", "the file is a device node, not a manifest; it was not opened")
        case S_IFDIR:
            return reject(c, "not a regular file", "this is a directory named like a manifest; queues are folders whose names do not end in .yaml or .yml")
        default:
            return reject(c, "not a regular file", "the file is not a regular file")
        }
        if let misplaced = c.misplaced {
            return reject(c, "not in an inbox folder", misplaced)
        }
        if case .misnamed(let rename) = DropNames.classify(c.name) {
            let why = c.name.lowercased().hasSuffix(".txt")
                ? "the name ends in .txt (added by an editor, or hidden by Windows)"
                : "manifest names end in .yaml or .yml, in lower case"
            return reject(c, "misnamed manifest", "\(c.name) is not read as a manifest: \(why); rename it to \(rename) and drop it again")
        }
        if st.st_nlink > 1 && !Intake.twinSettles(c, st) {
            return reject(c, "hard link", "the file has \(st.st_nlink) hard links; copy the manifest into the inbox instead of linking it")
        }
        if Int(st.st_size) > settings.maxManifestSize {
            return reject(c, "too large", "the file is \(st.st_size) bytes; manifests are limited to \(settings.maxManifestSize) bytes (max_manifest_size)")
        }
        let fd = Glibc.open(c.path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC)
        if fd < 0 {
            let err = errno
            switch err {
            case ENOENT: return .vanished
            case ELOOP: return reject(c, "symlink", "the file is a symbolic link; links are never followed: copy the manifest itself into the inbox")
            case EACCES, EPERM:
                return reject(c, "unreadable", "the hopper daemon (user \(Accounts.currentUser)) cannot read the file: make it readable, e.g. chmod a+r, or drop it with `hopper submit`")
            default:
                return reject(c, "unreadable", "cannot open the file: \(SystemError("open", path: c.name, errno: err).message)")
            }
        }
        var fst = stat()
        guard fstat(fd, &fst) == 0, (fst.st_mode & S_IFMT) == S_IFREG, fst.st_ino == st.st_ino, fst.st_dev == st.st_dev else {
            Glibc.close(fd)
            return reject(c, "changed while read", "the file was replaced while it was being examined; drop it again (write a temporary name, then rename)")
        }
        let bytes: [UInt8]
        do {
            bytes = try FileOps.readUpTo(fd, limit: settings.maxManifestSize + 1, path: c.name)
        } catch {
            Glibc.close(fd)
            return reject(c, "unreadable", "cannot read the file: \(error.message)")
        }
        if bytes.count > settings.maxManifestSize {
            Glibc.close(fd)
            return reject(c, "too large", "the file is over \(settings.maxManifestSize) bytes (max_manifest_size)")
        }
        let stem = DropNames.stem(of: c.name)
        let parsed = ManifestParser.parse(bytes, fileName: c.name, catalog: catalog,
                                          defaultWorkflow: settings.queueWorkflows[c.queue ?? "default"])
        switch parsed {
        case .failure(let err):
            Glibc.close(fd)
            var diags = err.diagnostics
            if let problem = Names.jobIDProblem(stem) { diags.insert(Diagnostic(message: problem), at: 0) }
            return .reject(Rejected(candidate: c, reason: err.reason, diagnostics: diags))
        case .success(.control(let request)):
            Glibc.close(fd)
            return .control(ControlDrop(candidate: c, request: request, uid: st.st_uid, gid: st.st_gid))
        case .success(.job(let manifest)):
            if manifest.resolvedSteps.count > settings.maxSteps {
                Glibc.close(fd)
                return reject(c, "too many steps", "the job has \(manifest.resolvedSteps.count) steps; this daemon runs at most \(settings.maxSteps) per job (max_steps)")
            }
            if let problem = settings.submitterProblem(uid: st.st_uid) {
                Glibc.close(fd)
                return reject(c, "submitter not allowed", problem)
            }
            if let problem = Names.jobIDProblem(stem) {
                Glibc.close(fd)
                return reject(c, "invalid job id", "\(problem); the job id is the file name without .yaml")
            }
            let queue = c.queue ?? "default"
            let status = JobStatus.pending(
                id: stem, manifest: manifest, owner: Accounts.userName(st.st_uid), queue: queue,
                executor: executor(for: manifest, queue: queue), submittedAt: Timestamp.rfc3339())
            return .accept(Accepted(candidate: c, id: stem, status: status, uid: st.st_uid, fd: fd, manifest: manifest))
        }
    }

    /// The manifest's executor, else its queue's, else the config's.
    func executor(for manifest: JobManifest, queue: String) -> ExecutorKind {
        manifest.executor ?? settings.queueExecutors[queue] ?? settings.defaultExecutor
    }

    func reject(_ c: DropCandidate, _ reason: String, _ message: String) -> Outcome {
        .reject(Rejected(candidate: c, reason: reason, diagnostics: [Diagnostic(message: message)]))
    }

    func duplicate(_ c: DropCandidate, id: String) -> Rejected {
        Rejected(candidate: c, reason: "duplicate job id", diagnostics: [Diagnostic(
            message: "job \(id) already exists (outbox/\(id)); a manifest is never run twice: drop it under a new name, or use `hopper submit --id NEW`")])
    }
}
