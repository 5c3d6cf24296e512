// hopper validate — checks manifests without submitting them; `file:line:col: path: message`.
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check manifests, printing every error as file:line:col; exit 1 if any file is bad.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Option(help: ArgumentHelp("The workflow directory (default: the config's `workflows:`, then Workflows/ beside the spool).", valueName: "dir"), completion: .directory)
        var workflows: String?

        @Option(help: ArgumentHelp("Check as if dropped into inbox/<queue>/ (its default workflow applies).", valueName: "queue"), completion: Completions.queues)
        var queue: String?

        @Flag(name: .shortAndLong, help: "Print nothing for valid files.")
        var quiet = false

        @Argument(help: ArgumentHelp("Manifests to check.", valueName: "file"), completion: Completions.manifests)
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one file") }
        }

        func run() async throws {
            // silent: validate works without a spool (the workflow directory may be given alone).
            let resolved = try? spoolOptions.resolve(mustExist: false)
            if let warning = resolved?.warning { Console.err("hopper: warning: \(warning)\n") }
            var dir = workflows ?? resolved?.workflows
            // The daemon's own choice stands, even "none"; without a daemon, ./Workflows will do.
            if dir == nil && resolved?.fromDaemon != true && FileOps.isDirectory("Workflows") { dir = "Workflows" }
            let catalog = dir.map { WorkflowCatalog(directory: $0) }
            let limit = Int(resolved?.config.maxManifestSize.bytes ?? (1 << 20))
            var bad = 0
            for file in files {
                let name = FileOps.split(file).1
                let bytes: [UInt8]
                do { bytes = try FileOps.readFile(file, limit: limit + 1) } catch {
                    print("\(file): cannot read: \(error.message)")
                    bad += 1
                    continue
                }
                if bytes.count > limit {
                    print("\(file): larger than \(limit) bytes (max_manifest_size)")
                    bad += 1
                    continue
                }
                let queueWorkflow = resolved?.config.queue(named: queue ?? "default")?.workflow
                switch ManifestParser.parse(bytes, fileName: file, catalog: catalog, defaultWorkflow: queueWorkflow) {
                case .failure(let error):
                    print(error.formatted)
                    bad += 1
                case .success(.control(let request)):
                    if !quiet { print("\(file): ok (control request: \(request.action.rawValue) \(request.job))") }
                case .success(.job(let job)):
                    let stem = DropNames.stem(of: name)
                    if let problem = Names.jobIDProblem(stem) {
                        print("\(file): \(problem); the job id is the file name without .yaml (or `hopper submit --id`)")
                        bad += 1
                    } else if !quiet {
                        let what = job.workflowName.map { "workflow \($0)" } ?? "inline steps"
                        print("\(file): ok (job \(stem), \(what), \(job.resolvedSteps.count) step\(job.resolvedSteps.count == 1 ? "" : "s"))")
                    }
                }
            }
            if bad > 0 { throw ExitCode(1) }
        }
    }
}
