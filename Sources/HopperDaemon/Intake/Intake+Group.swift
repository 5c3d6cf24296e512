// Intake+Group — a manifest with `foreach:` becomes a group: accepted whole or rejected whole.
//
// ATOMIC GROUPS. The group's commit point is the same single rename as a job's: the dropped
// file into `outbox/.staging/<group>/manifest.yaml`, after the group's `status.json`,
// `events.jsonl` and the copy of its sample sheet (`sheet/<name>`, fsynced) were written there.
// The children are created after the commit, each in `outbox/.staging/<child>/` renamed into
// the outbox, and indexed with the group in one store transaction. Their derivation is a pure
// function of the manifest and the sheet's copy (GroupExpansion), so after a SIGKILL at any
// instant recovery derives the same children: before the commit none exist and the file is
// still in the inbox; after it, every missing child is created (`Recovery`, `recoverGroups`).
//
// DIAGNOSTICS: `group.accepted` (with `group.children`), `group.children_created` at recovery.
import Dispatch
import HopperCore
import HopperStore
import HopperWatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A group's plans, encoded on another thread.
final class PlanBox: Sendable {
    let plans = Mutex<[String: String]>([:])
}

/// What a group brings to its acceptance beyond a job's: its children and its sheet.
struct GroupPlan {
    var draft: GroupDraft
    var children: [GroupChild]
    var sheetBytes: [UInt8]?
    var sheetName: String?
    var status: GroupStatus
}

extension Intake {
    /// A group's examination: read its sheet, expand it, validate every row.
    func examineGroup(_ c: DropCandidate, _ draft: GroupDraft, st: stat, fd: Int32, stem: String) -> Outcome {
        if let problem = Names.jobIDProblem(stem) {
            Glibc.close(fd)
            return reject(c, "invalid job id", "\(problem); the group id is the file name without .yaml")
        }
        if let problem = settings.submitterProblem(uid: st.st_uid) {
            Glibc.close(fd)
            return reject(c, "submitter not allowed", problem)
        }
        var sheetBytes: [UInt8]?
        let sheetName = draft.sheetName ?? c.name
        if let path = draft.foreach.samplesheet {
            let resolved = FileOps.resolve(path, against: layout.root)
            do {
                sheetBytes = try FileOps.readFile(resolved, limit: settings.maxSheetSize + 1)
            } catch {
                Glibc.close(fd)
                return reject(c, "invalid group", "foreach.samplesheet: cannot read \(path): \(error.message)")
            }
            if (sheetBytes?.count ?? 0) > settings.maxSheetSize {
                Glibc.close(fd)
                return reject(c, "invalid group", "foreach.samplesheet: \(path) is over \(settings.maxSheetSize) bytes")
            }
        }
        let expanded = Intake.expand(draft, sheetBytes: sheetBytes, sheetName: sheetName, manifestName: c.name, groupID: stem,
                                     catalog: catalog, defaultWorkflow: settings.queueWorkflows[c.queue ?? "default"],
                                     maxSize: settings.maxGroupSize)
        let children: [GroupChild]
        switch expanded {
        case .failure(let err):
            Glibc.close(fd)
            return .reject(Rejected(candidate: c, reason: err.reason, diagnostics: err.diagnostics))
        case .success(let list):
            children = list
        }
        if let steps = children.map({ $0.manifest.resolvedSteps.count }).max(), steps > settings.maxSteps {
            Glibc.close(fd)
            return reject(c, "too many steps", "each job of the group has \(steps) steps; this daemon runs at most \(settings.maxSteps) per job (max_steps)")
        }
        let queue = c.queue ?? "default"
        let owner = Accounts.userName(st.st_uid)
        let now = Timestamp.rfc3339()
        let status = GroupStatus(id: stem, workflow: draft.workflowName, owner: owner, queue: queue, priority: draft.priority,
                                 description: draft.description,
                                 samplesheet: draft.sheetName.map { JobFolder.sheetName + "/" + $0 },
                                 after: draft.after, submittedAt: now, children: children.map(\.id))
        // The group's own "job" status is never written: it stands for the queue, owner and time.
        var first = JobStatus(id: stem, state: .pending, workflow: draft.workflowName, owner: owner, queue: queue,
                              priority: draft.priority, description: draft.description, submittedAt: now, steps: [],
                              executor: ExecutorInfo(kind: settings.defaultExecutor))
        first.group = stem
        let manifest = JobManifest(resolvedSteps: [], priority: draft.priority)
        var accepted = Accepted(candidate: c, id: stem, status: first, uid: st.st_uid, fd: fd, manifest: manifest)
        accepted.group = GroupPlan(draft: draft, children: children, sheetBytes: sheetBytes, sheetName: draft.sheetName, status: status)
        return .accept(accepted)
    }

    static func expand(_ draft: GroupDraft, sheetBytes: [UInt8]?, sheetName: String, manifestName: String, groupID: String,
                       catalog: WorkflowCatalog?, defaultWorkflow: String?, maxSize: Int) -> Result<[GroupChild], ManifestError> {
        let table: SheetTable
        switch draft.table(sheetBytes: sheetBytes, sheetName: sheetName) {
        case .failure(let err): return .failure(ManifestError(file: manifestName, reason: "invalid group", diagnostics: err.diagnostics))
        case .success(let t): table = t
        }
        return GroupExpansion.expand(draft, table: table, sheetName: sheetName, manifestName: manifestName, groupID: groupID,
                                     catalog: catalog, defaultWorkflow: defaultWorkflow, maxSize: maxSize)
    }

    /// Staged before the commit: the group's status, events and the copy of its sheet (fsynced:
    /// recovery derives the children from it).
    func stageGroup(_ job: Accepted, _ plan: GroupPlan) throws {
        let staged = JobFolder(id: job.id, path: job.staging)
        let event = JobEvent(time: plan.status.submittedAt, event: "accepted", state: .pending,
                             message: "group of \(plan.children.count) jobs accepted from \(relative(job.candidate.path)) (owner \(plan.status.owner))")
        try FileOps.writeNew(staged.status, try JSON.pretty(plan.status))
        try FileOps.writeNew(staged.events, try JSON.line(event))
        if let bytes = plan.sheetBytes, let name = plan.sheetName {
            try FileOps.makeDirectory(staged.sheetFolder)
            try FileOps.writeAtomically(staged.sheet(name), bytes)
            try FileOps.fsyncDirectory(staged.sheetFolder)
        }
        if let owners = settings.owners { try owners.handOver(job.staging, to: job.uid, paths: [staged.status, staged.events]) }
    }

    /// Creates the children of a committed group (each staged, then renamed into the outbox);
    /// children already in the outbox are left as they are. Returns the statuses of all.
    /// Made by up to 4 threads (each child's folder is its own: no two touch the same one),
    /// since the file creations, not the CPU, are what 10,000 children cost.
    static func createChildren(_ children: [GroupChild], of group: GroupStatus, uid: uid_t, layout: SpoolLayout,
                               executor: (JobManifest) -> ExecutorKind, owners: OwnerPolicy?) throws -> [JobStatus] {
        let statuses = children.map { child in
            JobStatus.pending(id: child.id, manifest: child.manifest, owner: group.owner, queue: group.queue,
                              executor: executor(child.manifest), submittedAt: group.submittedAt)
        }
        let event = try JSON.line(JobEvent(time: group.submittedAt, event: "accepted", state: .pending,
                                           message: "accepted as a job of group \(group.id) (owner \(group.owner))"))
        let slices = children.count >= 400 ? 4 : 1
        let failures = Mutex<[any Error]>([])
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            var template = ChildTemplate()
            do {
                for i in stride(from: slice, to: children.count, by: slices) {
                    try makeChild(children[i], statuses[i], event: event, template: &template, uid: uid, layout: layout, owners: owners)
                }
            } catch {
                failures.withLock { $0.append(error) }
            }
        }
        if let first = failures.withLock({ $0.first }) { throw first }
        return statuses
    }

    static func makeChild(_ child: GroupChild, _ status: JobStatus, event: [UInt8], template: inout ChildTemplate, uid: uid_t,
                          layout: SpoolLayout, owners: OwnerPolicy?) throws {
        if FileOps.exists(layout.manifest(child.id)) { return }
        try FileOps.removeTree(layout.job(child.id))   // a folder without manifest.yaml was never finished
        let staging = layout.stagingFolder(child.id)
        try FileOps.removeTree(staging.path)
        try FileOps.makeDirectory(staging.path, mode: 0o755)
        try FileOps.writeNew(staging.status, try template.bytes(status))
        try FileOps.writeNew(staging.events, event)
        // No `logs/` yet: the job makes it when it starts. A directory is the costliest inode
        // to allocate (ext4's Orlov search, a block of its own): 10,000 rows were accepted in
        // 2.08 s with it, 1.75 s without (medians of 3, fresh ext4 image, docs/benchmarks.md).
        try FileOps.writeNew(staging.manifest, Array(YAMLEmitter.emit(child.node).utf8))
        if let owners { try owners.handOver(staging.path, to: uid, paths: [staging.status, staging.events, staging.manifest]) }
        try FileOps.rename(staging.path, layout.job(child.id))
    }

    /// The children of a group have the same status.json but for their id (same steps,
    /// owner, queue, executor): it is encoded once with a marker for the id, and each child's
    /// is that with its id put in (ids need no JSON escaping). A child that differs (its own
    /// executor) is encoded on its own.
    struct ChildTemplate {
        static let marker = "HOPPER-CHILD-ID-MARKER"
        var parts: [[UInt8]]?
        var shape: JobStatus?

        mutating func bytes(_ status: JobStatus) throws -> [UInt8] {
            var blank = status
            blank.id = ChildTemplate.marker
            if shape == nil {
                shape = blank
                parts = split(try JSON.pretty(blank))
            }
            guard blank == shape, let parts else { return try JSON.pretty(status) }
            let id = Array(status.id.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(parts.reduce(0) { $0 + $1.count } + id.count * (parts.count - 1))
            for (i, part) in parts.enumerated() {
                if i > 0 { out += id }
                out += part
            }
            return out
        }

        func split(_ bytes: [UInt8]) -> [[UInt8]] {
            let mark = Array(ChildTemplate.marker.utf8)
            var parts: [[UInt8]] = []
            var start = 0
            var i = 0
            while i + mark.count <= bytes.count {
                if bytes[i] == mark[0] && Array(bytes[i..<(i + mark.count)]) == mark {
                    parts.append(Array(bytes[start..<i]))
                    i += mark.count
                    start = i
                } else {
                    i += 1
                }
            }
            parts.append(Array(bytes[start...]))
            return parts
        }
    }

    /// After the commit: the children exist, made durable, then the group and its children
    /// are indexed in one transaction. Returns the children as accepted jobs.
    func finishGroup(_ job: Accepted, _ plan: GroupPlan) -> [AcceptedJob] {
        // The plans (JSON) are encoded on another thread while the folders are made and synced.
        let encoded = PlanBox()
        let encoding = DispatchGroup()
        let manifests = plan.children.map { ($0.id, $0.manifest) }
        DispatchQueue.global().async(group: encoding) {
            let plans = Plan.encode(manifests)
            encoded.plans.withLock { $0 = plans }
        }
        defer { encoding.wait() }
        let statuses: [JobStatus]
        do {
            statuses = try Intake.createChildren(plan.children, of: plan.status, uid: job.uid, layout: layout,
                                                 executor: { self.executor(for: $0, queue: plan.status.queue) }, owners: settings.owners)
        } catch {
            // Committed all the same: recovery creates the missing children at the next start.
            logger.error("group.children_failed", metadata: ["group.id": "\(job.id)", "error": "\(error)"])
            return []
        }
        if syncfsWorks {
            do { try FileOps.syncFileSystem(of: layout.outbox) } catch {
                logger.error("intake.syncfs_failed", metadata: ["error": "\(error)"])
            }
        }
        for folder in [layout.staging, layout.outbox] {
            do { try FileOps.fsyncDirectory(folder) } catch {
                logger.error("intake.fsync_failed", metadata: ["path": "\(folder)", "error": "\(error)"])
            }
        }
        encoding.wait()
        let plans = encoded.plans.withLock { $0 }
        let record = GroupRecord(id: job.id, owner: plan.status.owner, uid: Int64(job.uid), queue: plan.status.queue,
                                 submittedAt: plan.status.submittedAt, size: plan.children.count)
        do {
            try store.insertGroup(record, children: statuses.map { JobRecord(status: $0, uid: Int64(job.uid)) }, plans: plans)
        } catch {
            logger.error("store.insert_failed", metadata: ["group.id": "\(job.id)", "error": "\(error)"])
        }
        logger.info("group.accepted", metadata: ["group.id": "\(job.id)", "group.children": "\(plan.children.count)",
                                                 "job.owner": "\(plan.status.owner)"])
        return zip(plan.children, statuses).map { child, status in
            AcceptedJob(id: child.id, status: status, uid: job.uid, manifest: child.manifest)
        }
    }
}
