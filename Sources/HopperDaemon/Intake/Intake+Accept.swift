// Intake+Accept — how examined files become jobs: staged, made durable, committed by rename,
// indexed (the EXACTLY ONCE steps in Intake.swift's header).
import CHopperSys
import HopperCore
import HopperStore
import HopperWatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Intake {
    // MARK: - Accepting

    /// Stages, makes durable, commits by rename, indexes. Returns the committed jobs.
    func commit(_ jobs: inout [Accepted]) -> [AcceptedJob] {
        committedFiles = 0
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
                if let plan = job.group {
                    try stageGroup(job, plan)
                    ready.append(job)
                    continue
                }
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
        committedFiles = committed.count
        let groups = committed.filter { $0.group != nil }
        committed.removeAll { $0.group != nil }
        var children: [AcceptedJob] = []
        for job in groups {
            if let plan = job.group { children += finishGroup(job, plan) }
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
        return committed.map { AcceptedJob(id: $0.id, status: $0.status, uid: $0.uid, manifest: $0.manifest) } + children
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
}
