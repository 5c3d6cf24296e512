// hopper submit — validates a manifest, then drops it atomically (`.ID.yaml.tmp`, fsync, rename; see Drop.swift).
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a manifest and drop it into the inbox; prints the job id.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("The manifest (YAML).", valueName: "file"), completion: Completions.manifests)
        var file: String

        @Option(help: ArgumentHelp("The job id (default: the file name without .yaml).", valueName: "id"))
        var id: String?

        @Option(help: ArgumentHelp("Drop into inbox/<queue>/ instead of the inbox root.", valueName: "queue"), completion: Completions.queues)
        var queue: String?

        func validate() throws {
            if let id, let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
            if let queue, !Names.isValid(queue) { throw ValidationError("queue name \(String(reflecting: queue)) is not valid: it must match \(Names.idRule)") }
        }

        func run() async throws {
            let spool = try spoolOptions.resolve()
            let bytes: [UInt8]
            do { bytes = try FileOps.readFile(file, limit: Int(spool.config.maxManifestSize.bytes) + 1) } catch {
                throw CLIError("cannot read \(file): \(error.message)")
            }
            if bytes.count > Int(spool.config.maxManifestSize.bytes) {
                throw CLIError("\(file) is larger than \(spool.config.maxManifestSize.bytes) bytes (max_manifest_size)")
            }
            let name = FileOps.split(file).1
            let jobID = id ?? DropNames.stem(of: name)
            if let problem = Names.jobIDProblem(jobID) {
                throw CLIError("\(problem); give one with --id")
            }
            let catalog = spool.workflows.map { WorkflowCatalog(directory: $0) }
            let queueWorkflow = spool.config.queue(named: queue ?? "default")?.workflow
            switch ManifestParser.parse(bytes, fileName: name, catalog: catalog, defaultWorkflow: queueWorkflow) {
            case .failure(let error):
                Console.err(error.formatted + "\n")
                throw CLIError("\(file) is not a valid manifest; nothing was submitted")
            case .success(.control):
                throw CLIError("\(file) is a control request; use `hopper cancel|retry|rerun|clean`")
            case .success(.job):
                break
            }
            if FileOps.exists(spool.layout.job(jobID)) {
                throw CLIError("job \(jobID) already exists in \(spool.layout.outbox); choose another id with --id")
            }
            let folder = spool.layout.inbox(queue: queue)
            if queue != nil { try? FileOps.makeDirectory(folder, mode: 0o1777) }
            guard FileOps.isDirectory(folder) else { throw CLIError("\(folder) does not exist") }
            do {
                try dropFile(bytes, named: jobID + ".yaml", into: folder)
            } catch {
                if error.nameTaken { throw CLIError("a manifest named \(jobID).yaml is already waiting in \(folder)") }
                switch error.stage {
                case .write: throw CLIError("cannot write into \(folder): \(error.cause)")
                case .rename: throw CLIError("cannot drop \(folder)/\(jobID).yaml: \(error.cause.message)")
                }
            }
            print(jobID)
            if let warning = daemonWarning(spool.layout) { Console.err("hopper: warning: \(warning)\n") }
        }
    }
}
