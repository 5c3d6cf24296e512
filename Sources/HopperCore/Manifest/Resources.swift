// Resources — what a job or step asks of its executor: `{cpus: 4, memory: 8G, time: 2h}`.

public struct Resources: Sendable, Equatable, Hashable, Codable {
    public var cpus: Int?
    public var memory: ByteSize?
    public var time: DurationValue?
    public var partition: String?
    public var account: String?
    public var qos: String?
    public var gpus: Int?

    public init(cpus: Int? = nil, memory: ByteSize? = nil, time: DurationValue? = nil, partition: String? = nil,
                account: String? = nil, qos: String? = nil, gpus: Int? = nil) {
        self.cpus = cpus
        self.memory = memory
        self.time = time
        self.partition = partition
        self.account = account
        self.qos = qos
        self.gpus = gpus
    }

    static let keys = ["cpus", "memory", "time", "partition", "account", "qos", "gpus"]

    static func decode(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> Resources? {
        guard let pairs = c.mapping(node, path) else { return nil }
        var r = Resources()
        let before = c.diagnostics.count
        for (key, value) in pairs {
            let name = key.scalar ?? ""
            let p = Checker.join(path, name)
            switch name {
            case "cpus": r.cpus = c.int(value, p, min: 1, max: 100_000)
            case "memory": r.memory = c.size(value, p)
            case "time": r.time = c.duration(value, p)
            case "partition": r.partition = c.line(value, p)
            case "account": r.account = c.line(value, p)
            case "qos": r.qos = c.line(value, p)
            case "gpus": r.gpus = c.int(value, p, min: 0, max: 10_000)
            default: c.unknownKey(key, path, valid: keys)
            }
        }
        return c.diagnostics.count == before ? r : nil
    }
}

/// Where a job's steps run.
public enum ExecutorKind: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case local, slurm
}
