// Intake+Reject — control requests filed or refused, and files set aside in rejected/ with the
// reason beside them.
import CHopperSys
import HopperCore
import HopperStore
import HopperWatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Intake {
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
        stuck[r.candidate.path] = "rejected (\(r.reason)), but the hopper daemon (user \(Accounts.currentUser)) cannot move it out of the inbox: \(why); the reason is in \(relative(target)).error.json"
        stuckChanged = true
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
