// hopper export — prints a manifest that reproduces a job: its params with the defaults made
// explicit, inputs, wait_for, executor, resources, priority, retries, timeout; the workflow by
// name, or with --inline its steps copied in (ManifestExport). Submitting the output under a
// new id runs the same job again, here or on another Hopper.
//
// Reads `outbox/<id>/plan.json`, which the daemon writes when the job starts and which stays
// when the workspace is cleaned; for a job that has not started, resolves manifest.yaml
// against the workflows as they are now.
import ArgumentParser
import HopperCore

extension Hopper {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a manifest that reproduces a job.",
            discussion: """
                The params as the job ran with them (defaults made explicit), its inputs, resources, \
                retries, priority and timeout; the workflow by name, or with --inline its steps copied \
                in, so that it runs on another Hopper. Submit it under a new id: \
                hopper export S001 > S001-again.yaml && hopper submit S001-again.yaml. \
                `notify:` is left out.
                """)

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs)
        var id: String

        @Flag(help: "Copy the workflow's steps into the manifest instead of naming the workflow.")
        var inline = false

        func validate() throws {
            if let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
        }

        func run() async throws {
            let resolved = try spoolOptions.resolve()
            let layout = resolved.layout
            let status = try loadJob(id, layout)
            let manifest = try Self.plan(id, layout, workflows: resolved.workflows)
            var header = ["Exported by `hopper export\(inline ? " --inline" : "")` from job \(id) (\(status.state.rawValue))."]
            header.append("Submit it under a new id to run the same job again.")
            Console.out(ManifestExport.yaml(manifest, inline: inline, header: header))
        }

        /// The job's plan: plan.json, else its manifest resolved now.
        static func plan(_ id: String, _ layout: SpoolLayout, workflows: String?) throws -> JobManifest {
            let folder = layout.folder(id)
            if FileOps.exists(folder.plan) {
                do {
                    return try JSON.decode(JobManifest.self, from: try FileOps.readFile(folder.plan))
                } catch {
                    throw CLIError("\(folder.plan) cannot be read: \(error)")
                }
            }
            let bytes: [UInt8]
            do { bytes = try FileOps.readFile(folder.manifest, limit: 1 << 20) } catch {
                throw CLIError("\(folder.manifest) cannot be read: \(error.message)")
            }
            let catalog = workflows.map { WorkflowCatalog(directory: $0) }
            switch ManifestParser.parse(bytes, fileName: "manifest.yaml", catalog: catalog) {
            case .success(.job(let manifest)): return manifest
            case .success: throw CLIError("\(folder.manifest) is not a job manifest")
            case .failure(let error): throw CLIError("\(folder.manifest) no longer resolves:\n" + error.formatted)
            }
        }
    }
}
