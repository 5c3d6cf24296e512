// hopper — the command line. Every command works through the spool directory alone (SPEC §7).
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

@main
struct Hopper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hopper",
        abstract: "A batch processor whose interface is a spool directory.",
        discussion: """
            Drop a YAML manifest into <spool>/inbox/ (or use `hopper submit`); the daemon validates it, \
            and its status, logs and results appear in <spool>/outbox/<id>/.

            The manifest format: man hopper-manifest. The config file: man hopper.yaml. \
            Everything else: docs/ in the repository, /usr/share/doc/hopper/ when installed.
            """,
        version: BuildInfo.versionLine,
        subcommands: [Submit.self, Validate.self, Workflows.self, Status.self, Wait.self, List.self, Logs.self, Results.self, Verify.self, Export.self,
                      Cancel.self, Retry.self, Rerun.self, Clean.self, Daemon.self, System.self])

    /// Runs the command; runtime failures print one line, `hopper: <message>`, and exit 1.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            Console.err("hopper: \(error.message)\n")
            exitProcess(error.code)
        } catch {
            exit(withError: error)
        }
    }
}

struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32 = 1
    init(_ message: String, code: Int32 = 1) { self.message = message; self.code = code }
    var description: String { message }
}

func exitProcess(_ code: Int32) -> Never { Glibc.exit(code) }
