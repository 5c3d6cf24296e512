// hopper verify — checks a job's outbox folder, or a copy of it anywhere (an archive after an
// rsync), against its RO-Crate (`ro-crate-metadata.json`) and `results/SHA256SUMS`: missing,
// changed and unexpected files (FolderVerifier). Needs no spool and no daemon.
//
// Prints one line per problem and exits 1, or one line saying how many files hold and exits 0.
import ArgumentParser
import HopperCore
import HopperExec

extension Hopper {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a job's outbox folder, or a copy of it, against its crate and SHA256SUMS.",
            discussion: """
                PATH is a finished job's folder (outbox/<id>/) or a copy of it anywhere. Every file the \
                crate (ro-crate-metadata.json) or results/SHA256SUMS lists must be there with its size and \
                SHA-256, and no other file may be (the job page and requests/ excepted). One line per \
                problem (`<path>: missing`, `<path>: changed (…)`, `<path>: unexpected`), exit 1; \
                exit 0 when everything holds. No spool or daemon is needed.
                """)

        @Argument(help: ArgumentHelp("A job's outbox folder, or a copy of it.", valueName: "path"), completion: .directory)
        var path: String

        func run() async throws {
            guard FileOps.isDirectory(path) else { throw CLIError("\(path) is not a folder") }
            let report = FolderVerifier(path: path).run()
            for line in report.problems { print(line) }
            if !report.problems.isEmpty {
                let n = report.problems.count
                throw CLIError("\(path): \(n) problem\(n == 1 ? "" : "s")")
            }
            let against = JobFolder.crateName + (report.checksums ? " and results/SHA256SUMS" : "")
            print("\(path): \(report.checked) file\(report.checked == 1 ? "" : "s") match \(against)")
        }
    }
}
