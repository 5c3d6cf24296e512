// Workflow — a `Workflows/<name>.yaml` file: the params a job may give and the steps it runs.
//
//   description: Toy variant calling
//   params:
//     sample: {type: string, required: true, pattern: "^S[0-9]+$"}
//     genome: {type: string, enum: [hg19, hg38], default: hg38}
//     threads: {type: integer, min: 1, max: 64, default: 4}
//   inputs:
//     reads: {description: FASTQ reads}
//     adapters: {required: false}
//   steps:
//     - name: qc
//       run: fastqc "$HOPPER_INPUT_READS" -o qc/
//
// Inputs a workflow declares are required unless `required: false`: a manifest that lacks one
// is rejected naming it, and one naming an input the workflow does not declare is rejected too.
// A workflow that declares none takes any inputs.
//
// A param spec: `type` (string | integer | number | boolean | path; required), `required`,
// `default` (of that type), `enum` (allowed values), `description`, `min`/`max` (integer and
// number), `pattern` (string and path: a regular expression the value must contain a match
// of; anchor it with ^…$ to match the whole value).

public struct Workflow: Sendable, Equatable, Codable {
    public var name: String
    public var description: String?
    /// In declaration order.
    public var params: [ParamSpec]
    /// The inputs it declares, in declaration order; empty: it takes any.
    public var inputs: [InputSpec]
    public var steps: [Step]

    public init(name: String, description: String? = nil, params: [ParamSpec] = [], inputs: [InputSpec] = [], steps: [Step]) {
        self.name = name
        self.description = description
        self.params = params
        self.inputs = inputs
        self.steps = steps
    }

    public func param(named name: String) -> ParamSpec? {
        params.first { $0.name == name }
    }

    static let keys = ["description", "params", "inputs", "steps"]

    /// Parses a workflow file. `fileName` names it in diagnostics (`Workflows/demo.yaml`);
    /// `directory` resolves relative snakefiles.
    public static func parse(_ bytes: [UInt8], name: String, fileName: String, directory: String? = nil,
                             limits: YAMLLimits = YAMLLimits()) -> Result<Workflow, ManifestError> {
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(bytes, limits: limits)
        } catch {
            return .failure(ManifestError(file: fileName, reason: "invalid workflow", diagnostics: error.diagnostics))
        }
        var c = Checker()
        let workflow = decode(root, name: name, directory: directory, &c)
        guard let workflow, c.diagnostics.isEmpty else {
            return .failure(ManifestError(file: fileName, reason: "invalid workflow", diagnostics: c.sortedDiagnostics))
        }
        return .success(workflow)
    }

    static func decode(_ root: YAMLNode, name: String, directory: String?, _ c: inout Checker) -> Workflow? {
        guard let pairs = c.mapping(root, "") else { return nil }
        var description: String?
        var params: [ParamSpec] = []
        var inputs: [InputSpec] = []
        var steps: [Step]?
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            switch k {
            case "description": description = c.string(value, k, nonEmpty: false)
            case "params": params = decodeParams(value, k, &c)
            case "inputs": inputs = InputSpec.decodeList(value, k, &c)
            case "steps": steps = Step.decodeList(value, k, &c, snakefileBase: directory)
            default: c.unknownKey(key, "", valid: keys)
            }
        }
        if root["steps"] == nil { c.missing("steps", in: root, "") }
        guard let steps else { return nil }
        return Workflow(name: name, description: description, params: params, inputs: inputs, steps: steps)
    }

    static func decodeParams(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> [ParamSpec] {
        guard let pairs = c.mapping(node, path) else { return [] }
        var specs: [ParamSpec] = []
        var variables: [String: String] = [:]
        for (key, value) in pairs {
            let name = key.scalar ?? ""
            let p = Checker.join(path, name)
            guard isVariableName(name) else {
                c.error(key, path, "param name \(quoted(name)) is not valid: use letters, digits and '_', not starting with a digit")
                continue
            }
            let variable = Names.environmentName(name)
            if let other = variables[variable] {
                c.error(key, path, "params \(quoted(other)) and \(quoted(name)) would both be HOPPER_PARAM_\(variable)")
                continue
            }
            variables[variable] = name
            if let spec = ParamSpec.decode(value, name: name, p, &c) { specs.append(spec) }
        }
        return specs
    }
}

/// An input a workflow declares: `name: {required: false, description: …}` (or `name:` alone).
public struct InputSpec: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var required: Bool
    public var description: String?

    public init(name: String, required: Bool = true, description: String? = nil) {
        self.name = name
        self.required = required
        self.description = description
    }

    static let keys = ["required", "description"]

    static func decodeList(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> [InputSpec] {
        guard let pairs = c.mapping(node, path) else { return [] }
        var specs: [InputSpec] = []
        for (key, value) in pairs {
            let name = key.scalar ?? ""
            let here = Checker.join(path, name)
            guard isVariableName(name) else {
                c.error(key, path, "input name \(quoted(name)) is not valid: use letters, digits and '_', not starting with a digit")
                continue
            }
            var spec = InputSpec(name: name)
            if !value.isNull {
                guard let fields = c.mapping(value, here) else { continue }
                for (fkey, fvalue) in fields {
                    let f = fkey.scalar ?? ""
                    switch f {
                    case "required": spec.required = c.bool(fvalue, Checker.join(here, f)) ?? true
                    case "description": spec.description = c.string(fvalue, Checker.join(here, f), nonEmpty: false)
                    default: c.unknownKey(fkey, here, valid: keys)
                    }
                }
            }
            specs.append(spec)
        }
        return specs
    }
}

public enum ParamType: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case string, integer, number, boolean, path
}

/// A regular expression from a workflow's `pattern:`, compiled once when the workflow loads.
public struct ParamPattern: @unchecked Sendable, Hashable, Codable, CustomStringConvertible {
    // Regex is an immutable value; it is only read after init.
    public let source: String
    let regex: Regex<AnyRegexOutput>

    public init(_ source: String) throws {
        self.source = source
        self.regex = try Regex(source)
    }

    /// True when the value contains a match (anchor the pattern to match the whole value).
    public func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }

    public var description: String { source }
    public static func == (a: ParamPattern, b: ParamPattern) -> Bool { a.source == b.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(source)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        try self.init(try c.decode(String.self))
    }
}

public struct ParamSpec: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var type: ParamType
    public var required: Bool
    public var defaultValue: ParamValue?
    /// The allowed values (`enum:`), or nil for any.
    public var allowed: [ParamValue]?
    public var description: String?
    public var min: Double?
    public var max: Double?
    public var pattern: ParamPattern?

    public init(name: String, type: ParamType, required: Bool = false, defaultValue: ParamValue? = nil,
                allowed: [ParamValue]? = nil, description: String? = nil, min: Double? = nil, max: Double? = nil,
                pattern: ParamPattern? = nil) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.allowed = allowed
        self.description = description
        self.min = min
        self.max = max
        self.pattern = pattern
    }

    enum CodingKeys: String, CodingKey {
        case name, type, required, description, min, max, pattern
        case defaultValue = "default", allowed = "enum"
    }

    static let keys = ["type", "required", "default", "enum", "description", "min", "max", "pattern"]

    /// Reads a value of this param from a manifest (or a `default:`), checking type, enum,
    /// min/max and pattern; records a diagnostic and returns nil when it does not fit.
    func value(of node: YAMLNode, _ path: String, _ c: inout Checker) -> ParamValue? {
        guard let value = ParamSpec.coerce(node, to: type, path, &c) else { return nil }
        return check(value, node, path, &c) ? value : nil
    }

    func check(_ value: ParamValue, _ node: YAMLNode, _ path: String, _ c: inout Checker) -> Bool {
        if let allowed, !allowed.contains(value) {
            c.error(node, path, "expected one of \(allowed.map(\.stringValue).joined(separator: ", ")); got \(value.shown)")
            return false
        }
        switch value {
        case .integer(let i):
            return Checker.inRange(Double(i), min, max, node, path, &c, shown: value.stringValue)
        case .number(let d):
            return Checker.inRange(d, min, max, node, path, &c, shown: value.stringValue)
        case .string(let s):
            if let pattern, !pattern.matches(s) {
                c.error(node, path, "expected a value matching \(pattern.source); got \(value.shown)")
                return false
            }
            return true
        case .boolean:
            return true
        }
    }

    static func coerce(_ node: YAMLNode, to type: ParamType, _ path: String, _ c: inout Checker) -> ParamValue? {
        switch type {
        case .string: return c.string(node, path, nonEmpty: false).map { .string($0) }
        case .path: return c.line(node, path).map { .string($0) }
        case .integer: return c.int(node, path).map { .integer($0) }
        case .number: return c.number(node, path).map { .number($0) }
        case .boolean: return c.bool(node, path).map { .boolean($0) }
        }
    }

    static func decode(_ node: YAMLNode, name: String, _ path: String, _ c: inout Checker) -> ParamSpec? {
        guard let pairs = c.mapping(node, path) else { return nil }
        let before = c.diagnostics.count
        guard let typeNode = node["type"] else {
            c.missing("type", in: node, path)
            return nil
        }
        guard let type = c.choice(typeNode, Checker.join(path, "type"), ParamType.self) else { return nil }
        var spec = ParamSpec(name: name, type: type)
        var defaultNode: YAMLNode?
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "type": break
            case "required": spec.required = c.bool(value, p) ?? false
            case "default": defaultNode = value
            case "enum": spec.allowed = c.list(value, p, nonEmpty: true) { c, n, p in coerce(n, to: type, p, &c) }
            case "description": spec.description = c.string(value, p, nonEmpty: false)
            case "min", "max":
                guard type == .integer || type == .number else {
                    c.error(key, path, "\(k) is only allowed for integer and number params")
                    continue
                }
                let bound = type == .integer ? c.int(value, p).map(Double.init) : c.number(value, p)
                if k == "min" { spec.min = bound } else { spec.max = bound }
            case "pattern":
                guard type == .string || type == .path else {
                    c.error(key, path, "pattern is only allowed for string and path params")
                    continue
                }
                guard let source = c.string(value, p) else { continue }
                do {
                    spec.pattern = try ParamPattern(source)
                } catch {
                    c.error(value, p, "not a valid regular expression: \(error)")
                }
            default: c.unknownKey(key, path, valid: keys)
            }
        }
        if let min = spec.min, let max = spec.max, min > max, let maxNode = node["max"] {
            c.error(maxNode, Checker.join(path, "max"), "max must not be less than min")
        }
        if let defaultNode {
            spec.defaultValue = spec.value(of: defaultNode, Checker.join(path, "default"), &c)
        }
        return c.diagnostics.count == before ? spec : nil
    }
}
