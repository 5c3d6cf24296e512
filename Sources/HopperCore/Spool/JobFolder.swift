// JobFolder, JobWorkspace, RejectedFolder — the spool API: every path of a job, and the few
// operations on them (status read and written with an explicit durability, events appended,
// a file set aside under the next free name). With SpoolLayout, the only code that spells a
// spool path; intake, recovery, the scheduler, the runner and the CLI go through it.
#if canImport(Glibc)
import Glibc
#endif

/// `outbox/<id>/`: what a job publishes.
public struct JobFolder: Sendable, Equatable {
    public let id: String
    public let path: String

    public init(_ layout: SpoolLayout, id: String) {
        self.id = id
        self.path = layout.outbox + "/" + id
    }

    /// A folder at `path` (a staging folder `outbox/.staging/<id>` while it is being accepted).
    public init(id: String, path: String) {
        self.id = id
        self.path = path
    }

    public var status: String { path + "/" + JobFolder.statusName }
    public var events: String { path + "/" + JobFolder.eventsName }
    public var manifest: String { path + "/" + JobFolder.manifestName }
    public static let statusName = "status.json"
    public static let eventsName = "events.jsonl"
    public static let manifestName = "manifest.yaml"
    /// `logs/`, and in it each step's `<step>.log` (and a Snakemake step's `<step>.snakemake.log`).
    public var logs: String { path + "/" + JobFolder.logsName }
    /// `results/`: published outputs and `SHA256SUMS`.
    public var results: String { path + "/results" }
    /// `requests/`: control requests that were honoured.
    public var requests: String { path + "/" + JobFolder.requestsName }

    /// A group's copy of its sample sheet: `sheet/<name>` (GroupStatus.samplesheet).
    public var sheetFolder: String { path + "/" + JobFolder.sheetName }
    public func sheet(_ name: String) -> String { sheetFolder + "/" + name }
    public static let sheetName = "sheet"

    /// `index.html`: the job's page (docs/pages.md).
    public var page: String { path + "/" + SpoolLayout.pageName }

    public static let logsName = "logs"
    public static let requestsName = "requests"

    // MARK: - Provenance (see docs/provenance.md)

    /// `ro-crate-metadata.json`: the RO-Crate of a finished job (written when it ends).
    public var crate: String { path + "/" + JobFolder.crateName }
    /// `ro-crate-preview.html`: the crate's preview, the job page under that name (the pages' work).
    public var cratePreview: String { path + "/" + JobFolder.cratePreviewName }
    /// `plan.json`: the job's resolved plan (steps, params with defaults, inputs, resources), from its start.
    public var plan: String { path + "/" + JobFolder.planName }
    /// `params.json`: the params as the job ran with them (defaults applied).
    public var params: String { path + "/" + JobFolder.paramsName }
    /// `workflow/`: a copy of the named workflow's file and the Snakefiles its steps use.
    public var workflowCopy: String { path + "/" + JobFolder.workflowCopyName }

    public static let crateName = "ro-crate-metadata.json"
    public static let cratePreviewName = "ro-crate-preview.html"
    public static let planName = "plan.json"
    public static let paramsName = "params.json"
    public static let workflowCopyName = "workflow"
    public static let resultsName = "results"

    public func log(step: String) -> String { path + "/" + JobFolder.logRelative(step: step) }
    public func snakemakeLog(step: String) -> String { logs + "/\(step).snakemake.log" }
    /// `logs/<step>.log` relative to the job folder, as status.json names it.
    public static func logRelative(step: String) -> String { logsName + "/\(step).log" }

    // MARK: - Status and events

    /// How a write reaches the disk.
    public enum Durability: Sendable {
        /// Replaced atomically; a power cut may lose it (the next write or recovery mends it).
        case atomic
        /// Replaced atomically and fsynced before it returns.
        case durable
    }

    /// status.json as it is; nil when missing or unreadable.
    public func readStatus() -> JobStatus? {
        guard let bytes = try? FileOps.readFile(status) else { return nil }
        return try? JSON.decode(JobStatus.self, from: bytes)
    }

    /// Replaces status.json (write a temporary, rename).
    public func writeStatus(_ value: JobStatus, _ durability: Durability) throws {
        try FileOps.writeAtomically(status, try JSON.pretty(value), durable: durability == .durable)
    }

    /// Appends one line to events.jsonl (one write(2), O_APPEND).
    public func appendEvent(_ event: JobEvent, _ durability: Durability = .atomic) throws {
        try FileOps.appendLine(events, try JSON.line(event), durable: durability == .durable)
    }
}

extension JobFolder {
    /// Why a request could not be filed: the job's folder cannot be opened (gone), or its
    /// `requests/` is not a folder (a link, under run_as: owner its owner's doing), or the move failed.
    public enum FilingError: Error, Sendable {
        case jobFolder(SystemError)
        case requestsFolder(SystemError)
        case move(SystemError)
    }

    /// Moves the request file at `source` into `requests/` as `name` (or `name.2`, …), never
    /// replacing a file, through descriptors opened without following links: under run_as:
    /// owner the job's folder is its owner's, who could have made `requests` a link to
    /// anywhere. Returns the name used.
    @discardableResult
    public func fileRequest(from source: String, name: String) throws(FilingError) -> String {
        let jobFD = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard jobFD >= 0 else { throw .jobFolder(SystemError("open", path: path)) }
        defer { Glibc.close(jobFD) }
        _ = mkdirat(jobFD, JobFolder.requestsName, 0o755)
        let dirFD = openat(jobFD, JobFolder.requestsName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dirFD >= 0 else { throw .requestsFolder(SystemError("open", path: requests)) }
        defer { Glibc.close(dirFD) }
        for n in 1...10_000 {
            let candidate = RejectedFolder.candidate(name, n)
            do {
                try FileOps.renameNoReplace(source, to: candidate, toDir: dirFD, path: requests + "/" + candidate)
                Glibc.fsync(dirFD)
                return candidate
            } catch where error.errno == EEXIST {
                continue
            } catch {
                throw .move(error)
            }
        }
        throw .move(SystemError("renameat2", path: requests + "/" + name, errno: EEXIST))
    }
}

extension SpoolLayout {
    /// `outbox/<id>/`.
    public func folder(_ id: String) -> JobFolder { JobFolder(self, id: id) }
    /// `outbox/.staging/<id>/`: a job being accepted.
    public func stagingFolder(_ id: String) -> JobFolder { JobFolder(id: id, path: staging + "/" + id) }
    /// `runs/<id>/`.
    public func jobWorkspace(_ id: String) -> JobWorkspace { JobWorkspace(path: workspace(id)) }
}

/// `runs/<id>/`: a job's workspace, the steps' working directory.
public struct JobWorkspace: Sendable, Equatable {
    public let path: String
    public init(path: String) { self.path = path }

    /// `.hopper/`: the supervisors' records (`<step>.<attempt>.json`, `.exit`) and markers.
    public var records: String { path + "/.hopper" }
    public var inputs: String { path + "/inputs" }
    public var tmp: String { path + "/tmp" }
    public var params: String { path + "/params.json" }
    public var config: String { path + "/config.yaml" }
    /// The supervisor's record of one attempt; its exit record is this path + `.exit`.
    public func record(step: String, attempt: Int) -> String { records + "/\(step).\(attempt).json" }
    /// Marks a step whose next run is a `rerun` (Snakemake is then forced).
    public func rerunMarker(step: String) -> String { records + "/\(step).rerun" }
}

/// `rejected/` (or any folder things are set aside in): the next free name for a file.
public struct RejectedFolder: Sendable {
    public let path: String
    public init(path: String) { self.path = path }
    public init(_ layout: SpoolLayout) { self.path = layout.rejected }

    /// `<file>.error.json` beside each rejected file.
    public static let errorSuffix = ".error.json"

    /// `name` for n = 1, else `name.n`.
    public static func candidate(_ name: String, _ n: Int) -> String { n == 1 ? name : "\(name).\(n)" }

    /// Tries `place(name, target)` for `name`, `name.2`, `name.3`, … until it returns a value
    /// (set aside) or nil (give up: the file vanished), or throws something other than EEXIST
    /// (the name was taken meanwhile: the next is tried). A name whose target already exists
    /// is skipped without a try. Returns the value and the name used; nil when it gave up or
    /// every name up to `limit` was taken.
    public func setAside<T>(_ name: String, limit: Int = 10_000,
                            _ place: (_ name: String, _ target: String) throws -> T?) rethrows -> (T, String)? {
        for n in 1...limit {
            let candidate = RejectedFolder.candidate(name, n)
            let target = path + "/" + candidate
            if FileOps.exists(target) { continue }
            do {
                guard let done = try place(candidate, target) else { return nil }
                return (done, candidate)
            } catch let e as SystemError where e.errno == EEXIST {
                continue
            }
        }
        return nil
    }
}
