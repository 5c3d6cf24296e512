// Recovery — start-up: finish what a crash interrupted, and make the store agree with the spool.
//
// Runs before the watcher starts, so nothing else touches the spool meanwhile.
//   1. `outbox/.staging/<id>/` with a `manifest.yaml` was committed (see Intake): roll it
//      forward into `outbox/<id>/`. Without one it never was: remove it (the file is still in
//      the inbox and will be examined again).
//   2. Every `outbox/<id>/` must have a readable `status.json`; one that a power cut left empty
//      or torn is written anew (state pending) from its manifest.
//   3. The store is reconciled with the outbox: ids in the outbox but not in the store are
//      indexed from their status.json; ids in the store without an outbox folder are dropped.
//   3a. A group committed but not indexed (a crash between its commit and its store
//      transaction): every child its manifest and sheet copy derive that is missing is
//      created, and the group is indexed with all its children (Intake+Group).
//   4. Temporary files of interrupted atomic writes (`.<name>.tmp`) in `rejected/` are removed.
import HopperCore
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

public struct RecoveryReport: Sendable, Equatable {
    public var rolledForward = 0
    public var discarded = 0
    public var rewrittenStatus = 0
    public var indexed = 0
    public var unindexed = 0
    public var groupsRecovered = 0
}

public enum Recovery {
    /// `catalog` and `settings` rebuild a torn status.json from its manifest as Intake would.
    public static func run(layout: SpoolLayout, store: JobStore, catalog: WorkflowCatalog?, settings: IntakeSettings,
                           logger: Logger) throws -> RecoveryReport {
        var report = RecoveryReport()
        var touched: [String] = []
        for id in try FileOps.listDirectory(layout.staging) {
            let staged = layout.stagingFolder(id)
            let dir = staged.path
            // silent: an unreadable entry is not a swapped-in one; the checks below handle it.
            if let st = try? FileOps.lstat(staged.manifest), (st.st_mode & S_IFMT) != S_IFREG {
                // A crash right after a commit that moved a swapped-in entry (Intake checks and
                // undoes this when it lives): never examined, so it is rejected, not accepted.
                setAsideSwapped(staged.manifest, id: id, layout: layout, logger: logger)
            }
            if FileOps.exists(staged.manifest) && Names.isValid(id) && !FileOps.exists(layout.job(id)) {
                try FileOps.rename(dir, layout.job(id))
                touched.append(id)
                report.rolledForward += 1
                logger.notice("recovery.rolled_forward", metadata: ["job.id": "\(id)"])
            } else {
                try FileOps.removeTree(dir)
                report.discarded += 1
            }
        }
        if report.rolledForward + report.discarded > 0 {
            try FileOps.fsyncDirectory(layout.staging)
            try FileOps.fsyncDirectory(layout.outbox)
        }

        // What is in the outbox, and which of it the store knows: memory follows the outbox
        // (bounded by retention), not the store, which keeps a row for every job ever run.
        var onDisk = Set(try FileOps.listDirectory(layout.outbox).filter { Names.isValid($0) && FileOps.isDirectory(layout.job($0)) })
        var indexed = try store.existing(Array(onDisk))
        var groups = try store.allGroupIDs()
        for id in onDisk.subtracting(indexed).subtracting(groups).sorted() {
            if try recoverGroup(id, layout: layout, store: store, catalog: catalog, settings: settings, logger: logger) {
                report.groupsRecovered += 1
                groups.insert(id)
            }
        }
        if report.groupsRecovered > 0 {
            onDisk = Set(try FileOps.listDirectory(layout.outbox).filter { Names.isValid($0) && FileOps.isDirectory(layout.job($0)) })
            indexed = try store.existing(Array(onDisk))
        }
        onDisk.subtract(groups)
        var records: [JobRecord] = []
        for id in onDisk.subtracting(indexed).union(touched) {
            if let record = try reindex(id: id, layout: layout, catalog: catalog, settings: settings, logger: logger, report: &report) {
                records.append(record)
            }
        }
        // Jobs not finished whose status.json a power cut tore (intake does not fsync it on its
        // own): written anew from the manifest, or the job could never be run.
        var seen = Set(records.map(\.id))
        for job in try store.jobs(inStates: [.pending, .waiting, .queued, .running]) where !seen.contains(job.id) && onDisk.contains(job.id) {
            // silent: an unreadable or torn status.json is exactly what is rewritten below.
            if let bytes = try? FileOps.readFile(layout.status(job.id)), (try? JSON.decode(JobStatus.self, from: bytes)) != nil { continue }
            if let record = try reindex(id: job.id, layout: layout, catalog: catalog, settings: settings, logger: logger, report: &report) {
                records.append(record)
                seen.insert(job.id)
            }
        }
        try store.insert(records)
        report.indexed = records.count
        // Rows of jobs whose outbox entry retention removed stay: they keep the id taken.
        let gone = try store.indexedIDs(notIn: onDisk.union(groups))
        try store.delete(ids: gone)
        report.unindexed = gone.count

        // silent: leftover temporaries are tidied best effort; rejected/ was just created.
        for name in (try? FileOps.listDirectory(layout.rejected)) ?? [] where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            unlink(layout.rejected + "/" + name)
        }
        return report
    }

    /// `outbox/<id>/` is a group not yet indexed: create its missing children, index it with
    /// them. False when it is not a group.
    static func recoverGroup(_ id: String, layout: SpoolLayout, store: JobStore, catalog: WorkflowCatalog?,
                             settings: IntakeSettings, logger: Logger) throws -> Bool {
        let folder = layout.folder(id)
        guard let st = try FileOps.lstat(folder.manifest) else { return false }
        // silent: an unreadable manifest is not recovered as a group; reindex reports it.
        let bytes = (try? FileOps.readFile(folder.manifest, limit: settings.maxManifestSize)) ?? []
        guard case .success(.group(let draft)) = ManifestParser.parse(bytes, fileName: "manifest.yaml", catalog: catalog) else { return false }
        var sheetBytes: [UInt8]?
        if let name = draft.sheetName { sheetBytes = try FileOps.readFile(folder.sheet(name), limit: settings.maxSheetSize + 1) }
        // silent: a torn status.json is made anew below from the manifest's owner and mtime.
        let old = (try? FileOps.readFile(folder.status)).flatMap { try? JSON.decode(GroupStatus.self, from: $0) }
        let owner = old?.owner ?? Accounts.userName(st.st_uid)
        let submitted = old?.submittedAt ?? Timestamp.rfc3339(Double(st.st_mtim.tv_sec))
        let expanded = Intake.expand(draft, sheetBytes: sheetBytes, sheetName: draft.sheetName ?? id + ".yaml",
                                     manifestName: id + ".yaml", groupID: id, catalog: catalog,
                                     defaultWorkflow: nil, maxSize: Int.max)
        guard case .success(let children) = expanded else {
            logger.error("recovery.group_invalid", metadata: ["group.id": "\(id)"])
            return false
        }
        var status = old ?? GroupStatus(id: id, workflow: draft.workflowName, owner: owner, queue: "default", priority: draft.priority,
                                        description: draft.description, samplesheet: draft.sheetName.map { JobFolder.sheetName + "/" + $0 },
                                        after: draft.after, submittedAt: submitted, children: children.map(\.id))
        status.children = children.map(\.id)
        if old == nil { try FileOps.writeAtomically(folder.status, try JSON.pretty(status)) }
        let statuses = try Intake.createChildren(children, of: status, uid: st.st_uid, layout: layout,
                                                 executor: { $0.executor ?? settings.defaultExecutor }, owners: settings.owners)
        try FileOps.syncFileSystem(of: layout.outbox)
        try FileOps.fsyncDirectory(layout.outbox)
        let plans = Plan.encode(children.map { ($0.id, $0.manifest) })
        let record = GroupRecord(id: id, owner: owner, uid: Int64(st.st_uid), queue: status.queue, submittedAt: submitted, size: children.count)
        try store.insertGroup(record, children: statuses.map { JobRecord(status: $0, uid: Int64(st.st_uid)) }, plans: plans)
        logger.notice("group.children_created", metadata: ["group.id": "\(id)", "group.children": "\(children.count)"])
        return true
    }

    /// Moves a non-regular `manifest.yaml` out of staging into `rejected/<id>.yaml` (or
    /// `.2`, …) with its `.error.json`.
    static func setAsideSwapped(_ path: String, id: String, layout: SpoolLayout, logger: Logger) {
        // silent: only EEXIST escapes the closure, and setAside takes the next name on it.
        let placed = try? RejectedFolder(layout).setAside(id + ".yaml", limit: 100) { name, target -> String? in
            let record = Rejection(file: id + ".yaml", reason: "changed while read", diagnostics: [Diagnostic(
                message: "the file was replaced while it was being accepted; drop it again (write a temporary name, then rename)")],
                rejectedAs: name)
            do {
                try FileOps.writeAtomically(target + ".error.json", try JSON.pretty(record))
                try FileOps.renameNoReplace(path, target)
                return name
            } catch let e as SystemError where e.errno == EEXIST {
                unlink(target + ".error.json")
                throw e   // taken meanwhile: the next name
            } catch {
                unlink(target + ".error.json")
                logger.error("recovery.set_aside_failed", metadata: ["job.id": "\(id)", "error": "\(error)"])
                return nil
            }
        }
        if let (_, name) = placed {
            logger.warning("recovery.swapped_rejected", metadata: ["job.id": "\(id)", "rejected.as": "\(name)"])
        }
    }

    /// A store record for `outbox/<id>/`, writing a fresh pending status.json if it is unreadable.
    static func reindex(id: String, layout: SpoolLayout, catalog: WorkflowCatalog?, settings: IntakeSettings,
                        logger: Logger, report: inout RecoveryReport) throws -> JobRecord? {
        let statusPath = layout.status(id)
        guard let st = try FileOps.lstat(layout.manifest(id)) else {
            logger.warning("recovery.no_manifest", metadata: ["job.id": "\(id)"])
            return nil
        }
        // silent: an unreadable status.json is rewritten from the manifest below.
        if let bytes = try? FileOps.readFile(statusPath), let status = try? JSON.decode(JobStatus.self, from: bytes) {
            return JobRecord(status: status, uid: Int64(st.st_uid))
        }
        // A power cut tore status.json: write it anew from the manifest (the queue it came from
        // is not recorded elsewhere, so it becomes "default").
        let owner = Accounts.userName(st.st_uid)
        let submitted = Timestamp.rfc3339(Double(st.st_mtim.tv_sec))
        // silent: an unreadable manifest gives a status without steps, which the runner fails with a reason.
        let bytes = (try? FileOps.readFile(layout.manifest(id), limit: settings.maxManifestSize)) ?? []
        var status: JobStatus
        if case .success(.job(let manifest)) = ManifestParser.parse(bytes, fileName: "manifest.yaml", catalog: catalog) {
            status = JobStatus.pending(id: id, manifest: manifest, owner: owner, queue: "default",
                                       executor: manifest.executor ?? settings.defaultExecutor, submittedAt: submitted)
        } else {
            status = JobStatus(id: id, state: .pending, workflow: nil, owner: owner, queue: "default", priority: 0,
                               description: nil, submittedAt: submitted, steps: [],
                               executor: ExecutorInfo(kind: settings.defaultExecutor))
        }
        try FileOps.writeAtomically(statusPath, try JSON.pretty(status))
        try FileOps.appendLine(layout.events(id), try JSON.line(JobEvent(event: "recovered", state: .pending,
            message: "status.json was unreadable after a crash and was written anew from the manifest")), durable: true)
        report.rewrittenStatus += 1
        logger.warning("recovery.status_rewritten", metadata: ["job.id": "\(id)"])
        return JobRecord(status: status, uid: Int64(st.st_uid))
    }
}
