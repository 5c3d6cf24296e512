// RunCrate — the RO-Crate 1.1 metadata of a finished job's outbox folder
// (`ro-crate-metadata.json`), following the Workflow Run Crate profile 0.5 for a named
// workflow, the Process Run Crate profile 0.5 for inline steps (docs/provenance.md).
//
// WHAT IT SAYS
//
//   The root Dataset (`./`): the job's id, description, the time it ended (datePublished),
//   the profiles it conforms to, every file of the folder (hasPart: manifest.yaml, status.json,
//   plan.json, params.json, events.jsonl, logs/, results/, workflow/), the actions (mentions).
//   The workflow (named: `workflow/<name>.yaml`, a copy; mainEntity, File + SoftwareSourceCode +
//   ComputationalWorkflow, with the Snakefiles it uses as parts) and its params and inputs as
//   FormalParameters; the values the job ran with as PropertyValues (exampleOfWork: the
//   parameter). A CreateAction for the run (instrument: the workflow; object: the values;
//   result: every published file) and one for every attempt of every step (instrument: the
//   step as a SoftwareApplication; result: the files its outputs matched, for the attempt that
//   published them), with startTime, endTime, actionStatus and error. The owner as the agent
//   (a Person), Hopper and Snakemake as SoftwareApplications with their versions, and an
//   OrganizeAction for Hopper's run of the job (instrument: Hopper; result: the run).
//
//   Files carry contentSize and sha256, except those that still change after the end:
//   events.jsonl (notifications and requests append to it) and `requests/` (a Dataset whose
//   parts are not listed). `ro-crate-preview.html` is described, not hashed: it is the job
//   page, kept by the pages.
//
// This is pure: it builds the JSON from what it is given (RunCrate.Facts); ProvenancePublisher
// gathers the facts and writes the file.
import HopperCore

public enum RunCrate {
    public static let context = "https://w3id.org/ro/crate/1.1/context"
    public static let specification = "https://w3id.org/ro/crate/1.1"
    public static let processProfile = "https://w3id.org/ro/wfrun/process/0.5"
    public static let workflowProfile = "https://w3id.org/ro/wfrun/workflow/0.5"
    public static let workflowCrateProfile = "https://w3id.org/workflowhub/workflow-ro-crate/1.0"
    public static let formalParameterProfile = "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"
    public static let computationalWorkflowProfile = "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"

    /// A file of the folder: its path relative to the folder, size and SHA-256 (nil: not hashed,
    /// it may still change).
    public struct File: Sendable, Equatable {
        public var path: String
        public var bytes: Int64?
        public var sha256: String?
        public init(path: String, bytes: Int64?, sha256: String?) { self.path = path; self.bytes = bytes; self.sha256 = sha256 }
    }

    /// What the crate describes.
    public struct Facts: Sendable {
        public var status: JobStatus
        public var manifest: JobManifest
        /// Every file of the folder, results included (sorted by path).
        public var files: [File]
        /// `workflow/<name>.yaml` when the workflow's file was copied; nil for inline steps.
        public var workflowFile: String?
        /// Copies of the Snakefiles the steps use, under `workflow/`, by the path the plan names.
        public var snakefiles: [String: String]
        public var snakemakeVersion: String?
        public var hopperVersion: String
        /// `requests/` exists (control requests were filed); described as a Dataset whose parts are open.
        public var hasRequests = false
        /// The root's `license` (a URL or a text); Hopper does not know the data's licence.
        public var license = "not stated: ask the job's owner"
        public init(status: JobStatus, manifest: JobManifest, files: [File], workflowFile: String?,
                    snakefiles: [String: String] = [:], snakemakeVersion: String? = nil, hopperVersion: String = HopperVersion.current) {
            self.status = status; self.manifest = manifest; self.files = files; self.workflowFile = workflowFile
            self.snakefiles = snakefiles; self.snakemakeVersion = snakemakeVersion; self.hopperVersion = hopperVersion
        }
    }

    /// The crate's JSON-LD.
    public static func build(_ facts: Facts) -> LD {
        var graph = Graph()
        graph.add(descriptor())
        graph.add(preview())
        graph.add(root(facts))
        for profile in profiles(facts) { graph.add(profile) }
        for entity in fileEntities(facts) { graph.add(entity) }
        for entity in workflowEntities(facts) { graph.add(entity) }
        for entity in parameterEntities(facts) { graph.add(entity) }
        for entity in actionEntities(facts) { graph.add(entity) }
        for entity in agentEntities(facts) { graph.add(entity) }
        var top: [(String, LD)] = []
        top.append(("@context", .string(context)))
        top.append(("@graph", .array(graph.entities)))
        return .object(top)
    }

    struct Graph {
        var entities: [LD] = []
        mutating func add(_ e: LDEntity) { entities.append(e.value) }
    }

    // MARK: - Ids

    static let runID = "#run"
    static let organizeID = "#hopper-run"
    static let hopperID = "#hopper"
    static let snakemakeID = "#snakemake"
    static let languageID = "#hopper-workflow-language"
    static let inlineWorkflowID = "#steps"
    static func ownerID(_ owner: String) -> String { "#owner-" + owner }
    static func paramID(_ name: String) -> String { "#param-" + name }
    static func inputParamID(_ name: String) -> String { "#input-" + name }
    static func valueID(_ name: String) -> String { "#param-" + name + "-value" }
    static func inputValueID(_ name: String) -> String { "#input-" + name + "-value" }
    static func stepID(_ name: String) -> String { "#step-" + name }
    static func attemptID(_ step: String, _ attempt: Int) -> String { "#step-" + step + "-attempt-" + String(attempt) }

    static func isNamed(_ facts: Facts) -> Bool { facts.workflowFile != nil }

    /// The directories the files are in (logs/, results/, results/qc/, …), with a slash.
    static func directories(_ files: [File]) -> [String] {
        var dirs = Set<String>()
        for file in files {
            var parts = file.path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                dirs.insert(parts.joined(separator: "/") + "/")
                parts = parts.dropLast()
            }
        }
        return dirs.sorted()
    }

    /// The folders described: those holding files, and requests/ when it exists.
    static func allDirectories(_ facts: Facts) -> [String] {
        var dirs = Set(directories(facts.files))
        if facts.hasRequests { dirs.insert(JobFolder.requestsName + "/") }
        return dirs.sorted()
    }

    /// The direct parts of a directory ("" is the root) among files and directories.
    static func parts(of dir: String, files: [File], dirs: [String]) -> [String] {
        var out: [String] = []
        for d in dirs where parent(d) == dir { out.append(d) }
        for f in files where parent(f.path) == dir { out.append(f.path) }
        return out
    }

    /// results/qc/a.txt → results/qc/; logs/ → the root (""); manifest.yaml → the root.
    static func parent(_ path: String) -> String {
        var p = path
        if p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        return String(p[...slash])
    }

    // MARK: - Entities

    static func descriptor() -> LDEntity {
        var e = LDEntity(JobFolder.crateName, "CreativeWork")
        e.set("conformsTo", ref: specification)
        e.set("about", ref: "./")
        return e
    }

    static func preview() -> LDEntity {
        var e = LDEntity(JobFolder.cratePreviewName, "CreativeWork")
        e.set("name", "The job's page")
        e.set("about", ref: "./")
        e.set("encodingFormat", "text/html")
        return e
    }

    static func root(_ facts: Facts) -> LDEntity {
        let s = facts.status
        var e = LDEntity("./", "Dataset")
        e.set("name", "Hopper job " + s.id)
        let what = s.workflow.map { "a run of the workflow " + $0 } ?? "a run of inline steps"
        e.set("description", s.description ?? "Hopper job \(s.id): \(what), \(s.state.rawValue)")
        e.set("identifier", s.id)
        e.set("datePublished", s.finishedAt ?? Timestamp.rfc3339())
        // Hopper cannot know the data's licence; Workflow RO-Crate requires the key.
        e.set("license", facts.license)
        var conforms = [processProfile]
        if isNamed(facts) { conforms += [workflowProfile, workflowCrateProfile] }
        e.set("conformsTo", refs: conforms)
        if let wf = facts.workflowFile { e.set("mainEntity", ref: wf) }
        let top = parts(of: "", files: facts.files, dirs: allDirectories(facts))
        e.set("hasPart", refs: top)
        e.set("mentions", refs: [runID])
        return e
    }

    static func profiles(_ facts: Facts) -> [LDEntity] {
        var out: [LDEntity] = []
        var p = LDEntity(processProfile, "CreativeWork")
        p.set("name", "Process Run Crate")
        p.set("version", "0.5")
        out.append(p)
        guard isNamed(facts) else { return out }
        var w = LDEntity(workflowProfile, "CreativeWork")
        w.set("name", "Workflow Run Crate")
        w.set("version", "0.5")
        out.append(w)
        var c = LDEntity(workflowCrateProfile, "CreativeWork")
        c.set("name", "Workflow RO-Crate")
        c.set("version", "1.0")
        out.append(c)
        return out
    }

    static func fileEntities(_ facts: Facts) -> [LDEntity] {
        var out: [LDEntity] = []
        let dirs = allDirectories(facts)
        let snakefileCopies = Set(facts.snakefiles.values)
        for dir in dirs {
            var d = LDEntity(dir, "Dataset")
            d.set("name", String(dir.dropLast()))
            if dir == JobFolder.requestsName + "/" {
                d.set("description", "Control requests that were honoured; files may be added after the job ended")
            } else {
                d.set("hasPart", refs: parts(of: dir, files: facts.files, dirs: dirs))
            }
            out.append(d)
        }
        for file in facts.files {
            var types = ["File"]
            if file.path == facts.workflowFile { types += ["SoftwareSourceCode", "ComputationalWorkflow"] }
            if snakefileCopies.contains(file.path) { types.append("SoftwareSourceCode") }
            var f = LDEntity(file.path, types)
            f.set("name", String(file.path.split(separator: "/").last ?? Substring(file.path)))
            if let bytes = file.bytes { f.set("contentSize", String(bytes)) }
            if let sha = file.sha256 { f.set("sha256", sha) }
            if let format = encodingFormat(file.path) { f.set("encodingFormat", format) }
            if file.path == facts.workflowFile { addWorkflowProperties(&f, facts) }
            if snakefileCopies.contains(file.path) {
                f.set("programmingLanguage", ref: snakemakeLanguageID)
            }
            out.append(f)
        }
        return out
    }

    static let snakemakeLanguageID = "https://w3id.org/workflowhub/workflow-ro-crate#snakemake"

    static func encodingFormat(_ path: String) -> String? {
        if path.hasSuffix(".json") { return "application/json" }
        if path.hasSuffix(".jsonl") { return "application/jsonl" }
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { return "application/yaml" }
        if path.hasSuffix(".log") || path.hasSuffix("SHA256SUMS") { return "text/plain" }
        if path.hasSuffix(".html") { return "text/html" }
        return nil
    }

    static func addWorkflowProperties(_ f: inout LDEntity, _ facts: Facts) {
        let m = facts.manifest
        f.set("conformsTo", ref: computationalWorkflowProfile)
        if let name = m.workflowName { f.set("name", name) }
        f.set("programmingLanguage", ref: languageID)
        f.set("input", refs: formalIDs(m))
        f.set("output", refs: [])
        let parts = facts.snakefiles.keys.sorted().compactMap { facts.snakefiles[$0] }
        if !parts.isEmpty { f.set("hasPart", refs: parts) }
        f.set("step", refs: m.resolvedSteps.map { stepID($0.name) })
    }

}
