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
    public var defaultExecutor: String = "local"
    public var queueExecutors: [String: String] = [:]
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
    func executor(for manifest: JobManifest, queue: String) -> String {
        manifest.executor?.rawValue ?? settings.queueExecutors[queue] ?? settings.defaultExecutor
    }

    func reject(_ c: DropCandidate, _ reason: String, _ message: String) -> Outcome {
        .reject(Rejected(candidate: c, reason: reason, diagnostics: [Diagnostic(message: message)]))
    }

    func duplicate(_ c: DropCandidate, id: String) -> Rejected {
        Rejected(candidate: c, reason: "duplicate job id", diagnostics: [Diagnostic(
            message: "job \(id) already exists (outbox/\(id)); a manifest is never run twice: drop it under a new name, or use `hopper submit --id NEW`")])
    }

    // MARK: - Accepting

    /// Stages, makes durable, commits by rename, indexes. Returns the committed jobs.
    func commit(_ jobs: inout [Accepted]) -> [AcceptedJob] {
        guard !jobs.isEmpty else { return [] }
        let bulk = jobs.count >= settings.syncfsThreshold && syncfsWorks
        var ready: [Accepted] = []
        for job in jobs {
            do {
                try FileOps.removeTree(job.staging)
                try FileOps.makeDirectory(job.staging, mode: 0o755)
                let accepted = JobEvent(time: job.status.submittedAt, event: "accepted", state: .pending,
                                        message: "accepted from \(relative(job.candidate.path)) (owner \(job.status.owner))")
                // Not fsynced on their own: what must survive a power cut is the manifest (its
                // fsync below, or the batch's syncfs) and the renames (directory fsyncs). A
                // status.json torn by a power cut is written anew from the manifest at start-up
                // (Recovery), so two journal commits per accepted file are saved.
                let staged = JobFolder(id: job.id, path: job.staging)
                try FileOps.writeNew(staged.status, try JSON.pretty(job.status))
                try FileOps.writeNew(staged.events, try JSON.line(accepted))
                try FileOps.makeDirectory(staged.logs)
                if let owners = settings.owners { try owners.handOver(job.staging, to: job.uid, paths: [staged.status, staged.events, staged.logs]) }
                ready.append(job)
            } catch {
                logger.error("job.stage_failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                Glibc.close(job.fd)
                try? FileOps.removeTree(job.staging)   // silent: recovery removes a staging folder without manifest.yaml
            }
        }
        if bulk {
            do { try FileOps.syncFileSystem(of: layout.outbox) } catch {
                logger.error("intake.syncfs_failed", metadata: ["error": "\(error)"])
                // silent: recovery removes staging folders without manifest.yaml.
                for job in ready { Glibc.close(job.fd); try? FileOps.removeTree(job.staging) }
                return []
            }
        }
        var committed: [Accepted] = []
        var folders = Set<String>()
        for job in ready {
            let committedPath = JobFolder(id: job.id, path: job.staging).manifest
            do {
                try FileOps.rename(job.candidate.path, committedPath)   // COMMIT
            } catch {
                Glibc.close(job.fd)
                if error.errno != ENOENT {
                    logger.error("job.commit_failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                }
                try? FileOps.removeTree(job.staging)   // silent: recovery removes a staging folder without manifest.yaml
                continue
            }
            if !Intake.isSameRegularFile(job.fd, committedPath) {
                // The name was given to another entry (e.g. a symlink renamed over it) after the
                // file was examined: what was examined is gone, what moved was never examined.
                Glibc.close(job.fd)
                undoSwappedCommit(job, committedPath)
                continue
            }
            folders.insert(job.candidate.folder)
            do {
                try FileOps.rename(job.staging, layout.job(job.id))
            } catch {
                // Committed all the same: recovery finishes the move at the next start.
                logger.error("job.publish_failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
            }
            committed.append(job)
        }
        // A small batch: each manifest is fsynced now, after its renames (a bulk batch's
        // syncfs above made them durable before). On a journalled filesystem this one fsync
        // also commits the renames, so the directory fsyncs below find nothing left to commit:
        // one disk commit per accepted file instead of two. Should the machine stop between
        // a rename and this fsync, the manifest can be in the outbox with bytes its dropper
        // never made durable; Recovery then fails that job with a reason (`hopper submit`
        // fsyncs before it drops, so its manifests cannot be caught so).
        for job in committed {
            if !bulk {
                do { try FileOps.fsync(job.fd, path: job.candidate.name) } catch {
                    logger.error("intake.fsync_failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                }
            }
            Glibc.close(job.fd)
        }
        folders.insert(layout.staging)
        folders.insert(layout.outbox)
        for folder in folders.sorted() {
            do { try FileOps.fsyncDirectory(folder) } catch {
                logger.error("intake.fsync_failed", metadata: ["path": "\(folder)", "error": "\(error)"])
            }
        }
        do {
            var plans: [String: String] = [:]
            for job in committed { plans[job.id] = Plan.encode(job.manifest) }
            try store.insert(committed.map { JobRecord(status: $0.status, uid: Int64($0.uid)) }, plans: plans)
        } catch {
            // The outbox holds the jobs; the store is reconciled with it at the next start.
            logger.error("store.insert_failed", metadata: ["error": "\(error)"])
        }
        for job in committed {
            logger.info("job.accepted", metadata: [
                "job.id": "\(job.id)", "job.queue": "\(job.status.queue)", "job.owner": "\(job.status.owner)",
                "job.workflow": "\(job.status.workflow ?? "-")",
            ])
        }
        return committed.map { AcceptedJob(id: $0.id, status: $0.status, uid: $0.uid, manifest: $0.manifest) }
    }

    /// A drop on NFS, SMB or FUSE, where rename without replacing is link(2) then unlink(2)
    /// (`hopper submit`, FileOps.renameNoReplace), has two names for a moment — the file and
    /// its `.NAME.tmp` — and a client's attribute cache (FUSE's attr_timeout, NFS's acregmin)
    /// can show two links for a while after. A link made within the last 2 s is watched until
    /// the temporary name has gone and a fresh look shows one link (open(2) revalidates
    /// attributes on NFS): true then. An older second link is the dropper's doing: rejected.
    static func twinSettles(_ c: DropCandidate, _ st: stat) -> Bool {
        let twin = c.folder + "/." + c.name + ".tmp"
        let deadline = Timestamp.now() + 3
        while Timestamp.now() < deadline {
            var t = stat()
            let twinThere = Glibc.lstat(twin, &t) == 0 && t.st_ino == st.st_ino && t.st_dev == st.st_dev
            if !twinThere {
                var now = stat()
                let fd = Glibc.open(c.path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC)
                let looked = fd >= 0 ? fstat(fd, &now) : Glibc.lstat(c.path, &now)
                if fd >= 0 { Glibc.close(fd) }
                guard looked == 0, now.st_ino == st.st_ino, now.st_dev == st.st_dev else { return false }
                if now.st_nlink == 1 { return true }
                let changed = Double(now.st_ctim.tv_sec) + Double(now.st_ctim.tv_nsec) / 1e9
                if Timestamp.now() - changed > 2 { return false }
            }
            usleep(5_000)
        }
        return false
    }

    /// True when `path` (not followed) is the regular file open as `fd`: same device and inode.
    static func isSameRegularFile(_ fd: Int32, _ path: String) -> Bool {
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0, lstat(path, &named) == 0 else { return false }
        return (named.st_mode & S_IFMT) == S_IFREG && named.st_ino == open.st_ino && named.st_dev == open.st_dev
    }

    /// A commit moved an entry that was swapped in after examination: put it back under its
    /// name to be examined like any drop (or, if the name is taken again, reject it), and
    /// discard the staging folder. The examined file itself was replaced by its owner.
    func undoSwappedCommit(_ job: Accepted, _ committedPath: String) {
        logger.warning("job.swapped", metadata: ["job.id": "\(job.id)", "file": "\(relative(job.candidate.path))"])
        do {
            try FileOps.renameNoReplace(committedPath, job.candidate.path)
            try? FileOps.fsyncDirectory(job.candidate.folder)   // silent: lost to a power cut, the file is just examined again
        } catch {
            var moved = job.candidate
            moved.path = committedPath
            _ = reject([Rejected(candidate: moved, reason: "changed while read", diagnostics: [Diagnostic(
                message: "the file was replaced while it was being accepted; drop it again (write a temporary name, then rename)")])])
        }
        try? FileOps.removeTree(job.staging)   // silent: recovery removes a staging folder without manifest.yaml
    }

    // MARK: - Control requests

    /// Moves an honoured request to `outbox/<job>/requests/`, or a refused one to `rejected/`.
    public func settle(_ drop: ControlDrop, refusal: String?) {
        if let refusal {
            _ = reject([Rejected(candidate: drop.candidate, reason: "request refused", diagnostics: [Diagnostic(message: refusal)])])
            return
        }
        let folder = layout.folder(drop.request.job)
        do {
            try folder.fileRequest(from: drop.candidate.path, name: drop.candidate.name)
            try? FileOps.fsyncDirectory(drop.candidate.folder)   // silent, best effort: a request lost to a power cut was carried out all the same
        } catch {
            switch error {
            case .requestsFolder(let cause):
                _ = reject([Rejected(candidate: drop.candidate, reason: "request not filed",
                                     diagnostics: [Diagnostic(message: "the request was carried out, but \(folder.requests) is not a folder it can be filed in: \(cause)")])])
            case .jobFolder(let cause), .move(let cause):
                logger.error("request.move_failed", metadata: ["file": "\(drop.candidate.path)", "error": "\(cause)"])
            }
        }
    }

    // MARK: - Rejecting

    /// Writes each `.error.json`, then renames the file beside it. Returns how many moved.
    func reject(_ files: [Rejected]) -> Int {
        guard !files.isEmpty else { return 0 }
        var moved = 0
        var folders: Set<String> = [layout.rejected]
        for r in files {
            if let name = moveAside(r) {
                moved += 1
                folders.insert(r.candidate.folder)
                logger.notice("job.rejected", metadata: [
                    "file": "\(relative(r.candidate.path))", "rejected.as": "\(name)", "reason": "\(r.reason)",
                    "error": "\(r.diagnostics.first.map { $0.formatted(file: r.candidate.name) } ?? "")",
                ])
            }
        }
        for folder in folders.sorted() {
            try? FileOps.fsyncDirectory(folder)   // silent: lost to a power cut, a rejected file is examined and rejected again
        }
        return moved
    }

    /// `rejected/<file>`, or `<file>.2`, `<file>.3`, … when that name is taken. Nil if the file vanished.
    func moveAside(_ r: Rejected) -> String? {
        let base = r.candidate.name
        // silent: only EEXIST escapes the closure, and setAside takes the next name on it.
        let placed = try? RejectedFolder(layout).setAside(base) { name, target -> String? in
            let record = Rejection(file: base, reason: r.reason, diagnostics: r.diagnostics,
                                   source: relative(r.candidate.path), rejectedAs: name)
            // Running as root: the file and its error are its submitter's alone (mode 0600).
            // silent: a file that vanished is seen by the rename below (ENOENT).
            let owner: uid_t? = geteuid() == 0 ? (try? FileOps.lstat(r.candidate.path)).flatMap { $0 }.map(\.st_uid) : nil
            do {
                try FileOps.writeAtomically(target + ".error.json", try JSON.pretty(record), mode: owner == nil ? 0o644 : 0o600, durable: false)
                if let owner { chown(target + ".error.json", owner, gid_t.max) }
                try FileOps.renameNoReplace(r.candidate.path, target)
                // silent: mode 0600 protects the content; a file gone meanwhile has nothing to protect.
                if owner != nil, let st = try? FileOps.lstat(target), (st.st_mode & S_IFMT) == S_IFREG {
                    chmod(target, 0o600)
                }
                return name
            } catch let e as SystemError where e.errno == EEXIST {
                throw e   // taken meanwhile: the next name
            } catch let e as SystemError where e.errno == ENOENT {
                unlink(target + ".error.json")
                return nil
            } catch let e as SystemError where e.errno == EACCES || e.errno == EPERM {
                return keepUnmovable(r, name: name, target: target, record: record, cause: e)
            } catch {
                logger.error("job.reject_failed", metadata: ["file": "\(r.candidate.path)", "error": "\(error)"])
                unlink(target + ".error.json")
                return nil
            }
        }
        return placed?.0
    }

    /// The entry cannot be renamed out of the inbox by this daemon's user (a directory
    /// needs write permission on itself to move; a queue folder may not be writable): its
    /// `.error.json` stays in rejected/ saying so, and it is not looked at again (by inode)
    /// until the daemon restarts, so the reason is written and logged once.
    func keepUnmovable(_ r: Rejected, name: String, target: String, record: Rejection, cause: SystemError) -> String? {
        guard FileOps.exists(target + ".error.json") else {
            // rejected/ itself refused the .error.json: nothing was set aside; retried later.
            logger.error("job.reject_failed", metadata: ["file": "\(r.candidate.path)", "error": "\(cause)"])
            return nil
        }
        guard let st = try? FileOps.lstat(r.candidate.path) else {   // silent: gone means nothing is left to explain
            unlink(target + ".error.json")
            return nil
        }
        unmovable.insert(FileKey(st))
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        let why = isDirectory
            ? "moving a directory needs write permission on the directory itself; remove it (rmdir)"
            : "\(cause.message); remove it"
        var kept = record
        kept.errors.append(Rejection.Entry(Diagnostic(
            message: "the hopper daemon (user \(Accounts.currentUser)) cannot move it out of the inbox: \(why)")))
        do { try FileOps.writeAtomically(target + ".error.json", try JSON.pretty(kept), durable: false) } catch {
            logger.error("job.reject_explain_failed", metadata: ["file": "\(r.candidate.path)", "error": "\(error)"])
        }
        logger.warning("job.reject_unmovable", metadata: ["file": "\(relative(r.candidate.path))", "error": "\(cause)"])
        return name
    }

    func relative(_ path: String) -> String {
        path.hasPrefix(layout.root + "/") ? String(path.dropFirst(layout.root.count + 1)) : path
    }
}

/// run_as: owner — a job's outbox folder and workspace belong to its owner.
public struct OwnerPolicy: Sendable {
    /// Manifests of accounts below this uid are refused unless allow_users names them.
    public var minUID: uid_t
    /// Mode of the job's folders (0700: the owner alone).
    public var mode: mode_t
    /// Group of the job's folders; nil: the owner's primary group.
    public var group: gid_t?

    public init(minUID: uid_t, mode: mode_t, group: gid_t?) {
        self.minUID = minUID; self.mode = mode; self.group = group
    }

    /// Gives `folder` (and the named entries in it) to `uid`, with `mode` on the folder. Done by
    /// root on a folder only root could write until now, so nothing in it can be a trap.
    public func handOver(_ folder: String, to uid: uid_t, paths: [String] = []) throws {
        let gid = group ?? FileIdentity.of(uid: uid)?.gid ?? gid_t(uid)
        for path in paths where lchown(path, uid, gid) != 0 { throw SystemError("lchown", path: path) }
        if lchown(folder, uid, gid) != 0 { throw SystemError("lchown", path: folder) }
        if chmod(folder, mode) != 0 { throw SystemError("chmod", path: folder) }
    }
}
