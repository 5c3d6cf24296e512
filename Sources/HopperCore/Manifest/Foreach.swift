// Foreach — a manifest with `foreach:` is a group: one child job per row.
//
//   workflow: readmap
//   foreach:
//     samplesheet: /nfs/seq/run42/SampleSheet.csv   # or  rows: [{sample: S1}, {sample: S2}]
//     key: sample                                    # names each child (default: the first column)
//   params: {genome: hg38}                           # shared by every child
//   inputs: {reads: "/nfs/seq/run42/{sample}_R1.fastq.gz"}
//
// Each row becomes the child `<group>.<key>`, whose manifest is the group's without `foreach:`,
// with the row's columns filling params (a workflow's declared params; with inline steps, every
// column named like a param) and inputs (a column named like one of the manifest's or the
// workflow's inputs) by name, and `{column}` in an input path replaced by the row's value —
// as data: values never reach command text. Each child is validated like any manifest; a
// problem that comes from a row names the sheet's line: `SampleSheet.csv:14: row S07: …`.
//
// The derivation is a pure function of the manifest, the sheet's bytes and the workflow, so
// the daemon's recovery derives the same children from the copy of the sheet it kept.

public enum AfterMode: String, Codable, Sendable, CaseIterable {
    /// Start once every named job completed; a failure cancels the dependant.
    case all
    /// Start once every named job ended, however it ended.
    case any
}

/// `foreach:` as written.
public struct ForeachSpec: Sendable, Equatable {
    /// The sheet's path as written (relative paths are relative to the spool root).
    public var samplesheet: String?
    /// Inline rows (`rows:`), as a table whose lines are the manifest's.
    public var rows: SheetTable?
    /// The key column; nil: the first column.
    public var key: String?
    /// Where `foreach:` is, for messages about it.
    public var line: Int
    public var column: Int
}

/// A group manifest, parsed but not yet expanded into its children (that needs the sheet).
public struct GroupDraft: Sendable, Equatable {
    public var root: YAMLNode
    public var foreach: ForeachSpec
    /// The manifest's `after:`, shared by every child (for the intake's checks).
    public var after: [String]?
    public var priority: Int
    public var workflowName: String?
    public var description: String?
}

/// One child of a group.
public struct GroupChild: Sendable {
    public var key: String
    public var id: String
    public var manifest: JobManifest
    /// The child's manifest as a tree: written as its `manifest.yaml`.
    public var node: YAMLNode
}

extension ForeachSpec {
    static func decode(_ node: YAMLNode, _ c: inout Checker) -> ForeachSpec? {
        guard let pairs = c.mapping(node, "foreach") else { return nil }
        var spec = ForeachSpec(samplesheet: nil, rows: nil, key: nil, line: node.line, column: node.column)
        var sources = 0
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = "foreach." + k
            switch k {
            case "samplesheet":
                sources += 1
                spec.samplesheet = c.line(value, p)
            case "rows":
                sources += 1
                spec.rows = decodeRows(value, p, &c)
            case "key":
                spec.key = c.line(value, p)
            default:
                c.unknownKey(key, "foreach", valid: ["samplesheet", "rows", "key"])
            }
        }
        if sources != 1 {
            c.error(node, "foreach", "give exactly one of \"samplesheet\" (a CSV or TSV file) or \"rows\" (a list of mappings)")
            return nil
        }
        return spec
    }

    /// `rows: [{sample: S1, lane: 1}, …]`: every row a mapping of scalars.
    static func decodeRows(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> SheetTable? {
        guard let items = c.sequence(node, path) else { return nil }
        var columns: [String] = []
        var known = Set<String>()
        var rows: [SheetRow] = []
        for (i, item) in items.enumerated() {
            let p = Checker.index(path, i)
            guard let pairs = c.mapping(item, p) else { continue }
            var values: [String: String] = [:]
            for (key, value) in pairs {
                let name = key.scalar ?? ""
                guard case .scalar(let text, _, _) = value.kind else {
                    c.error(value, Checker.join(p, name), "expected a string, number or boolean; got \(value.described)")
                    continue
                }
                if known.insert(name).inserted { columns.append(name) }
                values[name] = value.isNull ? "" : text
            }
            rows.append(SheetRow(line: item.line, values: values))
        }
        return SheetTable(columns: columns, rows: rows)
    }
}

public enum GroupExpansion {
    /// Marks a node made from a row: Checker diagnostics at column 0 are the row's.
    static let rowColumn = 0

    /// The children of `draft` (the group `groupID`) from `table`, the sheet named `sheetName`
    /// (the manifest's own name for inline rows). Every problem of every row is reported.
    public static func expand(_ draft: GroupDraft, table: SheetTable, sheetName: String, manifestName: String,
                              groupID: String, catalog: WorkflowCatalog?, defaultWorkflow: String? = nil,
                              maxSize: Int) -> Result<[GroupChild], ManifestError> {
        var problems = Problems(manifestName: manifestName, sheetName: sheetName, inline: draft.foreach.rows != nil)
        let spec = draft.foreach
        let keyColumn = spec.key ?? table.columns.first ?? ""
        let at = (line: spec.line, column: spec.column)
        if table.rows.isEmpty {
            problems.manifest(at, "foreach", "\(sheetName) has no rows: a group needs at least one")
        }
        if table.rows.count > maxSize {
            problems.manifest(at, "foreach", "the group has \(table.rows.count) rows; this daemon takes at most \(maxSize) per group (max_group_size)")
        }
        if !table.columns.contains(keyColumn) {
            let cols = table.columns.joined(separator: ", ")
            problems.manifest(at, "foreach.key", "key column \(quoted(keyColumn)) is not in \(sheetName); its columns are \(cols)")
        }
        if !problems.list.isEmpty { return .failure(problems.error) }

        let shape = Shape(draft: draft, catalog: catalog, defaultWorkflow: defaultWorkflow, columns: table.columns)
        for (name, missing) in shape.unknownPlaceholders {
            problems.manifest((shape.inputLines[name] ?? at), "inputs." + name,
                              "{\(missing)} is not a column of \(sheetName); its columns are \(table.columns.joined(separator: ", "))")
        }
        if !problems.list.isEmpty { return .failure(problems.error) }

        var children: [GroupChild] = []
        children.reserveCapacity(table.rows.count)
        var keys: [String: Int] = [:]
        for row in table.rows {
            let key = row.values[keyColumn] ?? ""
            let label = key.isEmpty ? "row on line \(row.line)" : "row \(key)"
            if key.isEmpty {
                problems.row(row.line, label, "", "the key column \(quoted(keyColumn)) is empty")
                continue
            }
            let id = groupID + "." + key
            if !Names.isValid(key) || !Names.isValid(id) {
                problems.row(row.line, label, keyColumn, "\(quoted(key)) cannot name a job: the child id \(quoted(id)) must match \(Names.idRule)")
                continue
            }
            if let other = keys[key] {
                problems.row(row.line, label, keyColumn, "key \(quoted(key)) is also the key of the row on line \(other); each row needs its own")
                continue
            }
            keys[key] = row.line
            let node = shape.childTree(row)
            var c = Checker()
            let manifest = JobManifest.decode(node, node.pairs ?? [], catalog: catalog, defaultWorkflow: defaultWorkflow, &c)
            for d in c.diagnostics { problems.add(d, row: row.line, label: label) }
            if var manifest, c.diagnostics.isEmpty {
                manifest.group = groupID
                children.append(GroupChild(key: key, id: id, manifest: manifest, node: node))
            }
            if problems.list.count > Checker.maxDiagnostics { break }
        }
        if !problems.list.isEmpty { return .failure(problems.error) }
        return .success(children)
    }

    /// What every child shares: the tree without `foreach:`, which columns fill params and
    /// inputs, and the input paths with placeholders.
    struct Shape {
        var base: [(key: YAMLNode, value: YAMLNode)]
        var root: YAMLNode
        var paramColumns: [String] = []
        var inputColumns: [String] = []
        /// Input name → the path template (with `{column}`), for inputs that have placeholders.
        var templates: [String: String] = [:]
        var inputLines: [String: (line: Int, column: Int)] = [:]
        var unknownPlaceholders: [(String, String)] = []

        init(draft: GroupDraft, catalog: WorkflowCatalog?, defaultWorkflow: String?, columns: [String]) {
            root = draft.root
            base = (draft.root.pairs ?? []).filter { $0.key.scalar != "foreach" }
            var declaredParams: Set<String>?
            var declaredInputs = Set<String>()
            let name = draft.root["workflow"]?.scalar ?? (draft.root["steps"] == nil ? defaultWorkflow : nil)
            if let name, let workflow = catalog?.workflow(named: name) {
                declaredParams = Set(workflow.params.map(\.name))
                declaredInputs = Set(workflow.inputs.map(\.name))
            }
            let inputsNode = draft.root["inputs"]
            for (key, value) in inputsNode?.pairs ?? [] {
                guard let input = key.scalar else { continue }
                declaredInputs.insert(input)
                let pathNode: YAMLNode? = value.pairs == nil ? value : value["path"]
                guard let text = pathNode?.scalar, text.contains("{") else { continue }
                templates[input] = text
                inputLines[input] = (line: key.line, column: key.column)
                for placeholder in Shape.placeholders(text) where !columns.contains(placeholder) {
                    unknownPlaceholders.append((input, placeholder))
                }
            }
            for column in columns {
                if declaredInputs.contains(column) {
                    inputColumns.append(column)
                } else if let declaredParams {
                    if declaredParams.contains(column) { paramColumns.append(column) }
                } else if isVariableName(column) {
                    paramColumns.append(column)
                }
            }
        }

        static func placeholders(_ text: String) -> [String] {
            var out: [String] = []
            var rest = Substring(text)
            while let open = rest.firstIndex(of: "{") {
                let after = rest[rest.index(after: open)...]
                guard let close = after.firstIndex(of: "}") else { break }
                out.append(String(after[..<close]))
                rest = after[after.index(after: close)...]
            }
            return out
        }

        static func substitute(_ text: String, _ values: [String: String]) -> String {
            var out = ""
            var rest = Substring(text)
            while let open = rest.firstIndex(of: "{") {
                out += rest[..<open]
                let after = rest[rest.index(after: open)...]
                guard let close = after.firstIndex(of: "}") else { break }
                out += values[String(after[..<close])] ?? ""
                rest = after[after.index(after: close)...]
            }
            return out + rest
        }

        func scalar(_ text: String, line: Int) -> YAMLNode {
            YAMLNode(.scalar(text, style: .plain, tag: nil), line: line, column: GroupExpansion.rowColumn)
        }

        func key(_ text: String, like node: YAMLNode?) -> YAMLNode {
            YAMLNode(.scalar(text, style: .plain, tag: nil), line: node?.line ?? root.line, column: node?.column ?? root.column)
        }

        /// The child's manifest tree for `row`.
        func childTree(_ row: SheetRow) -> YAMLNode {
            var pairs = base
            var rowParams: [(key: YAMLNode, value: YAMLNode)] = []
            for column in paramColumns {
                guard let value = row.values[column], !value.isEmpty else { continue }
                rowParams.append((key: scalar(column, line: row.line), value: scalar(value, line: row.line)))
            }
            var rowInputs: [String: YAMLNode] = [:]
            for column in inputColumns {
                guard let value = row.values[column], !value.isEmpty else { continue }
                rowInputs[column] = scalar(value, line: row.line)
            }
            for (input, template) in templates where rowInputs[input] == nil {
                let text = Shape.substitute(template, row.values)
                rowInputs[input] = YAMLNode(.scalar(text, style: .quoted, tag: nil), line: row.line, column: GroupExpansion.rowColumn)
            }
            merge(&pairs, "params", rowParams)
            if !rowInputs.isEmpty {
                let inputPairs = rowInputs.keys.sorted().map { (key: scalar($0, line: row.line), value: rowInputs[$0]!) }
                merge(&pairs, "inputs", inputPairs, replacingPaths: true)
            }
            return YAMLNode(.mapping(pairs), line: root.line, column: root.column)
        }

        /// Puts `extra` into the mapping `name` of `pairs` (made when missing), replacing keys
        /// it has. `replacingPaths`: an input given as `{path, stage}` keeps its `stage`.
        func merge(_ pairs: inout [(key: YAMLNode, value: YAMLNode)], _ name: String,
                   _ extra: [(key: YAMLNode, value: YAMLNode)], replacingPaths: Bool = false) {
            guard !extra.isEmpty else { return }
            let index = pairs.firstIndex { $0.key.scalar == name }
            var inner: [(key: YAMLNode, value: YAMLNode)] = index.flatMap { pairs[$0].value.pairs } ?? []
            for pair in extra {
                let k = pair.key.scalar
                if let i = inner.firstIndex(where: { $0.key.scalar == k }) {
                    var value = pair.value
                    if replacingPaths, let fields = inner[i].value.pairs {
                        let kept = fields.filter { $0.key.scalar != "path" }
                        let pathKey = key("path", like: fields.first?.key)
                        value = YAMLNode(.mapping([(key: pathKey, value: pair.value)] + kept), line: pair.value.line, column: pair.value.column)
                    }
                    inner[i] = (key: inner[i].key, value: value)
                } else {
                    inner.append(pair)
                }
            }
            if let index {
                let old = pairs[index]
                pairs[index] = (key: old.key, value: YAMLNode(.mapping(inner), line: old.value.line, column: old.value.column))
            } else {
                pairs.append((key: key(name, like: nil), value: YAMLNode(.mapping(inner), line: root.line, column: root.column)))
            }
        }
    }

    /// The problems of an expansion: the manifest's own (reported once) and the rows'.
    struct Problems {
        let manifestName: String
        let sheetName: String
        let inline: Bool
        var list: [Diagnostic] = []
        var seen = Set<Diagnostic>()

        mutating func manifest(_ at: (line: Int, column: Int), _ path: String, _ message: String) {
            append(Diagnostic(line: at.line, column: at.column, path: path, message: message))
        }

        mutating func row(_ line: Int, _ label: String, _ path: String, _ message: String) {
            let where_ = path.isEmpty ? label : label + ": " + path
            append(Diagnostic(line: line, path: where_, message: message, file: inline ? nil : sheetName))
        }

        mutating func add(_ d: Diagnostic, row line: Int, label: String) {
            if d.column == GroupExpansion.rowColumn {
                row(line, label, d.path, d.message)
            } else {
                append(d)
            }
        }

        mutating func append(_ d: Diagnostic) {
            if seen.insert(d).inserted { list.append(d) }
        }

        var error: ManifestError {
            var shown = list
            if shown.count > Checker.maxDiagnostics {
                let more = shown.count - Checker.maxDiagnostics
                shown.removeLast(more)
                shown.append(Diagnostic(message: "\(more) more problem\(more == 1 ? "" : "s") not shown"))
            }
            return ManifestError(file: manifestName, reason: "invalid group", diagnostics: shown)
        }
    }
}

extension GroupDraft {
    /// The rows: inline, or the sheet's (read from `sheetBytes`).
    public func table(sheetBytes: [UInt8]?, sheetName: String) -> Result<SheetTable, ManifestError> {
        if let rows = foreach.rows { return .success(rows) }
        return SampleSheet.parse(sheetBytes ?? [], fileName: sheetName)
    }

    /// The sheet's file name as messages show it (its last path component).
    public var sheetName: String? {
        foreach.samplesheet.map { path in String(path.split(separator: "/").last ?? Substring(path)) }
    }
}
