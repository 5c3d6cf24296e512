// JobStatus — `outbox/<id>/status.json` (SPEC §5), the file a person glances at.
//
// Optional fields are written as `null`, never left out, so scripts can rely on every key.

public enum HopperVersion {
    public static let current = "0.1.0"
}

public enum JobState: String, Codable, Sendable, CaseIterable {
    case pending, waiting, queued, running, completed, failed, cancelled

    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
}

public enum StepState: String, Codable, Sendable {
    case pending, queued, running, completed, failed, skipped, cancelled
    /// An attempt whose end was lost (a power cut, a supervisor killed before it recorded its
    /// exit): it is run again as a new attempt, without counting against `retries`.
    case interrupted
}

/// One attempt of a step: its history entry in `steps[].attempts`.
public struct StepAttempt: Codable, Sendable, Equatable {
    public var attempt: Int
    public var state: StepState
    public var startedAt: String?
    public var finishedAt: String?
    public var exitCode: Int?
    /// Why it ended when that is not just an exit code: "timed out after 2h", "killed by signal 9", "cancelled".
    public var message: String?

    public init(attempt: Int, state: StepState, startedAt: String? = nil, finishedAt: String? = nil,
                exitCode: Int? = nil, message: String? = nil) {
        self.attempt = attempt; self.state = state; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.exitCode = exitCode; self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case attempt, state, startedAt = "started_at", finishedAt = "finished_at", exitCode = "exit_code", message
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(state, forKey: .state)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(message, forKey: .message)
    }
}

/// A step's current state (its latest attempt) and the history of every attempt.
public struct StepStatus: Codable, Sendable, Equatable {
    public var name: String
    public var state: StepState
    public var attempt: Int
    public var startedAt: String?
    public var finishedAt: String?
    public var exitCode: Int?
    public var log: String?
    /// What the step is doing, e.g. "rule call (3 of 10)", or why it ended.
    public var detail: String?
    /// The running step's own progress (0…1) where known.
    public var progress: Double?
    public var attempts: [StepAttempt]

    public init(name: String, state: StepState = .pending, attempt: Int = 0, startedAt: String? = nil,
                finishedAt: String? = nil, exitCode: Int? = nil, log: String? = nil, detail: String? = nil,
                progress: Double? = nil, attempts: [StepAttempt] = []) {
        self.name = name; self.state = state; self.attempt = attempt; self.startedAt = startedAt
        self.finishedAt = finishedAt; self.exitCode = exitCode; self.log = log; self.detail = detail
        self.progress = progress; self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey {
        case name, state, attempt, startedAt = "started_at", finishedAt = "finished_at"
        case exitCode = "exit_code", log, detail, progress, attempts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        state = try c.decode(StepState.self, forKey: .state)
        attempt = try c.decode(Int.self, forKey: .attempt)
        startedAt = try c.decodeIfPresent(String.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(String.self, forKey: .finishedAt)
        exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode)
        log = try c.decodeIfPresent(String.self, forKey: .log)
        detail = try c.decodeIfPresent(String.self, forKey: .detail)
        progress = try c.decodeIfPresent(Double.self, forKey: .progress)
        attempts = try c.decodeIfPresent([StepAttempt].self, forKey: .attempts) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(state, forKey: .state)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(log, forKey: .log)
        try c.encode(detail, forKey: .detail)
        try c.encode(progress, forKey: .progress)
        try c.encode(attempts, forKey: .attempts)
    }
}

public struct ExecutorInfo: Codable, Sendable, Equatable {
    public var kind: ExecutorKind
    public var id: String?
    public init(kind: ExecutorKind, id: String? = nil) { self.kind = kind; self.id = id }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(id, forKey: .id)
    }
}

public struct JobErrorInfo: Codable, Sendable, Equatable {
    public var step: String?
    public var message: String
    public var exitCode: Int?
    public init(step: String?, message: String, exitCode: Int?) { self.step = step; self.message = message; self.exitCode = exitCode }
    enum CodingKeys: String, CodingKey { case step, message, exitCode = "exit_code" }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(message, forKey: .message)
        try c.encode(exitCode, forKey: .exitCode)
    }
}

public struct ResultFile: Codable, Sendable, Equatable {
    public var path: String
    public var bytes: Int64
    public var sha256: String
    public init(path: String, bytes: Int64, sha256: String) { self.path = path; self.bytes = bytes; self.sha256 = sha256 }
}

public struct JobStatus: Codable, Sendable, Equatable {
    public var id: String
    public var state: JobState
    public var workflow: String?
    public var owner: String
    public var queue: String
    public var priority: Int
    public var description: String?
    public var submittedAt: String
    public var startedAt: String?
    public var finishedAt: String?
    public var currentStep: String?
    public var progress: Double
    public var steps: [StepStatus]
    public var executor: ExecutorInfo
    public var error: JobErrorInfo?
    public var results: [ResultFile]
    /// While `waiting`: the `wait_for` paths still missing or still changing.
    public var waitingFor: [String]?
    /// A group's child: the group's id (`outbox/<group>/status.json`); absent otherwise.
    public var group: String?
    public var hopperVersion: String

    public init(id: String, state: JobState, workflow: String?, owner: String, queue: String, priority: Int,
                description: String?, submittedAt: String, steps: [StepStatus], executor: ExecutorInfo) {
        self.id = id; self.state = state; self.workflow = workflow; self.owner = owner; self.queue = queue
        self.priority = priority; self.description = description; self.submittedAt = submittedAt
        self.startedAt = nil; self.finishedAt = nil; self.currentStep = nil; self.progress = 0
        self.steps = steps; self.executor = executor; self.error = nil; self.results = []
        self.hopperVersion = HopperVersion.current
    }

    enum CodingKeys: String, CodingKey {
        case id, state, workflow, owner, queue, priority, description
        case submittedAt = "submitted_at", startedAt = "started_at", finishedAt = "finished_at"
        case currentStep = "current_step", progress, steps, executor, error, results
        case waitingFor = "waiting_for", hopperVersion = "hopper_version", group
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(state, forKey: .state)
        try c.encode(workflow, forKey: .workflow)
        try c.encode(owner, forKey: .owner)
        try c.encode(queue, forKey: .queue)
        try c.encode(priority, forKey: .priority)
        try c.encode(description, forKey: .description)
        try c.encode(submittedAt, forKey: .submittedAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(currentStep, forKey: .currentStep)
        try c.encode(progress, forKey: .progress)
        try c.encode(steps, forKey: .steps)
        try c.encode(executor, forKey: .executor)
        try c.encode(error, forKey: .error)
        try c.encode(results, forKey: .results)
        try c.encode(waitingFor, forKey: .waitingFor)
        try c.encodeIfPresent(group, forKey: .group)
        try c.encode(hopperVersion, forKey: .hopperVersion)
    }
}

extension JobStatus {
    /// The status of a job just accepted from `manifest`: pending, every step pending.
    public static func pending(id: String, manifest: JobManifest, owner: String, queue: String,
                               executor: ExecutorKind, submittedAt: String) -> JobStatus {
        var status = JobStatus(id: id, state: .pending, workflow: manifest.workflowName, owner: owner, queue: queue,
                               priority: manifest.priority, description: manifest.description, submittedAt: submittedAt,
                               steps: manifest.resolvedSteps.map { StepStatus(name: $0.name) },
                               executor: ExecutorInfo(kind: executor))
        status.group = manifest.group
        return status
    }
}
