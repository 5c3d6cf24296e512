// SlurmArrays — the children of a group that reach the same step together go to SLURM as one
// job array: one `sbatch --array=0-<n-1>[%throttle]` instead of n submissions.
//
// A child's attempt that is about to be submitted joins the batch of its (group, step, sbatch
// options, user); the batch is submitted once no child has joined for `slurm.array_window`
// (at most ten windows after the first joined). A batch of one is an ordinary submission.
// Everything else stays per child: each child has its own attempt files (argv, batch script,
// intent, id, start and exit records, SlurmBatchScript), its own environment (written to
// `.hopper/<step>.<attempt>.slurm-env` and loaded by its script, never pasted into script
// text), its own log and exit code. Task i of the array runs child i's batch script in child
// i's workspace; its SLURM id is `<array job id>_<i>`, which scancel, squeue and sacct take,
// and its comment `<array comment>/<i>` is what the poller follows it by (SlurmJobInfo.key).
//
// The array's own files live in `runs/.slurm-arrays/<group>.<step>.<serial>/`: `array.sh`
// (picks the task's line of `tasks`), `tasks` (workspace and attempt base per task,
// NUL-separated) and `<i>.log`, a symlink to child i's log, so SLURM's own lines about a task
// (`--output=…/%a.log`) reach the child's log. The folder goes when every task has returned;
// after a daemon restart, the retention pass removes folders none of whose tasks need them.
//
// Never submitted twice: each child's intent (naming its task's comment) is written and fsynced
// before the one sbatch, each child's id at once after it; a restarted daemon re-adopts every
// child on its own (SlurmExecutor.run), as it does a single submission.
import HopperCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One child's attempt waiting to be part of an array.
struct ArrayMember: Sendable {
    let launch: StepLaunch
    let files: SlurmAttemptFiles
    let argv: [String]
    let update: @Sendable (SlurmUpdate) async -> Void
}

/// What became of a child's attempt in its batch.
enum ArrayJoin: Sendable {
    /// Task of an array: its id (`<array>_<i>`), its poller key, its array's folder.
    case submitted(id: String, mark: String, folder: String)
    /// The batch held only this child: submit it on its own.
    case single
    case failed(StepOutcome)
}

struct ArrayBatchKey: Hashable, Sendable {
    var group: String
    var step: String
    var options: [String]
    var uid: UInt32?
}

/// Collects children into batches and hands each full batch to `submit`.
actor SlurmArrayBatcher {
    struct Waiting {
        let serial: Int
        let member: ArrayMember
        let continuation: CheckedContinuation<ArrayJoin, Never>
    }
    typealias Submit = @Sendable (ArrayBatchKey, [ArrayMember]) async -> [ArrayJoin]
    struct Batch {
        var members: [Waiting] = []
        let opened: Double
        var last: Double
        let submit: Submit
    }

    let window: Double
    private var batches: [ArrayBatchKey: Batch] = [:]
    private var serial = 0
    /// Tasks not yet returned, per array folder: the folder goes at zero.
    private var outstanding: [String: Int] = [:]

    init(window: Double) {
        self.window = window
    }

    /// Waits for the batch to be submitted (by `submit`, the first member's); a cancelled caller
    /// leaves its batch (not yet submitted) at once.
    func join(_ key: ArrayBatchKey, _ member: ArrayMember, submit: @escaping Submit) async -> ArrayJoin {
        serial += 1
        let mine = serial
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<ArrayJoin, Never>) in
                let now = Timestamp.now()
                if batches[key] == nil {
                    batches[key] = Batch(opened: now, last: now, submit: submit)
                    Task { await self.submitWhenQuiet(key) }
                }
                batches[key]!.members.append(Waiting(serial: mine, member: member, continuation: c))
                batches[key]!.last = now
            }
        } onCancel: {
            Task { await self.withdraw(key, serial: mine) }
        }
    }

    private func withdraw(_ key: ArrayBatchKey, serial: Int) {
        guard let i = batches[key]?.members.firstIndex(where: { $0.serial == serial }) else { return }
        let w = batches[key]!.members.remove(at: i)
        w.continuation.resume(returning: .failed(StepOutcome(kind: .cancelled, finishedAt: Timestamp.now())))
    }

    private func submitWhenQuiet(_ key: ArrayBatchKey) async {
        while let b = batches[key] {
            let due = min(b.last + window, b.opened + 10 * window)
            let wait = due - Timestamp.now()
            if wait <= 0 { break }
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1000) + 1))   // silent: not cancelled
        }
        guard let batch = batches.removeValue(forKey: key), !batch.members.isEmpty else { return }
        if batch.members.count == 1 {
            batch.members[0].continuation.resume(returning: .single)
            return
        }
        let answers = await batch.submit(key, batch.members.map(\.member))
        for (w, answer) in zip(batch.members, answers) {
            if case .submitted(_, _, let folder) = answer { outstanding[folder, default: 0] += 1 }
            w.continuation.resume(returning: answer)
        }
    }

    /// A task of the array in `folder` has returned; the last one removes the folder.
    func returned(_ folder: String) {
        guard let n = outstanding[folder] else { return }
        if n > 1 { outstanding[folder] = n - 1; return }
        outstanding[folder] = nil
        try? FileOps.removeTree(folder)   // silent: the retention pass removes what is left (SlurmArrayFolder.sweep)
    }
}

/// The files of one array (`runs/.slurm-arrays/<name>/`).
public enum SlurmArrayFolder {
    public static let parentName = ".slurm-arrays"

    /// The batch script of the array: task i runs child i's own batch script in its workspace.
    static func script(folder: String, group: String, step: String) -> String {
        """
        #!/bin/bash
        # Generated by Hopper: group \(group), step \(step); task i runs child i of the tasks file
        # (NUL-separated: workspace, attempt base) with its own batch script.
        mapfile -d '' -t hopper_tasks < \(SlurmBatchScript.quote(folder + "/tasks")) || exit 127
        hopper_workspace=${hopper_tasks[$((2 * SLURM_ARRAY_TASK_ID))]}
        hopper_base=${hopper_tasks[$((2 * SLURM_ARRAY_TASK_ID + 1))]}
        [ -n "$hopper_base" ] && cd "$hopper_workspace" || exit 127
        exec "$hopper_base.slurm.sh"

        """
    }

    /// Removes the array folders under `workspaces` that no task needs any more: every task's
    /// attempt has its exit record, or its workspace is gone. Returns how many were removed.
    @discardableResult
    public static func sweep(workspaces: String) -> Int {
        let parent = workspaces + "/" + parentName
        guard let names = try? FileOps.listDirectory(parent) else { return 0 }   // silent: none yet
        var removed = 0
        for name in names {
            let folder = parent + "/" + name
            guard let bytes = try? FileOps.readFile(folder + "/tasks", limit: 64 << 20) else {
                // silent: a folder being written has its tasks file before sbatch runs; one older
                // than a day without it never reached SLURM.
                if let st = try? FileOps.lstat(folder), Timestamp.now() - Double(st.st_mtim.tv_sec) > 86_400 {
                    try? FileOps.removeTree(folder)
                }
                continue
            }
            let fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            var needed = false
            var i = 0
            while i + 1 < fields.count {
                let (workspace, base) = (fields[i], fields[i + 1])
                if FileOps.isDirectory(workspace) && !FileOps.exists(base + ".slurm-exit") { needed = true; break }
                i += 2
            }
            if !needed, (try? FileOps.removeTree(folder)) != nil { removed += 1 }
        }
        return removed
    }
}

extension SlurmExecutor {
    /// Submits a batch of children as one array. One answer per member, in order.
    func submitArray(_ key: ArrayBatchKey, _ members: [ArrayMember]) async -> [ArrayJoin] {
        let first = members[0].launch
        let parent = FileOps.split(first.workspace).0 + "/" + SlurmArrayFolder.parentName
        let name = "\(key.group).\(key.step).\(Int64(Timestamp.now() * 1000))"
        let folder = parent + "/" + name
        let arrayComment = "\(commentPrefix)\(key.group):\(key.step):array.\(name.split(separator: ".").last ?? "")"
        var answers = [ArrayJoin](repeating: .single, count: members.count)

        // Each child's files, with its rights; a child whose files cannot be written fails alone.
        var tasks: [Int] = []
        for (i, m) in members.enumerated() {
            do {
                try await prepareArrayMember(m)
                tasks.append(i)
            } catch {
                answers[i] = .failed(StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(),
                                                 message: "cannot prepare the SLURM batch script: \(error)"))
            }
        }
        if tasks.count < 2 {
            for i in tasks { answers[i] = .single }
            return answers
        }
        var marks: [Int: String] = [:]
        var table: [UInt8] = []
        for (index, i) in tasks.enumerated() {
            marks[i] = SlurmJobInfo.key(comment: arrayComment, task: index)
            table += Array(members[i].launch.workspace.utf8) + [0] + Array(members[i].files.base.utf8) + [0]
        }
        do {
            try FileOps.makeDirectories(folder)
            try FileOps.writeAtomically(folder + "/tasks", table, durable: false)
            try FileOps.writeAtomically(folder + "/array.sh", Array(SlurmArrayFolder.script(folder: folder, group: key.group, step: key.step).utf8),
                                        mode: 0o755, durable: false)
            for (index, i) in tasks.enumerated() {
                let link = "\(folder)/\(index).log"
                unlink(link)
                if symlink(members[i].launch.logPath, link) != 0 { throw SystemError("symlink", path: link) }
            }
            // The commit point, per child: from here on a SLURM task may exist for its attempt.
            for i in tasks {
                let (m, mark) = (members[i], marks[i]!)
                try await AsUser.run(m.launch.user) { try Self.writeIntent(m.launch, m.files, mark: mark) }
            }
        } catch {
            try? FileOps.removeTree(folder)   // silent: the outcome below says it; a leftover goes at the sweep
            for i in tasks {
                answers[i] = .failed(StepOutcome(kind: .failedToStart, finishedAt: Timestamp.now(),
                                                 message: "cannot prepare the SLURM job array: \(error)"))
            }
            return answers
        }

        let request = arrayRequestEnvironment(tasks.map { members[$0] })
        let throttle = defaults.arrayThrottle > 0 ? "%\(defaults.arrayThrottle)" : ""
        let args: [String] = ["--parsable", "--job-name=\(key.group).\(key.step)", "--comment=\(arrayComment)",
                              "--chdir=\(folder)", "--output=\(folder)/%a.log", "--error=\(folder)/%a.log",
                              "--open-mode=append", "--export=ALL", "--no-requeue",
                              "--array=0-\(tasks.count - 1)\(throttle)"] + key.options + [folder + "/array.sh"]
        let updates = tasks.map { members[$0].update }
        let result = await sbatch(args, environment: request, workingDirectory: folder, user: first.user,
                                  lostAnswerMark: marks[tasks[0]]!) { update in
            for u in updates { await u(update) }
        }
        switch result {
        case .success(let firstTask):
            let arrayID = firstTask.split(separator: "_").first.map(String.init) ?? firstTask
            logger.info("slurm.array_submitted", metadata: ["slurm.job_id": "\(arrayID)", "group.id": "\(key.group)",
                                                            "step.name": "\(key.step)", "slurm.tasks": "\(tasks.count)"])
            for (index, i) in tasks.enumerated() {
                let id = "\(arrayID)_\(index)"
                await Self.writeDurably(members[i].files.id, id, as: members[i].launch.user)
                answers[i] = .submitted(id: id, mark: marks[i]!, folder: folder)
            }
        case .failure(let outcome):
            for i in tasks {
                await Self.withdrawIntent(members[i].launch, members[i].files, saying: outcome.message ?? "sbatch refused the job array")
                answers[i] = .failed(outcome)
            }
            try? FileOps.removeTree(folder)   // silent: a leftover goes at the sweep
        }
        return answers
    }

    /// A child's own files for its task: argv, batch script, environment, log header.
    private func prepareArrayMember(_ m: ArrayMember) async throws {
        try await AsUser.run(m.launch.user) {
            try Self.writeAttemptFiles(m.launch, m.files, argv: m.argv, environmentFile: true, how: " as a task of a job array")
        }
    }

    /// sbatch's environment for an array: what every task's environment has in common (each
    /// task loads its own from its `.slurm-env` file), and SLURM's own settings.
    private func arrayRequestEnvironment(_ members: [ArrayMember]) -> [String: String] {
        var common = members[0].launch.environment
        for m in members.dropFirst() {
            common = common.filter { m.launch.environment[$0.key] == $0.value }
        }
        return Self.withSlurmSettings(common)
    }
}
