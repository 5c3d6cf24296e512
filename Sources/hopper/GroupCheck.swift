// GroupCheck — `hopper validate` and `hopper submit` check a group (`foreach:`) as the daemon
// will: its sheet read (a relative path from the current directory, else from the spool root),
// every row expanded and validated, errors naming the sheet's lines.
import HopperCore

enum GroupCheck {
    /// The sheet's path as this host sees it: absolute, relative to the current directory, or
    /// relative to the spool root (where the daemon looks).
    static func sheetPath(_ path: String, spoolRoot: String?) -> String {
        if path.hasPrefix("/") { return path }
        let here = FileOps.resolve(path, against: FileOps.absolute("."))
        if FileOps.exists(here) || spoolRoot == nil { return here }
        return FileOps.resolve(path, against: spoolRoot ?? ".")
    }

    static func expand(_ draft: GroupDraft, file: String, id: String, catalog: WorkflowCatalog?, spoolRoot: String?,
                       defaultWorkflow: String?, maxSize: Int) -> Result<[GroupChild], ManifestError> {
        var bytes: [UInt8]?
        if let path = draft.foreach.samplesheet {
            do { bytes = try FileOps.readFile(sheetPath(path, spoolRoot: spoolRoot)) } catch {
                return .failure(ManifestError(file: file, reason: "invalid group", diagnostics: [Diagnostic(
                    line: draft.foreach.line, column: draft.foreach.column, path: "foreach.samplesheet",
                    message: "cannot read \(path): \(error.message)")]))
            }
        }
        let sheetName = draft.sheetName ?? file
        let table: SheetTable
        switch draft.table(sheetBytes: bytes, sheetName: sheetName) {
        case .failure(let e): return .failure(ManifestError(file: file, reason: "invalid group", diagnostics: e.diagnostics))
        case .success(let t): table = t
        }
        return GroupExpansion.expand(draft, table: table, sheetName: sheetName, manifestName: file, groupID: id,
                                     catalog: catalog, defaultWorkflow: defaultWorkflow, maxSize: maxSize)
    }
}
