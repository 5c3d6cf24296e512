// hopper daemon — the service (run by systemd, or by hand for the quick start).
import ArgumentParser
import HopperCore
import HopperDaemon
import Logging

extension Hopper {
    struct Daemon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the daemon: watch the inboxes, accept or reject manifests, publish status.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Option(help: ArgumentHelp("Log level (debug, info, notice, warning, error); default: the config's log_level.", valueName: "level"))
        var logLevel: String?

        func run() async throws {
            let spool = try spoolOptions.resolve(mustExist: false)
            let levelName = logLevel ?? spool.config.logLevel.rawValue
            guard let level = Logger.Level(rawValue: levelName) else {
                throw CLIError("unknown log level \(levelName)")
            }
            LogfmtHandler.bootstrap(level: level)
            let logger = Logger(label: "hopper")
            let options = DaemonOptions(layout: spool.layout, config: spool.config, workflowDirectory: spool.workflows)
            do {
                try await HopperDaemon.Daemon.run(options, logger: logger)
            } catch let error as DaemonError {
                throw CLIError(error.message)
            }
        }
    }
}
