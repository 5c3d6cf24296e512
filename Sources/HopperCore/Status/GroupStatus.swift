// GroupStatus — `outbox/<group>/status.json` of a group (a manifest with `foreach:`).
//
// `kind` is "group" (a job's status.json has no `kind`). `state` is `running` while any child
// is live (pending, waiting, queued, running); then `completed` when every child completed,
// else `failed` when one failed, else `cancelled`. `counts` holds every state, `progress` is
// the share of children that ended, `children` lists their ids in the sheet's order.

public struct GroupStatus: Codable, Sendable, Equatable {
    public var kind: String = "group"
    public var id: String
    public var state: JobState
    public var workflow: String?
    public var owner: String
    public var queue: String
    public var priority: Int
    public var description: String?
    /// The copy of the sample sheet in the group's folder (`sheet/SampleSheet.csv`), or nil
    /// for inline rows.
    public var samplesheet: String?
    public var after: [String]?
    public var submittedAt: String
    public var updatedAt: String
    public var finishedAt: String?
    public var counts: [String: Int]
    public var progress: Double
    public var children: [String]
    public var hopperVersion: String = HopperVersion.current

    public init(id: String, workflow: String?, owner: String, queue: String, priority: Int, description: String?,
                samplesheet: String?, after: [String]?, submittedAt: String, children: [String]) {
        self.id = id; self.workflow = workflow; self.owner = owner; self.queue = queue; self.priority = priority
        self.description = description; self.samplesheet = samplesheet; self.after = after
        self.submittedAt = submittedAt; self.updatedAt = submittedAt; self.children = children
        self.state = .pending
        self.counts = GroupStatus.emptyCounts
        self.counts[JobState.pending.rawValue] = children.count
        self.progress = 0
        self.state = GroupStatus.state(of: counts)
    }

    enum CodingKeys: String, CodingKey {
        case kind, id, state, workflow, owner, queue, priority, description, samplesheet, after
        case submittedAt = "submitted_at", updatedAt = "updated_at", finishedAt = "finished_at"
        case counts, progress, children, hopperVersion = "hopper_version"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(id, forKey: .id)
        try c.encode(state, forKey: .state)
        try c.encode(workflow, forKey: .workflow)
        try c.encode(owner, forKey: .owner)
        try c.encode(queue, forKey: .queue)
        try c.encode(priority, forKey: .priority)
        try c.encode(description, forKey: .description)
        try c.encode(samplesheet, forKey: .samplesheet)
        try c.encode(after, forKey: .after)
        try c.encode(submittedAt, forKey: .submittedAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(counts, forKey: .counts)
        try c.encode(progress, forKey: .progress)
        try c.encode(children, forKey: .children)
        try c.encode(hopperVersion, forKey: .hopperVersion)
    }

    public static var emptyCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for state in JobState.allCases { counts[state.rawValue] = 0 }
        return counts
    }

    /// The group's state for its children's counts.
    public static func state(of counts: [String: Int]) -> JobState {
        let live: [JobState] = [.pending, .waiting, .queued, .running]
        let liveCount = live.reduce(0) { $0 + (counts[$1.rawValue] ?? 0) }
        let started = [JobState.queued, .running, .completed, .failed, .cancelled].reduce(0) { $0 + (counts[$1.rawValue] ?? 0) }
        if liveCount > 0 { return started > 0 || (counts[JobState.waiting.rawValue] ?? 0) > 0 ? .running : .pending }
        if (counts[JobState.failed.rawValue] ?? 0) > 0 { return .failed }
        if (counts[JobState.cancelled.rawValue] ?? 0) > 0 { return .cancelled }
        return .completed
    }

    /// Takes new counts: state, progress, finish time. True when anything changed.
    @discardableResult
    public mutating func update(counts new: [String: Int], at now: String) -> Bool {
        var merged = GroupStatus.emptyCounts
        for (k, v) in new { merged[k] = v }
        guard merged != counts else { return false }
        counts = merged
        state = GroupStatus.state(of: merged)
        let ended = [JobState.completed, .failed, .cancelled].reduce(0) { $0 + (merged[$1.rawValue] ?? 0) }
        progress = children.isEmpty ? 1 : Double(ended) / Double(children.count)
        updatedAt = now
        finishedAt = state.isTerminal ? (finishedAt ?? now) : nil
        return true
    }

    /// Reads `kind` alone: is this status.json a group's?
    public static func isGroup(_ bytes: [UInt8]) -> Bool {
        struct Kind: Decodable { var kind: String? }
        guard let k = try? JSON.decode(Kind.self, from: bytes) else { return false }   // silent: not JSON is not a group
        return k.kind == "group"
    }
}
