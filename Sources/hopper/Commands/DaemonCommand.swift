// hopper daemon — the service (run by systemd, or by hand for the quick start).
import ArgumentParser
import HopperCore
import HopperDaemon
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Daemon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the daemon: watch the inboxes, accept or reject manifests, publish status.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Option(help: ArgumentHelp("Log level (debug, info, notice, warning, error); default: the config's log_level.", valueName: "level"))
        var logLevel: String?

        func run() async throws {
            let spool = try spoolOptions.resolve(mustExist: false, daemonSettings: false)
            let levelName = logLevel ?? spool.config.logLevel.rawValue
            guard let level = Logger.Level(rawValue: levelName) else {
                throw CLIError("unknown log level \(levelName)")
            }
            LogfmtHandler.bootstrap(level: level)
            let logger = Logger(label: "hopper")
            var options = DaemonOptions(layout: spool.layout, config: spool.config, workflowDirectory: spool.workflows)
            options.configPath = spool.configPath
            let spoolOptions = self.spoolOptions
            let root = spool.layout.root
            options.checkReload = {
                do {
                    let again = try spoolOptions.resolve(mustExist: false, daemonSettings: false)
                    if again.layout.root != root { return "the new config names another spool (\(again.layout.root)); restart the service to move" }
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            let exit: DaemonExit
            do {
                exit = try await HopperDaemon.Daemon.run(options, logger: logger)
            } catch let error as DaemonError {
                throw CLIError(error.message)
            }
            if exit == .reload { try reexec() }
        }

        /// SIGHUP: the same program, arguments and environment, in this process (same pid).
        func reexec() throws {
            let args = CommandLine.arguments
            var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
            argv.append(nil)
            execv("/proc/self/exe", &argv)
            throw CLIError("reload: cannot re-execute /proc/self/exe: \(String(cString: strerror(errno)))")
        }
    }
}
