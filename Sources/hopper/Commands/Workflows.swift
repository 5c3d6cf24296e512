// hopper workflows [NAME] — what can be submitted: the workflows in the workflow directory the
// daemon runs with (or --workflows DIR), one line each; for one, its params (type, default,
// required, allowed values) and the inputs it declares, and its steps.
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Workflows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the workflows, or show one's params, inputs and steps.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Option(help: ArgumentHelp("The workflow directory (default: the daemon's, then the config's `workflows:`).", valueName: "dir"))
        var workflows: String?

        @Argument(help: ArgumentHelp("A workflow to show in full.", valueName: "name"))
        var name: String?

        func run() async throws {
            // silent: without a spool, --workflows alone or ./Workflows will do (as for validate).
            let resolved = try? spoolOptions.resolve(mustExist: false)
            var dir = workflows ?? resolved?.workflows
            if dir == nil && resolved?.fromDaemon != true && FileOps.isDirectory("Workflows") { dir = "Workflows" }
            guard let dir else {
                throw CLIError("no workflow directory: the daemon runs without one (`workflows:` in its config); give one with --workflows DIR")
            }
            let catalog = WorkflowCatalog(directory: dir)
            if let name {
                switch catalog.lookup(name) {
                case .found(let workflow): print(Self.describe(workflow, file: catalog.path(of: name)))
                case .invalid(let error): throw CLIError("workflow \(name) is not valid:\n" + error.formatted)
                case .notFound:
                    throw CLIError("no workflow \(name) in \(dir); `hopper workflows` lists them")
                }
                return
            }
            let names: [String]
            do {
                names = try FileOps.listDirectory(dir).filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }
                    .map { String($0.dropLast(5)) }.filter { Names.isValid($0) }.sorted()
            } catch {
                throw CLIError("cannot list the workflow directory \(dir): \(error.message)")
            }
            if names.isEmpty { print("no workflows in \(dir)"); return }
            let width = max(4, names.map(\.count).max() ?? 0) + 2
            print("NAME".padding(width) + "DESCRIPTION")
            for name in names {
                switch catalog.lookup(name) {
                case .found(let w): print(name.padding(width) + (w.description ?? "-"))
                case .invalid(let e): print(name.padding(width) + "INVALID: " + (e.diagnostics.first.map { $0.formatted(file: catalog.displayPath(of: name)) } ?? e.reason))
                case .notFound: continue
                }
            }
        }

        /// The workflow in full: description, file, params, inputs, steps.
        static func describe(_ w: Workflow, file: String) -> String {
            var lines = ["\(w.name): \(w.description ?? "(no description)")", "  file     \(file)"]
            if w.params.isEmpty {
                lines.append("  params   none")
            } else {
                lines.append("  params")
                let width = (w.params.map(\.name.count).max() ?? 0) + 2
                for p in w.params { lines.append("    " + p.name.padding(width) + param(p)) }
            }
            if w.inputs.isEmpty {
                lines.append("  inputs   any (none declared)")
            } else {
                lines.append("  inputs")
                let width = (w.inputs.map(\.name.count).max() ?? 0) + 2
                for i in w.inputs {
                    lines.append("    " + i.name.padding(width) + (i.required ? "required" : "optional") + (i.description.map { ": \($0)" } ?? ""))
                }
            }
            lines.append("  steps    " + w.steps.map(\.name).joined(separator: ", "))
            return lines.joined(separator: "\n")
        }

        /// `integer, default 20, 0…60: Trim 3' bases …`
        static func param(_ p: ParamSpec) -> String {
            var parts = [p.type.rawValue]
            if p.required { parts.append("required") }
            if let d = p.defaultValue { parts.append("default \(d.stringValue)") }
            if let allowed = p.allowed { parts.append("one of " + allowed.map(\.stringValue).joined(separator: " | ")) }
            if p.min != nil || p.max != nil {
                parts.append("\(p.min.map(formatSeconds) ?? "")…\(p.max.map(formatSeconds) ?? "")")
            }
            if let pattern = p.pattern { parts.append("matching \(pattern.source)") }
            return parts.joined(separator: ", ") + (p.description.map { ": \($0)" } ?? "")
        }
    }
}
