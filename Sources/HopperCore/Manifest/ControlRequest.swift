// ControlRequest — a manifest with `action:` that acts on an existing job (SPEC §4).
//
//   action: rerun        # cancel | retry | rerun | clean
//   job: S001-qc
//   steps: [call]        # rerun only; default: all steps

public enum ControlAction: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case cancel, retry, rerun, clean
}

public struct ControlRequest: Sendable, Equatable, Hashable, Codable {
    public var action: ControlAction
    public var job: String
    /// For `rerun`: the steps to run again; nil means all.
    public var steps: [String]?

    public init(action: ControlAction, job: String, steps: [String]? = nil) {
        self.action = action
        self.job = job
        self.steps = steps
    }

    static let keys = ["action", "job", "steps"]

    static func decode(_ root: YAMLNode, _ pairs: [(key: YAMLNode, value: YAMLNode)], _ c: inout Checker) -> ControlRequest? {
        let before = c.diagnostics.count
        var action: ControlAction?
        var job: String?
        var steps: [String]?
        var stepsKey: YAMLNode?
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            switch k {
            case "action": action = c.choice(value, k, ControlAction.self)
            case "job":
                guard let id = c.line(value, k) else { continue }
                if let problem = Names.jobIDProblem(id) { c.error(value, k, problem) } else { job = id }
            case "steps":
                stepsKey = key
                steps = c.list(value, k, nonEmpty: true) { c, n, p in
                    guard let name = c.line(n, p) else { return nil }
                    guard Names.isValid(name, maxLength: 64) else {
                        c.error(n, p, "step name \(quoted(name)) is not valid")
                        return nil
                    }
                    return name
                }
            default: c.unknownKey(key, "", valid: keys)
            }
        }
        if root["job"] == nil { c.missing("job", in: root, "") }
        if let stepsKey, let action, action != .rerun {
            c.error(stepsKey, "", "\"steps\" is only allowed with action: rerun")
        }
        guard c.diagnostics.count == before, let action, let job else { return nil }
        return ControlRequest(action: action, job: job, steps: steps)
    }
}
