// RunCrate+Entities — the crate's workflow, parameters, actions (one per step attempt) and
// agents, built from what the job ran with (see RunCrate.swift for the crate as a whole).
import HopperCore

extension RunCrate {
    static func formalIDs(_ m: JobManifest) -> [String] {
        m.params.keys.sorted().map(paramID) + m.inputs.keys.sorted().map(inputParamID)
    }

    static func workflowEntities(_ facts: Facts) -> [LDEntity] {
        var out: [LDEntity] = []
        if isNamed(facts) {
            var lang = LDEntity(languageID, "ComputerLanguage")
            lang.set("name", "Hopper workflow")
            lang.set("alternateName", "Hopper")
            lang.set("version", "1")
            out.append(lang)
        }
        if !facts.snakefiles.isEmpty {
            var sm = LDEntity(snakemakeLanguageID, "ComputerLanguage")
            sm.set("name", "Snakemake")
            sm.set("identifier", ref: "https://doi.org/10.1093/bioinformatics/bts480")
            sm.set("url", ref: "https://snakemake.readthedocs.io")
            if let v = facts.snakemakeVersion { sm.set("version", v) }
            out.append(sm)
        }
        for step in facts.manifest.resolvedSteps {
            var e = LDEntity(stepID(step.name), "SoftwareApplication")
            e.set("name", step.name)
            e.set("description", stepDescription(step))
            var requirements = [hopperID]
            if case .snakemake(let sm) = step.kind {
                requirements.append(snakemakeID)
                if let copy = facts.snakefiles[sm.snakefile] { e.set("hasPart", refs: [copy]) }
            }
            e.set("softwareRequirements", refs: requirements)
            out.append(e)
        }
        return out
    }

    static func stepDescription(_ step: Step) -> String {
        switch step.kind {
        case .run(let command): return "run: " + command
        case .mock(let mock): return "mock: " + mock.duration.text + ", fail_rate \(mock.failRate)"
        case .snakemake(let sm):
            let targets = sm.targets.isEmpty ? "" : " " + sm.targets.joined(separator: " ")
            return "snakemake -s " + sm.snakefile + targets
        }
    }

    static func parameterEntities(_ facts: Facts) -> [LDEntity] {
        var out: [LDEntity] = []
        let m = facts.manifest
        for name in m.params.keys.sorted() {
            let value = m.params[name]!
            var p = LDEntity(paramID(name), "FormalParameter")
            p.set("conformsTo", ref: formalParameterProfile)
            p.set("name", name)
            p.set("additionalType", additionalType(value))
            p.set("workExample", ref: valueID(name))
            out.append(p)
            var v = LDEntity(valueID(name), "PropertyValue")
            v.set("name", name)
            v.set("value", propertyValue(value))
            v.set("exampleOfWork", ref: paramID(name))
            out.append(v)
        }
        for name in m.inputs.keys.sorted() {
            var p = LDEntity(inputParamID(name), "FormalParameter")
            p.set("conformsTo", ref: formalParameterProfile)
            p.set("name", name)
            p.set("additionalType", "File")
            p.set("description", "An input, staged into the workspace's inputs/")
            p.set("workExample", ref: inputValueID(name))
            out.append(p)
            var v = LDEntity(inputValueID(name), "PropertyValue")
            v.set("name", name)
            v.set("value", m.inputs[name]!)
            v.set("exampleOfWork", ref: inputParamID(name))
            out.append(v)
        }
        return out
    }

    static func additionalType(_ v: ParamValue) -> String {
        switch v {
        case .string: return "Text"
        case .integer: return "Integer"
        case .number: return "Float"
        case .boolean: return "Boolean"
        }
    }

    static func propertyValue(_ v: ParamValue) -> LD {
        switch v {
        case .string(let s): return .string(s)
        case .integer(let i): return .int(Int64(i))
        case .number: return .string(v.stringValue)
        case .boolean(let b): return .bool(b)
        }
    }

    static func valueIDs(_ m: JobManifest) -> [String] {
        m.params.keys.sorted().map(valueID) + m.inputs.keys.sorted().map(inputValueID)
    }

    static func actionStatus(_ state: JobState) -> String {
        switch state {
        case .completed: return "http://schema.org/CompletedActionStatus"
        case .failed, .cancelled: return "http://schema.org/FailedActionStatus"
        default: return "http://schema.org/ActiveActionStatus"
        }
    }

    static func actionStatus(_ state: StepState) -> String {
        switch state {
        case .completed: return "http://schema.org/CompletedActionStatus"
        case .running, .queued: return "http://schema.org/ActiveActionStatus"
        case .pending, .skipped: return "http://schema.org/PotentialActionStatus"
        case .failed, .cancelled, .interrupted: return "http://schema.org/FailedActionStatus"
        }
    }

    static func resultPaths(_ facts: Facts) -> [String] {
        facts.status.results.map(\.path)
    }

    /// The results a step's outputs match.
    static func results(of step: Step, _ facts: Facts) -> [String] {
        var globs: [OutputGlob] = []
        for pattern in step.outputs {
            if let g = try? OutputGlob(pattern) { globs.append(g) }   // silent: the plan's patterns were checked at acceptance
        }
        let prefix = ResultPublisher.prefix
        return resultPaths(facts).filter { path in
            let rel = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
            return globs.contains { $0.matches(rel) }
        }
    }

    static func actionEntities(_ facts: Facts) -> [LDEntity] {
        let s = facts.status
        var out: [LDEntity] = []
        var run = LDEntity(runID, "CreateAction")
        run.set("name", "Run of job " + s.id)
        run.set("instrument", ref: facts.workflowFile ?? inlineWorkflowID)
        run.set("object", refs: valueIDs(facts.manifest))
        run.set("result", refs: resultPaths(facts))
        if let start = s.startedAt { run.set("startTime", start) }
        if let end = s.finishedAt { run.set("endTime", end) }
        run.set("actionStatus", ref: actionStatus(s.state))
        if let error = s.error { run.set("error", error.message) }
        run.set("agent", ref: ownerID(s.owner))
        if s.state == .cancelled && s.error == nil { run.set("error", "cancelled") }
        out.append(run)

        if !isNamed(facts) {
            var inline = LDEntity(inlineWorkflowID, "SoftwareApplication")
            inline.set("name", "Inline steps of job " + s.id)
            inline.set("description", "The steps given in manifest.yaml (plan.json has them as they ran)")
            inline.set("hasPart", refs: facts.manifest.resolvedSteps.map { stepID($0.name) })
            out.append(inline)
        }

        var organize = LDEntity(organizeID, "OrganizeAction")
        organize.set("name", "Hopper's run of job " + s.id)
        organize.set("instrument", ref: hopperID)
        organize.set("agent", ref: ownerID(s.owner))
        organize.set("result", ref: runID)
        if let start = s.startedAt { organize.set("startTime", start) }
        if let end = s.finishedAt { organize.set("endTime", end) }
        organize.set("actionStatus", ref: actionStatus(s.state))
        out.append(organize)

        let steps = Dictionary(facts.manifest.resolvedSteps.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for status in s.steps {
            guard let step = steps[status.name] else { continue }
            out += attemptEntities(status, step, facts)
        }
        return out
    }

    static func attemptEntities(_ status: StepStatus, _ step: Step, _ facts: Facts) -> [LDEntity] {
        var out: [LDEntity] = []
        // The results belong to the step's last completed attempt (each publish replaces the files).
        let published = status.attempts.last { $0.state == .completed }?.attempt
        for attempt in status.attempts {
            var a = LDEntity(attemptID(status.name, attempt.attempt), "CreateAction")
            a.set("name", "step \(status.name) attempt \(attempt.attempt)")
            a.set("instrument", ref: stepID(status.name))
            a.set("object", refs: valueIDs(facts.manifest))
            a.set("result", refs: attempt.attempt == published ? results(of: step, facts) : [])
            if let start = attempt.startedAt { a.set("startTime", start) }
            if let end = attempt.finishedAt { a.set("endTime", end) }
            a.set("actionStatus", ref: actionStatus(attempt.state))
            if attempt.state != .completed {
                var error = attempt.message ?? attempt.state.rawValue
                if let code = attempt.exitCode { error += " (exit code \(code))" }
                a.set("error", error)
            }
            a.set("agent", ref: ownerID(facts.status.owner))
            out.append(a)
        }
        return out
    }

    static func agentEntities(_ facts: Facts) -> [LDEntity] {
        var out: [LDEntity] = []
        var owner = LDEntity(ownerID(facts.status.owner), "Person")
        owner.set("name", facts.status.owner)
        owner.set("description", "The job's owner (the account that submitted it)")
        out.append(owner)
        var hopper = LDEntity(hopperID, "SoftwareApplication")
        hopper.set("name", "Hopper")
        hopper.set("version", facts.hopperVersion)
        hopper.set("description", "A batch processor whose interface is a spool directory")
        out.append(hopper)
        let usesSnakemake = facts.manifest.resolvedSteps.contains { if case .snakemake = $0.kind { return true } else { return false } }
        if usesSnakemake {
            var sm = LDEntity(snakemakeID, "SoftwareApplication")
            sm.set("name", "Snakemake")
            sm.set("version", facts.snakemakeVersion ?? "unknown")
            sm.set("url", ref: "https://snakemake.readthedocs.io")
            out.append(sm)
        }
        return out
    }
}
