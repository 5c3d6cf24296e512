// hopper submit — checks manifests, then drops each atomically (`.ID.yaml.tmp`, fsync, rename;
// see Drop.swift), as sbatch submits scripts.
//
// Several files, or `-` for standard input; `--workflow W` submits without a file. `--param
// k=v` and `--input name=path` fill or override the manifest's. Relative input paths are taken
// from the current directory and written absolute (one that exists only relative to the spool
// is kept as it is: a dropped manifest's paths are relative to the spool). Inputs this host can
// see are checked before anything is dropped (not for a job with `wait_for`, whose inputs may
// come later). Every manifest is checked first: if one is bad, none is submitted. The job id is
// the file's stem, `--id ID` for one job, or `--id auto`: the stem, else the stem with `-2`,
// `-3`, … that is free. Prints one id per line.
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check manifests and drop them into the inbox; prints each job id.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("Manifests (YAML); - reads one from standard input.", valueName: "file"),
                  completion: Completions.manifests)
        var files: [String] = []

        @Option(help: ArgumentHelp("The job id (default: the file name without .yaml, or as the config's submit_id says); `auto`: the stem, made unique with -2, -3, ….", valueName: "id"))
        var id: String?

        @Option(help: ArgumentHelp("Drop into inbox/<queue>/ instead of the inbox root.", valueName: "queue"), completion: Completions.queues)
        var queue: String?

        @Flag(help: "Create the queue folder when it does not exist and the config names no such queue.")
        var createQueue = false

        @Option(name: .customLong("param"), help: ArgumentHelp("Set a param (repeatable), e.g. --param sample=S001.", valueName: "name=value"))
        var params: [String] = []

        @Option(name: .customLong("input"), help: ArgumentHelp("Set an input (repeatable), e.g. --input reads=R1.fastq.gz.", valueName: "name=path"))
        var inputs: [String] = []

        @Option(help: ArgumentHelp("The workflow (overrides the manifest's; with no file, submits a job of it).", valueName: "name"))
        var workflow: String?

        @Option(help: ArgumentHelp("Make the manifest a group: one job per row of this sample sheet (CSV, TSV, Illumina SampleSheet.csv).", valueName: "sheet"))
        var foreach: String?

        static let auto = "auto"

        func validate() throws {
            if files.isEmpty && workflow == nil { throw ValidationError("give a manifest file, - for standard input, or --workflow NAME") }
            if let id, id != Self.auto, let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
            if let id, id != Self.auto, max(files.count, 1) > 1 {
                throw ValidationError("--id \(id) names one job, but \(files.count) files are given; use --id auto, or submit them one by one")
            }
            if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
            if files.contains("-") && id == nil { throw ValidationError("a manifest read from standard input has no name: give --id ID (or --id auto)") }
            if let queue, !Names.isValid(queue) { throw ValidationError("queue name \(String(reflecting: queue)) is not valid: it must match \(Names.idRule)") }
            if let workflow, !Names.isValid(workflow) { throw ValidationError("workflow name \(String(reflecting: workflow)) is not valid") }
            for p in params { _ = try Self.pair(p, "--param") }
            for i in inputs { _ = try Self.pair(i, "--input") }
        }

        /// `name=value`, the name a valid param or input name.
        static func pair(_ text: String, _ option: String) throws -> (String, String) {
            guard let eq = text.firstIndex(of: "=") else {
                throw ValidationError("\(option) \(String(reflecting: text)) is not name=value")
            }
            let name = String(text[..<eq]), value = String(text[text.index(after: eq)...])
            let ok = !name.isEmpty && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
            guard ok else { throw ValidationError("\(option) \(String(reflecting: text)): \(String(reflecting: name)) is not a valid name") }
            return (name, value)
        }

        /// One manifest, checked and ready to drop.
        struct Prepared {
            var source: String
            var id: String
            var bytes: [UInt8]
            /// Its `after:`: a job of this same command it names is dropped first and waited for.
            var after: [String] = []
        }

        func run() async throws {
            let spool = try spoolOptions.resolve()
            if let warning = spool.warning { Console.err("hopper: warning: \(warning)\n") }
            let folder = try queueFolder(spool)
            let catalog = spool.workflows.map { WorkflowCatalog(directory: $0) }
            let sources = files.isEmpty ? [""] : files   // "": --workflow alone
            var prepared: [Prepared] = []
            var taken = Set<String>()
            var bad = 0
            for source in sources {
                do {
                    let job = try prepare(source, spool: spool, catalog: catalog, taken: taken)
                    taken.insert(job.id)
                    prepared.append(job)
                } catch let error as CLIError where sources.count > 1 {
                    Console.err("hopper: \(error.message)\n")
                    bad += 1
                }
            }
            if bad > 0 { throw CLIError("\(bad) of \(sources.count) manifests are not right; nothing was submitted") }
            var dropped = Set<String>()
            for job in prepared {
                for dep in job.after where dropped.contains(dep) {
                    try await waitAccepted(dep, layout: spool.layout)
                }
                dropped.insert(job.id)
                do {
                    try dropFile(job.bytes, named: job.id + ".yaml", into: folder)
                } catch {
                    if error.nameTaken { throw CLIError("a manifest named \(job.id).yaml is already waiting in \(folder)") }
                    switch error.stage {
                    case .write: throw CLIError("cannot write into \(folder): \(error.cause)")
                    case .rename: throw CLIError("cannot drop \(folder)/\(job.id).yaml: \(error.cause.message)")
                    }
                }
                print(job.id)
            }
            if let warning = daemonWarning(spool.layout) { Console.err("hopper: warning: \(warning)\n") }
        }

        /// The inbox folder to drop into; a queue folder is made (mode 1777, as the inbox) when
        /// the config names the queue or --create-queue asks for it.
        func queueFolder(_ spool: SpoolOptions.Resolved) throws -> String {
            let folder = spool.layout.inbox(queue: queue)
            guard let queue, !FileOps.isDirectory(folder) else { return folder }
            guard createQueue || spool.config.queue(named: queue) != nil else {
                throw CLIError("no queue \(queue): \(folder) does not exist and the config names no such queue; --create-queue makes it")
            }
            do { try FileOps.makeDirectory(folder, mode: 0o1777) } catch {
                if error.errno != EEXIST { throw CLIError("cannot create the queue folder \(folder): \(error.message)") }
            }
            // mkdir's mode is filtered by the umask: anyone may drop into a queue, as into the inbox.
            if chmod(folder, 0o1777) != 0 && errno != EPERM {
                throw CLIError("cannot set the mode of \(folder): \(SystemError("chmod", path: folder).message)")
            }
            return folder
        }

        func prepare(_ source: String, spool: SpoolOptions.Resolved, catalog: WorkflowCatalog?, taken: Set<String>) throws -> Prepared {
            let limit = Int(spool.config.maxManifestSize.bytes)
            let label = source == "-" ? "standard input" : source.isEmpty ? "--workflow \(workflow ?? "")" : source
            var bytes: [UInt8] = []
            if source == "-" {
                do { bytes = try FileOps.readUpTo(0, limit: limit + 1, path: "standard input") } catch {
                    throw CLIError("cannot read standard input: \(error.message)")
                }
            } else if !source.isEmpty {
                do { bytes = try FileOps.readFile(source, limit: limit + 1) } catch {
                    throw CLIError("cannot read \(source): \(error.message)")
                }
            }
            if bytes.count > limit { throw CLIError("\(label) is larger than \(limit) bytes (max_manifest_size)") }

            let stem = source.isEmpty ? (workflow ?? "job") : source == "-" ? "stdin" : DropNames.stem(of: FileOps.split(source).1)
            let jobID = try chooseID(stem: stem, spool: spool, taken: taken)
            let name = source == "-" || source.isEmpty ? jobID + ".yaml" : FileOps.split(source).1
            bytes = try edited(bytes, label: label, spool: spool)

            let queueWorkflow = spool.config.queue(named: queue ?? "default")?.workflow
            var after: [String] = []
            switch ManifestParser.parse(bytes, fileName: name, catalog: catalog, defaultWorkflow: queueWorkflow) {
            case .failure(let error):
                // As `hopper validate` says it: the path given (`m/S001.yaml:3:1: …`), not the bare name.
                let shown = source.isEmpty || source == "-" ? error.file : source
                Console.err(error.diagnostics.map { $0.formatted(file: shown) }.joined(separator: "\n") + "\n")
                throw CLIError("\(label) is not a valid manifest" + (files.count > 1 ? "" : "; nothing was submitted"))
            case .success(.control):
                throw CLIError("\(label) is a control request; use `hopper cancel|retry|rerun|clean`")
            case .success(.job(let manifest)):
                if manifest.waitFor == nil && manifest.after == nil { try checkInputs(manifest.inputs, label: label, spool: spool) }
                after = manifest.after ?? []
            case .success(.group(let draft)):
                after = draft.after ?? []
                let checked = GroupCheck.expand(draft, file: name, id: jobID, catalog: catalog, spoolRoot: spool.layout.root,
                                                defaultWorkflow: queueWorkflow, maxSize: spool.config.maxGroupSize)
                if case .failure(let error) = checked {
                    Console.err(error.formatted + "\n")
                    throw CLIError("\(label) is not a valid group" + (files.count > 1 ? "" : "; nothing was submitted"))
                }
            }
            return Prepared(source: source, id: jobID, bytes: bytes, after: after)
        }

        /// A job of this command that a later one waits for must be accepted first (the daemon
        /// refuses `after:` naming a job it does not know): waits up to a minute for its folder.
        func waitAccepted(_ id: String, layout: SpoolLayout) async throws {
            for _ in 0..<1200 {
                if FileOps.exists(layout.job(id)) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw CLIError("job \(id) was dropped but not accepted within a minute (is the daemon running? `hopper status \(id)`); the jobs after it were not submitted")
        }

        /// The id: --id, else the stem; with --id auto the first free of stem, stem-2, stem-3, ….
        func chooseID(stem: String, spool: SpoolOptions.Resolved, taken: Set<String>) throws -> String {
            // Without --id, the config's submit_id says: the stem, or `auto`.
            let id = self.id ?? (spool.config.submitID == .auto ? Self.auto : nil)
            let wanted = id == Self.auto ? nil : id
            let base = wanted ?? stem
            if let problem = Names.jobIDProblem(base) {
                throw CLIError("\(problem); give one with --id")
            }
            func free(_ candidate: String) -> Bool {
                !taken.contains(candidate) && !FileOps.exists(spool.layout.job(candidate))
                    && !FileOps.exists(spool.layout.inbox(queue: queue) + "/" + candidate + ".yaml")
            }
            if id != Self.auto {
                guard !taken.contains(base) else { throw CLIError("job id \(base) is given twice; use --id auto") }
                if FileOps.exists(spool.layout.job(base)) {
                    throw CLIError("job \(base) already exists in \(spool.layout.outbox); choose another id with --id, or --id auto")
                }
                return base
            }
            if free(base) { return base }
            for n in 2...10_000 {
                let candidate = "\(base.prefix(120))-\(n)"
                if Names.isValid(candidate) && free(candidate) { return candidate }
            }
            throw CLIError("no free job id like \(base); give one with --id")
        }

        /// The manifest with --workflow, --param and --input applied and relative input paths
        /// made absolute; the bytes as they are when nothing changes.
        func edited(_ bytes: [UInt8], label: String, spool: SpoolOptions.Resolved) throws -> [UInt8] {
            var root: YAMLNode
            if bytes.isEmpty && workflow != nil {
                root = ManifestEdit.emptyDocument
            } else {
                do { root = try YAMLParser.parse(bytes) } catch {
                    return bytes   // not YAML: the check that follows reports it with positions
                }
            }
            guard root.pairs != nil else { return bytes }
            var changed = false
            if let workflow { ManifestEdit.set(&root, "workflow", ManifestEdit.plain(workflow)); changed = true }
            if let foreach {
                ManifestEdit.set(&root, section: "foreach", key: "samplesheet", value: ManifestEdit.string(FileOps.absolute(foreach)))
                changed = true
            } else if let sheet = root["foreach"]?["samplesheet"]?.scalar, !sheet.hasPrefix("/"),
                      FileOps.exists(FileOps.resolve(sheet, against: FileOps.absolute("."))) {
                // A sheet beside the manifest, as `hopper validate` finds it: the daemon gets its absolute path.
                ManifestEdit.set(&root, section: "foreach", key: "samplesheet", value: ManifestEdit.string(FileOps.absolute(sheet)))
                changed = true
            }
            for p in params {
                let (name, value) = try Self.pair(p, "--param")
                ManifestEdit.set(&root, section: "params", key: name, value: ManifestEdit.plain(value))
                changed = true
            }
            for i in inputs {
                let (name, path) = try Self.pair(i, "--input")
                ManifestEdit.set(&root, section: "inputs", key: name, value: ManifestEdit.string(path))
                changed = true
            }
            let cwd = FileOps.absolute(".")
            let moved = ManifestEdit.mapInputs(&root) { _, path in
                guard !path.hasPrefix("/"), !path.isEmpty else { return nil }
                let here = FileOps.resolve(path, against: cwd)
                // Only in the spool: relative to the spool, as a manifest dropped by hand.
                if !FileOps.exists(here) && FileOps.exists(FileOps.resolve(path, against: spool.layout.root)) { return nil }
                return here
            }
            guard changed || moved else { return bytes }
            return Array(YAMLEmitter.emit(root).utf8)
        }

        /// Inputs this host can see must exist: a path whose folder is here but the file is not
        /// is a mistake to report now, not deep inside a step. A path on a filesystem this host
        /// does not mount (its folder is missing too) is left to the daemon.
        func checkInputs(_ inputs: [String: String], label: String, spool: SpoolOptions.Resolved) throws {
            var problems: [String] = []
            for (name, path) in inputs.sorted(by: { $0.key < $1.key }) {
                let full = FileOps.resolve(path, against: spool.layout.root)
                if FileOps.exists(full) { continue }
                guard FileOps.isDirectory(FileOps.split(full).0) else { continue }
                problems.append("input \(name): \(path) does not exist")
            }
            guard problems.isEmpty else {
                throw CLIError("\(label): " + problems.joined(separator: "; ") + " (relative paths are taken from the current directory)")
            }
        }
    }
}
