// ManifestParser — where the bytes of a dropped file become a job manifest or a control request.
//
// One YAML document holding a mapping. With an `action:` key it is a ControlRequest;
// otherwise a JobManifest, whose `workflow:` is looked up in the WorkflowCatalog and whose
// params are checked against that workflow. Every problem in the file is reported, each with
// line, column and dotted path, in document order.
//
// The caller bounds the size (config `max_manifest_size`) before calling.

public enum ParsedDocument: Sendable, Equatable {
    case job(JobManifest)
    case control(ControlRequest)
    /// A manifest with `foreach:`: expanded into its children with its rows (GroupExpansion).
    case group(GroupDraft)
}

public enum ManifestParser {
    /// `defaultWorkflow` is the queue's `workflow:` (config `queues:`), used when the manifest
    /// names neither a workflow nor inline steps.
    public static func parse(_ data: [UInt8], fileName: String, catalog: WorkflowCatalog?,
                             defaultWorkflow: String? = nil,
                             limits: YAMLLimits = YAMLLimits()) -> Result<ParsedDocument, ManifestError> {
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(data, limits: limits)
        } catch {
            return .failure(ManifestError(file: fileName, diagnostics: error.diagnostics))
        }
        if root.isNull && root.scalar == "" {
            return .failure(ManifestError(file: fileName, diagnostics: [Diagnostic(message: YAMLParser.emptyMessage)]))
        }
        var c = Checker()
        guard let pairs = root.pairs else {
            c.error(root, "", "a manifest must be a mapping of keys to values; got \(root.described)")
            return .failure(ManifestError(file: fileName, diagnostics: c.diagnostics))
        }
        let document: ParsedDocument?
        if root["action"] != nil {
            document = ControlRequest.decode(root, pairs, &c).map { .control($0) }
        } else if let node = root["foreach"] {
            document = groupDraft(root, node, &c).map { .group($0) }
        } else {
            document = JobManifest.decode(root, pairs, catalog: catalog, defaultWorkflow: defaultWorkflow, &c).map { .job($0) }
        }
        guard let document, c.diagnostics.isEmpty else {
            return .failure(ManifestError(file: fileName, diagnostics: c.sortedDiagnostics))
        }
        return .success(document)
    }

    /// A group's own keys are checked here; the rest is checked for each child at expansion.
    static func groupDraft(_ root: YAMLNode, _ node: YAMLNode, _ c: inout Checker) -> GroupDraft? {
        guard let spec = ForeachSpec.decode(node, &c) else { return nil }
        var after: [String]?
        var priority = 0
        if let a = root["after"] { after = JobManifest.decodeAfter(a, "after", &c) }
        if let p = root["priority"], let value = c.int(p, "priority", min: -1000, max: 1000) { priority = value }
        return GroupDraft(root: root, foreach: spec, after: after, priority: priority,
                          workflowName: root["workflow"]?.scalar, description: root["description"]?.scalar)
    }

    /// Same, for text (tests, `hopper validate -`).
    public static func parse(text: String, fileName: String, catalog: WorkflowCatalog?,
                             limits: YAMLLimits = YAMLLimits()) -> Result<ParsedDocument, ManifestError> {
        parse(Array(text.utf8), fileName: fileName, catalog: catalog, limits: limits)
    }
}
