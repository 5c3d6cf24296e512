// hopper-fuzz — the manifest parser and validator under libFuzzer.
//
// Feeds arbitrary bytes through the path intake takes from a dropped file to a job
// (`ManifestParser.parse` against the repository's Workflows/ catalog, then the pending
// status.json, the store's plan JSON and the rejection's .error.json), again as if dropped in a
// queue with a default workflow, and the same bytes through `Workflow.parse` (a workflow file)
// and `HopperConfig.parse` (the config file). Besides crashes, hangs and
// memory blow-ups (libFuzzer and AddressSanitizer find those), it checks what must hold for
// every input: a rejection has at least one diagnostic with a message; an accepted manifest
// has steps with valid names and outputs inside the workspace, and its plan JSON decodes
// back to the same manifest.
//
// Two builds of the same file:
//   scripts/fuzz [SECONDS]   libFuzzer build (`-sanitize=fuzzer,address -D FUZZING`): `main`
//                            hands over to libFuzzer's driver, which calls LLVMFuzzerTestOneInput.
//   swift build              a plain executable that replays files: `hopper-fuzz FILE…` runs
//                            each through the same checks and prints the outcome (to reproduce
//                            a finding without the sanitizer build).
//
// CONFIGURATION: $HOPPER_FUZZ_WORKFLOWS, the workflow directory (default: the repo's Workflows/).
import Foundation
import HopperCore

enum ManifestFuzz {
    static let catalog = WorkflowCatalog(directory: workflowDirectory())

    static func workflowDirectory() -> String {
        if let dir = ProcessEnvironment.value("HOPPER_FUZZ_WORKFLOWS"), !dir.isEmpty { return dir }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Workflows").path
    }

    /// One input. Returns a line saying what became of it; traps when an invariant fails.
    @discardableResult
    static func check(_ bytes: [UInt8]) -> String {
        let outcome: String
        switch ManifestParser.parse(bytes, fileName: "fuzz.yaml", catalog: catalog) {
        case .failure(let error):
            precondition(!error.diagnostics.isEmpty, "rejected without a diagnostic")
            for d in error.diagnostics {
                precondition(!d.message.isEmpty, "a diagnostic without a message")
            }
            let record = Rejection(file: "fuzz.yaml", reason: error.reason, diagnostics: error.diagnostics)
            guard (try? JSON.pretty(record)) != nil else { preconditionFailure(".error.json cannot be encoded") }
            outcome = "rejected: " + (error.diagnostics.first?.formatted(file: "fuzz.yaml") ?? "")
        case .success(.job(let manifest)):
            checkJob(manifest)
            outcome = "accepted job (\(manifest.resolvedSteps.count) steps)"
        case .success(.control(let request)):
            precondition(Names.jobIDProblem(request.job) == nil, "control request for an invalid job id")
            outcome = "accepted request \(request.action.rawValue) \(request.job)"
        case .success(.group(let draft)):
            // Inline rows expand here; a sample sheet is a file the fuzzer does not have.
            let expanded = GroupExpansion.expand(draft, table: draft.foreach.rows ?? SheetTable(columns: [], rows: []),
                                                 sheetName: "fuzz.yaml", manifestName: "fuzz.yaml", groupID: "fuzz",
                                                 catalog: catalog, maxSize: 10_000)
            switch expanded {
            case .success(let children):
                for child in children { checkJob(child.manifest) }
                outcome = "accepted group (\(children.count) jobs)"
            case .failure(let error):
                precondition(!error.diagnostics.isEmpty, "group rejected without a diagnostic")
                outcome = "rejected group: " + (error.diagnostics.first?.formatted(file: "fuzz.yaml") ?? "")
            }
        }
        // In a queue whose config names a default workflow (`queues: {q: {workflow: demo}}`).
        if case .success(.job(let manifest)) = ManifestParser.parse(bytes, fileName: "fuzz.yaml", catalog: catalog,
                                                                    defaultWorkflow: "demo") {
            checkJob(manifest)
        }
        _ = Workflow.parse(bytes, name: "fuzz", fileName: "Workflows/fuzz.yaml", directory: "/nonexistent")
        // The config file goes through the same YAML layer and Checker.
        do {
            _ = try HopperConfig.parse(bytes: bytes, fileName: "config.yaml", baseDirectory: "/nonexistent")
        } catch {
            precondition(!error.diagnostics.isEmpty, "config rejected without a diagnostic")
        }
        return outcome
    }

    static func checkJob(_ manifest: JobManifest) {
        precondition(!manifest.resolvedSteps.isEmpty, "accepted a job without steps")
        var names = Set<String>()
        for step in manifest.resolvedSteps {
            precondition(Names.isValid(step.name, maxLength: 64), "accepted an invalid step name")
            precondition(names.insert(step.name).inserted, "accepted two steps with one name")
            for glob in step.outputs {
                precondition(!glob.hasPrefix("/"), "accepted an absolute output")
                let parts = glob.split(separator: "/", omittingEmptySubsequences: false)
                precondition(!parts.contains(".."), "accepted an output with ..")
            }
        }
        if let name = manifest.workflowName {
            precondition(Names.isValid(name), "accepted an invalid workflow name")
        }
        let status = JobStatus.pending(id: "fuzz", manifest: manifest, owner: "fuzz", queue: "default",
                                       executor: manifest.executor ?? .local, submittedAt: Timestamp.rfc3339())
        guard (try? JSON.pretty(status)) != nil else { preconditionFailure("status.json cannot be encoded") }
        // The store keeps the manifest as JSON (HopperDaemon's Plan): it must come back unchanged.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let plan = try? encoder.encode(manifest) else { preconditionFailure("plan cannot be encoded") }
        guard let back = try? JSONDecoder().decode(JobManifest.self, from: plan) else {
            preconditionFailure("plan does not decode: \(String(decoding: plan, as: UTF8.self))")
        }
        precondition(back == manifest, "plan decodes to a different manifest")
    }
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes: [UInt8] = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    ManifestFuzz.check(bytes)
    return 0
}

#if FUZZING
/// libFuzzer's driver (LLVM 13+). SwiftPM renames an executable's entry point and links it as
/// `main`, so libFuzzer's own `main` cannot be used; this one hands over to the same driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

@main
enum Main {
    static func main() {
        #if FUZZING
        var argc: CInt = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = CommandLine.unsafeArgv
        let code: CInt = LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
        exit(code)
        #else
        replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    /// `hopper-fuzz FILE…`: each file through the same checks, without libFuzzer.
    static func replay(_ files: [String]) {
        if files.isEmpty {
            print("usage: hopper-fuzz FILE…   (replays inputs; scripts/fuzz builds the libFuzzer target)")
            return
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("\(file): cannot read")
                continue
            }
            print("\(file): \(ManifestFuzz.check([UInt8](data)))")
        }
    }
}
