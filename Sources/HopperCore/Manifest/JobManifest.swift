// JobManifest — a validated job manifest, version 1 (SPEC §3).
//
//   version: 1                     # optional; only 1
//   workflow: variant-calling      # or inline `steps:` — exactly one of the two
//   params: {sample: S001}         # checked against the workflow's params; defaults applied
//   inputs: {reads: /nfs/seq/run42/S001_R1.fastq.gz}
//   wait_for: {paths: [/nfs/seq/run42/CopyComplete.txt], timeout: 12h}
//   executor: local                # local | slurm
//   resources: {cpus: 4, memory: 8G, time: 2h}
//   priority: 10                   # -1000…1000, default 0
//   retries: 1                     # 0…100, default retries of each step
//   timeout: 6h                    # whole-job limit
//   notify: {email: [alice@lab.example], on: [completed, failed], command: /usr/local/bin/post}
//   description: Variant calling on S001

public struct JobManifest: Sendable, Equatable, Codable {
    public var version: Int
    /// The workflow named by `workflow:`, or nil for inline `steps:`.
    public var workflowName: String?
    /// The steps to run: the workflow's, or the inline ones.
    public var resolvedSteps: [Step]
    /// Every param, the workflow's defaults included.
    public var params: [String: ParamValue]
    /// Input name → path, staged into the workspace's `inputs/` (a symlink, unless copied).
    /// A relative path is relative to the spool root.
    public var inputs: [String: String]
    /// Inputs given as `{path: …, stage: copy}`: copied into the workspace instead of linked.
    public var copiedInputs: [String]?
    public var waitFor: WaitFor?
    public var executor: ExecutorKind?
    public var resources: Resources?
    /// Higher runs first; FIFO within a priority.
    public var priority: Int
    /// Default retries for each step that does not set its own.
    public var retries: Int?
    public var timeout: DurationValue?
    public var notify: Notify?
    public var description: String?

    public init(version: Int = 1, workflowName: String? = nil, resolvedSteps: [Step], params: [String: ParamValue] = [:],
                inputs: [String: String] = [:], waitFor: WaitFor? = nil, executor: ExecutorKind? = nil,
                resources: Resources? = nil, priority: Int = 0, retries: Int? = nil, timeout: DurationValue? = nil,
                notify: Notify? = nil, description: String? = nil) {
        self.version = version
        self.workflowName = workflowName
        self.resolvedSteps = resolvedSteps
        self.params = params
        self.inputs = inputs
        self.waitFor = waitFor
        self.executor = executor
        self.resources = resources
        self.priority = priority
        self.retries = retries
        self.timeout = timeout
        self.notify = notify
        self.description = description
    }

    /// JSON mirrors the manifest's own keys.
    enum CodingKeys: String, CodingKey {
        case version, params, inputs, executor, resources, priority, retries, timeout, notify, description
        case workflowName = "workflow", resolvedSteps = "steps", waitFor = "wait_for", copiedInputs = "copied_inputs"
    }

    static let keys = ["version", "workflow", "steps", "params", "inputs", "wait_for", "executor", "resources",
                       "priority", "retries", "timeout", "notify", "description"]

    static func decode(_ root: YAMLNode, _ pairs: [(key: YAMLNode, value: YAMLNode)], catalog: WorkflowCatalog?,
                       defaultWorkflow: String? = nil, _ c: inout Checker) -> JobManifest? {
        var m = JobManifest(resolvedSteps: [])
        var workflowEntry: (key: YAMLNode, value: YAMLNode)?
        var stepsEntry: (key: YAMLNode, value: YAMLNode)?
        var paramsEntry: (key: YAMLNode, value: YAMLNode)?
        var inputsEntry: (key: YAMLNode, value: YAMLNode)?
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            switch k {
            case "version":
                if let v = c.int(value, k), v != 1 {
                    c.error(value, k, "unsupported manifest version \(v); this Hopper reads version 1")
                }
            case "workflow": workflowEntry = (key, value)
            case "steps": stepsEntry = (key, value)
            case "params": paramsEntry = (key, value)
            case "inputs":
                inputsEntry = (key, value)
                (m.inputs, m.copiedInputs) = decodeInputs(value, k, &c)
            case "wait_for": m.waitFor = WaitFor.decode(value, k, &c)
            case "executor": m.executor = c.choice(value, k, ExecutorKind.self)
            case "resources": m.resources = Resources.decode(value, k, &c)
            case "priority": m.priority = c.int(value, k, min: -1000, max: 1000) ?? 0
            case "retries": m.retries = c.int(value, k, min: 0, max: 100)
            case "timeout": m.timeout = c.duration(value, k)
            case "notify": m.notify = Notify.decode(value, k, &c)
            case "description": m.description = c.string(value, k, nonEmpty: false)
            default: c.unknownKey(key, "", valid: keys)
            }
        }

        switch (workflowEntry, stepsEntry) {
        case (nil, nil):
            if let name = defaultWorkflow {
                // The queue's workflow: as if the manifest had said `workflow: <name>`.
                m.workflowName = name
                if let workflow = resolveWorkflow(name, root, catalog, &c) {
                    m.resolvedSteps = workflow.steps
                    m.params = checkParams(paramsEntry, against: workflow, root: root, &c)
                    checkInputs(m.inputs, inputsEntry, against: workflow, root: root, &c)
                }
                return m
            }
            c.error(root, "", "a manifest needs either \"workflow\" (a workflow's name) or \"steps\" (inline steps)")
        case let (w?, s?):
            let later = (w.key.line, w.key.column) > (s.key.line, s.key.column) ? w.key : s.key
            c.error(later, "", "give either \"workflow\" or \"steps\", not both")
        default:
            break
        }

        if let stepsEntry {
            m.resolvedSteps = Step.decodeList(stepsEntry.value, "steps", &c, snakefileBase: nil) ?? []
            if workflowEntry == nil, let paramsEntry {
                m.params = decodeInlineParams(paramsEntry.value, "params", &c)
            }
        }
        if let workflowEntry, let name = c.line(workflowEntry.value, "workflow") {
            m.workflowName = name
            if let workflow = resolveWorkflow(name, workflowEntry.value, catalog, &c) {
                if stepsEntry == nil {      // with both, only the conflict is worth reporting
                    m.resolvedSteps = workflow.steps
                    m.params = checkParams(paramsEntry, against: workflow, root: root, &c)
                    checkInputs(m.inputs, inputsEntry, against: workflow, root: root, &c)
                }
            }
        }
        return m
    }

    static func resolveWorkflow(_ name: String, _ node: YAMLNode, _ catalog: WorkflowCatalog?,
                                _ c: inout Checker) -> Workflow? {
        guard let catalog else {
            c.error(node, "workflow", "no workflow directory configured (`workflows:` in the daemon's config; `hopper system` shows it)")
            return nil
        }
        guard Names.isValid(name) else {
            c.error(node, "workflow", "workflow name \(quoted(name)) is not valid: it must match \(Names.idRule)")
            return nil
        }
        switch catalog.lookup(name) {
        case .found(let workflow):
            return workflow
        case .notFound:
            let names = catalog.names()
            let available = names.isEmpty ? "there are none in \(catalog.directory)" : "available: " + names.joined(separator: ", ")
            c.error(node, "workflow", "unknown workflow \(quoted(name)); \(available)")
        case .invalid(let error):
            var message = "workflow \(quoted(name)) is invalid: "
            if let first = error.diagnostics.first { message += first.formatted(file: error.file) }
            if error.diagnostics.count > 1 { message += " (and \(error.diagnostics.count - 1) more)" }
            c.error(node, "workflow", message)
        }
        return nil
    }

    /// Params for a workflow: each must be declared and fit its declaration; required ones
    /// must be given; defaults fill the rest.
    static func checkParams(_ entry: (key: YAMLNode, value: YAMLNode)?, against workflow: Workflow, root: YAMLNode,
                            _ c: inout Checker) -> [String: ParamValue] {
        var values: [String: ParamValue] = [:]
        var given: Set<String> = []
        if let entry, let pairs = c.mapping(entry.value, "params") {
            for (key, value) in pairs {
                let name = key.scalar ?? ""
                given.insert(name)
                guard let spec = workflow.param(named: name) else {
                    let declared = workflow.params.map(\.name)
                    var message = "unknown param \(quoted(name))"
                    if let guess = Checker.closest(to: name, in: declared) {
                        message += "; did you mean \(quoted(guess))?"
                    } else if declared.isEmpty {
                        message += "; workflow \(quoted(workflow.name)) takes no params"
                    } else {
                        message += "; workflow \(quoted(workflow.name)) takes " + declared.joined(separator: ", ")
                    }
                    c.error(key, "params." + name, message)
                    continue
                }
                if let v = spec.value(of: value, "params." + name, &c) { values[name] = v }
            }
        }
        for spec in workflow.params where !given.contains(spec.name) {
            if let d = spec.defaultValue {
                values[spec.name] = d
            } else if spec.required {
                c.error(entry?.key ?? root, "params", "missing required param \(quoted(spec.name))")
            }
        }
        return values
    }

    /// Params for inline steps: any names, values typed as YAML 1.2 core plain scalars
    /// (integers without leading zeros, numbers, true/false); anything else is a string.
    static func decodeInlineParams(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> [String: ParamValue] {
        guard let pairs = c.mapping(node, path) else { return [:] }
        var values: [String: ParamValue] = [:]
        var variables: [String: String] = [:]
        for (key, value) in pairs {
            let name = key.scalar ?? ""
            let p = Checker.join(path, name)
            guard checkVariableName(name, key, path, kind: "param", prefix: "HOPPER_PARAM_", &variables, &c) else { continue }
            guard case .scalar(let text, let style, _) = value.kind, !value.isNull else {
                c.error(value, p, "expected a string, number or boolean; got \(value.described)")
                continue
            }
            values[name] = style == .plain ? inferred(text) : .string(text)
        }
        return values
    }

    static func inferred(_ text: String) -> ParamValue {
        if let b = Checker.parseBool(text) { return .boolean(b) }
        let digits = text.utf8.drop { $0 == 0x2D || $0 == 0x2B }
        let leadingZero = digits.count > 1 && digits.first == 0x30 && digits.dropFirst().first != 0x2E
        if leadingZero { return .string(text) }         // `007` is an id, not 7
        if let i = Checker.parseInt(text) { return .integer(i) }
        if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return .string(text) }   // too large for Int
        if let d = Checker.parseNumber(text) { return .number(d) }
        return .string(text)
    }

    /// The inputs a workflow declares: each required one given, none it does not declare (a
    /// workflow that declares none takes any).
    static func checkInputs(_ inputs: [String: String], _ entry: (key: YAMLNode, value: YAMLNode)?,
                            against workflow: Workflow, root: YAMLNode, _ c: inout Checker) {
        guard !workflow.inputs.isEmpty else { return }
        let declared = workflow.inputs.map(\.name)
        for spec in workflow.inputs where spec.required && inputs[spec.name] == nil {
            let about = spec.description.map { ": \($0)" } ?? ""
            c.error(entry?.key ?? root, "inputs", "missing required input \(quoted(spec.name)) (workflow \(workflow.name)\(about))")
        }
        for (key, _) in entry?.value.pairs ?? [] {
            guard let name = key.scalar, !declared.contains(name) else { continue }
            c.error(key, Checker.join("inputs", name), "workflow \(workflow.name) declares no input \(quoted(name)); its inputs are \(declared.joined(separator: ", "))")
        }
    }

    /// `name: path`, or `name: {path: path, stage: symlink|copy}`.
    static func decodeInputs(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> ([String: String], [String]?) {
        guard let pairs = c.mapping(node, path) else { return ([:], nil) }
        var inputs: [String: String] = [:]
        var copied: [String] = []
        var variables: [String: String] = [:]
        for (key, value) in pairs {
            let name = key.scalar ?? ""
            guard checkVariableName(name, key, path, kind: "input", prefix: "HOPPER_INPUT_", &variables, &c) else { continue }
            let here = Checker.join(path, name)
            if let fields = value.pairs {
                var file: String?
                for (fkey, fvalue) in fields {
                    let f = fkey.scalar ?? ""
                    switch f {
                    case "path": file = c.line(fvalue, Checker.join(here, f))
                    case "stage":
                        if let mode = c.string(fvalue, Checker.join(here, f)) {
                            if mode == "copy" { copied.append(name) } else if mode != "symlink" {
                                c.error(fvalue, Checker.join(here, f), "expected one of symlink, copy; got \(quoted(mode))")
                            }
                        }
                    default: c.unknownKey(fkey, here, valid: ["path", "stage"])
                    }
                }
                if let file { inputs[name] = file } else { c.error(value, here, "missing required key \"path\"") }
            } else if let file = c.line(value, here) {
                inputs[name] = file
            }
        }
        return (inputs, copied.isEmpty ? nil : copied.sorted())
    }

    /// Param and input names become environment variables: `[A-Za-z_][A-Za-z0-9_]*`, and no
    /// two may map to the same variable (`Sample` and `sample`).
    static func checkVariableName(_ name: String, _ key: YAMLNode, _ path: String, kind: String, prefix: String,
                                  _ seen: inout [String: String], _ c: inout Checker) -> Bool {
        guard isVariableName(name) else {
            c.error(key, path, "\(kind) name \(quoted(name)) is not valid: use letters, digits and '_', not starting with a digit")
            return false
        }
        let variable = Names.environmentName(name)
        if let other = seen[variable] {
            c.error(key, path, "\(kind)s \(quoted(other)) and \(quoted(name)) would both be \(prefix)\(variable)")
            return false
        }
        seen[variable] = name
        return true
    }
}
