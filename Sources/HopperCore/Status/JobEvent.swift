// JobEvent — one line of `outbox/<id>/events.jsonl`: a transition, attempt, request or notification.

public struct JobEvent: Codable, Sendable, Equatable {
    public var time: String
    public var event: String
    public var state: JobState?
    public var step: String?
    public var message: String?

    public init(time: String = Timestamp.rfc3339(), event: String, state: JobState?, step: String? = nil, message: String? = nil) {
        self.time = time; self.event = event; self.state = state; self.step = step; self.message = message
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time, forKey: .time)
        try c.encode(event, forKey: .event)
        try c.encode(state, forKey: .state)
        try c.encode(step, forKey: .step)
        try c.encode(message, forKey: .message)
    }
}
