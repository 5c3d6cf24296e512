// ManifestExport — a job's resolved plan (JobManifest) written back as a manifest that
// reproduces it: `hopper export ID [--inline]`.
//
// Every param is written with its value as the job ran with it (the workflow's defaults made
// explicit), then inputs (as given: a relative path is relative to the spool root), wait_for,
// executor, resources, priority, retries, timeout and description. The workflow is named, or
// with `inline` its steps are copied in (a Snakemake step keeps its Snakefile's absolute path:
// that file must exist where the manifest is submitted). `notify:` is left out on purpose: the
// people a job told are not necessarily those an imported job should tell; a comment says so.
//
// Strings are written as JSON strings, which YAML reads as double-quoted scalars, so any value
// (newlines, `#`, `: `, a leading `-`) reads back as the same string. Params of an inline
// manifest are typed by their YAML style (a quoted scalar is a string), so strings stay strings.

public enum ManifestExport {
    /// The manifest's text. `inline`: the steps are copied in instead of the workflow's name;
    /// a manifest that had inline steps always gets them. `header`: comment lines put first.
    public static func yaml(_ m: JobManifest, inline: Bool, header: [String] = []) -> String {
        var out = ""
        for line in header { out += "# " + line + "\n" }
        out += "version: 1\n"
        let inlineSteps = inline || m.workflowName == nil
        if !inlineSteps, let name = m.workflowName {
            out += "workflow: " + quote(name) + "\n"
        }
        if let description = m.description { out += "description: " + quote(description) + "\n" }
        out += paramsSection(m.params)
        out += inputsSection(m)
        if let waitFor = m.waitFor { out += waitForSection(waitFor) }
        if let executor = m.executor { out += "executor: " + executor.rawValue + "\n" }
        if let resources = m.resources, let flow = flow(resources) { out += "resources: " + flow + "\n" }
        out += "priority: \(m.priority)\n"
        if let retries = m.retries { out += "retries: \(retries)\n" }
        if let timeout = m.timeout { out += "timeout: " + quote(timeout.text) + "\n" }
        if m.notify != nil { out += "# notify: left out (see the original manifest.yaml)\n" }
        if inlineSteps {
            if let name = m.workflowName { out += "# steps of the workflow " + quote(name) + ", as the job ran them\n" }
            out += "steps:\n"
            for step in m.resolvedSteps { out += stepText(step) }
        }
        return out
    }

    static func paramsSection(_ params: [String: ParamValue]) -> String {
        guard !params.isEmpty else { return "" }
        var out = "params:\n"
        for name in params.keys.sorted() {
            out += "  " + quote(name) + ": " + scalar(params[name]!) + "\n"
        }
        return out
    }

    static func inputsSection(_ m: JobManifest) -> String {
        guard !m.inputs.isEmpty else { return "" }
        let copied = Set(m.copiedInputs ?? [])
        var out = "inputs:\n"
        for name in m.inputs.keys.sorted() {
            let path = quote(m.inputs[name]!)
            let value = copied.contains(name) ? "{path: " + path + ", stage: copy}" : path
            out += "  " + quote(name) + ": " + value + "\n"
        }
        return out
    }

    static func waitForSection(_ w: WaitFor) -> String {
        var out = "wait_for:\n  paths: [" + w.paths.map(quote).joined(separator: ", ") + "]\n"
        if let t = w.timeout { out += "  timeout: " + quote(t.text) + "\n" }
        if let s = w.stableFor { out += "  stable_for: " + quote(s.text) + "\n" }
        return out
    }

    /// `{cpus: 4, memory: "8G", time: "2h"}`; nil when nothing is set.
    static func flow(_ r: Resources) -> String? {
        var parts: [String] = []
        if let v = r.cpus { parts.append("cpus: \(v)") }
        if let v = r.memory { parts.append("memory: " + quote(v.description)) }
        if let v = r.time { parts.append("time: " + quote(v.text)) }
        if let v = r.partition { parts.append("partition: " + quote(v)) }
        if let v = r.account { parts.append("account: " + quote(v)) }
        if let v = r.qos { parts.append("qos: " + quote(v)) }
        if let v = r.gpus { parts.append("gpus: \(v)") }
        return parts.isEmpty ? nil : "{" + parts.joined(separator: ", ") + "}"
    }

    static func stepText(_ step: Step) -> String {
        var out = "  - name: " + quote(step.name) + "\n"
        switch step.kind {
        case .run(let command):
            out += "    run: " + quote(command) + "\n"
        case .mock(let mock):
            var parts = ["duration: " + quote(mock.duration.text), "fail_rate: \(mock.failRate)"]
            if let seed = mock.seed { parts.append("seed: \(seed)") }
            out += "    mock: {" + parts.joined(separator: ", ") + "}\n"
        case .snakemake(let sm):
            out += "    snakemake:\n      snakefile: " + quote(sm.snakefile) + "\n"
            if !sm.targets.isEmpty { out += "      targets: [" + sm.targets.map(quote).joined(separator: ", ") + "]\n" }
            out += "      cores: \(sm.cores)\n"
            if !sm.args.isEmpty { out += "      args: [" + sm.args.map(quote).joined(separator: ", ") + "]\n" }
        }
        if let t = step.timeout { out += "    timeout: " + quote(t.text) + "\n" }
        if let r = step.retries { out += "    retries: \(r)\n" }
        if !step.outputs.isEmpty { out += "    outputs: [" + step.outputs.map(quote).joined(separator: ", ") + "]\n" }
        if let r = step.resources, let flow = flow(r) { out += "    resources: " + flow + "\n" }
        return out
    }

    /// A param's value: strings quoted (always read back as strings), numbers and booleans plain.
    static func scalar(_ v: ParamValue) -> String {
        if case .string(let s) = v { return quote(s) }
        return v.stringValue
    }

    /// A JSON string: a YAML double-quoted scalar with the same value.
    public static func quote(_ s: String) -> String {
        String(decoding: OrderedJSON.encodeString(s), as: UTF8.self)
    }
}
