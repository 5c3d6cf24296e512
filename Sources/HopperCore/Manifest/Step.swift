// Step — one unit of a job: a shell command, a Snakemake run or a mock, with its limits.
//
// The same schema serves inline `steps:` in a manifest and a workflow file's `steps:`:
//
//   - name: qc                      # required; Names.isValid, at most 64 characters
//     run: fastqc "$HOPPER_INPUT_READS" -o qc/      # exactly one of run / snakemake / mock
//     snakemake: {snakefile: x/Snakefile, targets: [all], cores: 2, args: [--keep-going]}
//     mock: {duration: 2s, fail_rate: 0.2, seed: 7}
//     timeout: 2h
//     retries: 2
//     outputs: ["qc/*.html"]        # globs inside the workspace
//     resources: {cpus: 2}

public struct Step: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var kind: StepKind
    public var timeout: DurationValue?
    public var retries: Int?
    /// Globs relative to the workspace (never absolute, never `..`).
    public var outputs: [String]
    public var resources: Resources?

    public init(name: String, kind: StepKind, timeout: DurationValue? = nil, retries: Int? = nil,
                outputs: [String] = [], resources: Resources? = nil) {
        self.name = name
        self.kind = kind
        self.timeout = timeout
        self.retries = retries
        self.outputs = outputs
        self.resources = resources
    }
}

/// Encoded as in a manifest: `{"run": "cmd"}`, `{"snakemake": {…}}` or `{"mock": {…}}`.
public enum StepKind: Sendable, Equatable, Hashable, Codable {
    /// A shell command, run as `bash -eo pipefail -c`.
    case run(command: String)
    case snakemake(SnakemakeStep)
    case mock(MockStep)

    public var typeName: String {
        switch self {
        case .run: return "run"
        case .snakemake: return "snakemake"
        case .mock: return "mock"
        }
    }

    enum CodingKeys: String, CodingKey {
        case run, snakemake, mock
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .run(let command): try c.encode(command, forKey: .run)
        case .snakemake(let step): try c.encode(step, forKey: .snakemake)
        case .mock(let step): try c.encode(step, forKey: .mock)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let command = try c.decodeIfPresent(String.self, forKey: .run) {
            self = .run(command: command)
        } else if let step = try c.decodeIfPresent(SnakemakeStep.self, forKey: .snakemake) {
            self = .snakemake(step)
        } else if let step = try c.decodeIfPresent(MockStep.self, forKey: .mock) {
            self = .mock(step)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "a step needs run, snakemake or mock"))
        }
    }
}

public struct SnakemakeStep: Sendable, Equatable, Hashable, Codable {
    /// As written; in a workflow, a relative path is resolved against the workflow directory.
    public var snakefile: String
    public var targets: [String]
    public var cores: Int
    public var args: [String]

    public init(snakefile: String, targets: [String] = [], cores: Int = 1, args: [String] = []) {
        self.snakefile = snakefile
        self.targets = targets
        self.cores = cores
        self.args = args
    }
}

public struct MockStep: Sendable, Equatable, Hashable, Codable {
    public var duration: DurationValue
    /// Chance of failing, 0…1.
    public var failRate: Double
    public var seed: Int?

    enum CodingKeys: String, CodingKey {
        case duration, failRate = "fail_rate", seed
    }

    public init(duration: DurationValue, failRate: Double = 0, seed: Int? = nil) {
        self.duration = duration
        self.failRate = failRate
        self.seed = seed
    }
}

// MARK: - Reading steps

extension Step {
    static let types = ["run", "snakemake", "mock"]
    static let keys = ["name", "run", "snakemake", "mock", "timeout", "retries", "outputs", "resources"]

    /// A non-empty list of steps with distinct names. `snakefileBase` (a workflow's
    /// directory) resolves relative snakefiles.
    static func decodeList(_ node: YAMLNode, _ path: String, _ c: inout Checker, snakefileBase: String?) -> [Step]? {
        guard let items = c.sequence(node, path) else { return nil }
        if items.isEmpty {
            c.error(node, path, "expected at least one step; got an empty list")
            return nil
        }
        var steps: [Step] = []
        var ok = true
        var seen: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            let p = Checker.index(path, i)
            let nameNode = item["name"]
            if let nameNode, let name = nameNode.scalar, Names.isValid(name, maxLength: 64) {
                if let first = seen[name] {
                    c.error(nameNode, Checker.join(p, "name"), "duplicate step name \(quoted(name)) (first at line \(first))")
                    ok = false
                } else {
                    seen[name] = nameNode.line
                }
            }
            if let step = decode(item, p, &c, snakefileBase: snakefileBase) { steps.append(step) } else { ok = false }
        }
        return ok ? steps : nil
    }

    static func decode(_ node: YAMLNode, _ path: String, _ c: inout Checker, snakefileBase: String?) -> Step? {
        guard let pairs = c.mapping(node, path) else { return nil }
        let before = c.diagnostics.count
        var name: String?
        var kind: StepKind?
        var typeKeys: [String] = []
        var timeout: DurationValue?
        var retries: Int?
        var outputs: [String] = []
        var resources: Resources?
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "name":
                guard let text = c.line(value, p) else { continue }
                if Names.isValid(text, maxLength: 64) {
                    name = text
                } else {
                    c.error(value, p, "step name \(quoted(text)) is not valid: use at most 64 letters, digits, '.', '_', '-', starting with a letter or digit")
                }
            case "run", "snakemake", "mock":
                typeKeys.append(k)
                if typeKeys.count > 1 {
                    c.error(key, path, "a step has exactly one type; found \(typeKeys.joined(separator: " and "))")
                    continue
                }
                switch k {
                case "run": kind = c.string(value, p).map { .run(command: $0) }
                case "snakemake": kind = decodeSnakemake(value, p, &c, base: snakefileBase).map { .snakemake($0) }
                default: kind = decodeMock(value, p, &c).map { .mock($0) }
                }
            case "timeout": timeout = c.duration(value, p)
            case "retries": retries = c.int(value, p, min: 0, max: 100)
            case "outputs": outputs = c.list(value, p) { c, n, p in decodeOutput(n, p, &c) } ?? []
            case "resources": resources = Resources.decode(value, p, &c)
            default: c.unknownKey(key, path, valid: keys)
            }
        }
        if node["name"] == nil { c.missing("name", in: node, path) }
        if typeKeys.isEmpty {
            let who = name.map { "step \(quoted($0))" } ?? "this step"
            c.error(node, path, "\(who) has no type: give one of run, snakemake, mock")
        }
        guard c.diagnostics.count == before, let name, let kind else { return nil }
        return Step(name: name, kind: kind, timeout: timeout, retries: retries, outputs: outputs, resources: resources)
    }

    static func decodeSnakemake(_ node: YAMLNode, _ path: String, _ c: inout Checker, base: String?) -> SnakemakeStep? {
        guard let pairs = c.mapping(node, path) else { return nil }
        let before = c.diagnostics.count
        var snakefile: String?
        var step = SnakemakeStep(snakefile: "")
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "snakefile": snakefile = c.line(value, p)
            case "targets": step.targets = c.list(value, p) { c, n, p in c.line(n, p) } ?? []
            case "cores": step.cores = c.int(value, p, min: 1, max: 100_000) ?? 1
            case "args": step.args = c.list(value, p) { c, n, p in c.string(n, p, nonEmpty: false) } ?? []
            default: c.unknownKey(key, path, valid: ["snakefile", "targets", "cores", "args"])
            }
        }
        if node["snakefile"] == nil { c.missing("snakefile", in: node, path) }
        guard c.diagnostics.count == before, let snakefile else { return nil }
        if let base, !snakefile.hasPrefix("/") {
            step.snakefile = base.hasSuffix("/") ? base + snakefile : base + "/" + snakefile
        } else {
            step.snakefile = snakefile
        }
        return step
    }

    static func decodeMock(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> MockStep? {
        guard let pairs = c.mapping(node, path) else { return nil }
        let before = c.diagnostics.count
        var duration: DurationValue?
        var step = MockStep(duration: DurationValue(seconds: 0))
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "duration": duration = c.duration(value, p, allowZero: true)
            case "fail_rate": step.failRate = c.number(value, p, min: 0, max: 1) ?? 0
            case "seed": step.seed = c.int(value, p)
            default: c.unknownKey(key, path, valid: ["duration", "fail_rate", "seed"])
            }
        }
        if node["duration"] == nil { c.missing("duration", in: node, path) }
        guard c.diagnostics.count == before, let duration else { return nil }
        step.duration = duration
        return step
    }

    /// A glob inside the workspace: relative, no `..` component, one line.
    static func decodeOutput(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> String? {
        guard let glob = c.line(node, path) else { return nil }
        if glob.hasPrefix("/") {
            c.error(node, path, "output \(quoted(glob)) must be a relative path inside the workspace")
            return nil
        }
        if glob.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            c.error(node, path, "output \(quoted(glob)) must not contain a \"..\" component")
            return nil
        }
        return glob
    }
}
