// The docs pages name what the program has: every subcommand in docs/cli.md and in the man
// page list of docs/install.md, read from the real binary's help.
import Foundation
import Testing

extension Integration {
    @Suite struct Docs {
        /// The subcommands `hopper --help` lists.
        static func subcommands() throws -> [String] {
            let help = try runProgram(Paths.hopper, ["--help"]).stdout
            guard let section = help.components(separatedBy: "SUBCOMMANDS:\n").last else { return [] }
            // `  name   abstract`, continuation lines indented further; the list ends at a blank line.
            let list = section.components(separatedBy: "\n\n").first ?? ""
            return list.split(separator: "\n").compactMap { line in
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first else { return nil }
                return String(word)
            }
        }

        @Test func everyCommandIsDocumented() throws {
            let commands = try Self.subcommands().filter { $0 != "help" }
            #expect(commands.count >= 12, "\(commands)")
            let cli = try String(contentsOfFile: Paths.repo + "/docs/cli.md", encoding: .utf8)
            let install = try String(contentsOfFile: Paths.repo + "/docs/install.md", encoding: .utf8)
            for command in commands {
                #expect(cli.contains("hopper \(command)"), "docs/cli.md does not show `hopper \(command)`")
                #expect(install.contains("`\(command)`"), "docs/install.md's list of man pages lacks `\(command)`")
            }
        }
    }
}
