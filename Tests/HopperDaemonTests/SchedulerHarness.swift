// A scheduler on a temporary spool with a real store (SQLite on disk) and the fake executor:
// jobs are made as the intake makes them (status.json, store record, plan), handed to the
// scheduler, and run by JobRunners whose steps start no process.
import Foundation
import HopperCore
import HopperExec
import HopperStore
import HopperWatch
import HopperTestSupport
import Logging
import Testing
@testable import HopperDaemon

final class SchedulerHarness {
    let root: String
    let layout: SpoolLayout
    let store: JobStore
    let fake: FakeExecutor
    let scheduler: Scheduler

    init(fake: FakeExecutor = FakeExecutor(), _ configure: (inout SchedulerSettings) -> Void = { _ in }) throws {
        root = try #require(makeTemporaryDirectory("/tmp/hopper-sched-XXXXXX"))
        layout = SpoolLayout(root: root)
        try layout.create()
        store = try JobStore(path: layout.database)
        self.fake = fake
        var settings = SchedulerSettings()
        settings.maxRunning = 1
        settings.retryBackoff = RetryBackoff(base: 0.01, cap: 0.05)
        configure(&settings)
        var logger = Logger(label: "hopper.test")
        logger.logLevel = .warning
        scheduler = Scheduler(layout: layout, store: store, executors: StepExecutors(local: fake),
                              settings: settings, catalog: nil, logger: logger)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }   // silent: clean-up after a test

    /// A job as the intake accepts it: `steps` is the YAML of its inline steps.
    func job(_ id: String, owner: String = "alice", queue: String = "default", priority: Int = 0,
             extra: String = "", steps: String = "[{name: s, run: \"true\"}]") throws -> AcceptedJob {
        let text = "priority: \(priority)\n\(extra)\nsteps: \(steps)\n"
        guard case .success(.job(let manifest)) = ManifestParser.parse(text: text, fileName: "\(id).yaml", catalog: nil) else {
            throw HarnessError("the test manifest of \(id) does not parse: \(text)")
        }
        let status = JobStatus.pending(id: id, manifest: manifest, owner: owner, queue: queue, executor: .local,
                                       submittedAt: Timestamp.rfc3339())
        try FileOps.makeDirectories(layout.folder(id).logs)
        try layout.folder(id).writeStatus(status, .atomic)
        try store.insert([JobRecord(status: status, uid: 1000)], plans: [id: Plan.encode(manifest)])
        return AcceptedJob(id: id, status: status, uid: 1000, manifest: manifest)
    }

    func submit(_ jobs: [AcceptedJob]) async { await scheduler.submitted(jobs) }

    func status(_ id: String) -> JobStatus? { layout.folder(id).readStatus() }

    /// Waits until job `id` is in a terminal state; returns its status.
    func finished(_ id: String, timeout: Duration = .seconds(20)) async -> JobStatus? {
        var last: JobStatus?
        await waitUntil(timeout) {
            last = status(id)
            return last?.state.isTerminal == true
        }
        return last
    }

    /// Asks the scheduler to cancel `id`, as a control request from its owner would.
    func cancel(_ id: String) async -> String? {
        let candidate = DropCandidate(folder: layout.inbox, queue: nil, name: "cancel-\(id).yaml", cause: .event)
        let drop = ControlDrop(candidate: candidate, request: ControlRequest(action: .cancel, job: id), uid: 0, gid: 0)
        return await scheduler.apply(drop)
    }

    func events(_ id: String) -> String {
        (try? String(contentsOfFile: layout.events(id), encoding: .utf8)) ?? ""   // silent: no history yet reads as empty
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
