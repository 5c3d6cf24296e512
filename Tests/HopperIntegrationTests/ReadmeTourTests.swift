// The README's tour, run as written: the `sh` blocks of its "A five-minute tour" section
// (the tour and "A pipeline end to end") are read from README.md at test time, so that a change
// to the README whose commands no longer work fails here.
//
// Each command line runs once, in one bash, in a folder laid out as the repository is
// (Workflows/, .build/debug/ with the binaries under test), with a fresh ./spool. Three things
// are added around the lines, never in them: `swift build` is a no-op (the test runs from a
// build); before each line the script waits, as a person reading the output would, until the
// daemon is up and has answered every manifest in the inbox; the file `my-run.yaml`, which the
// tour copies as the reader's own manifest, is a demo manifest. Each line must exit 0, except
// where its comment says what it prints for a rejected manifest (`… reason …`): then it exits
// 1 and prints both parts. A comment `prints the job id: X` means the output is X.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct ReadmeTour {
        /// The command lines of the `sh` blocks in the README's tour section, in order.
        static func tourLines() throws -> [String] {
            let readme = try String(contentsOfFile: Paths.repo + "/README.md", encoding: .utf8)
            guard let start = readme.range(of: "\n## A five-minute tour") else { throw TestFailure("README.md has no tour") }
            let rest = readme[start.upperBound...]
            let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
            var lines: [String] = []
            var inBlock = false
            for raw in section.split(separator: "\n", omittingEmptySubsequences: false) {
                let line = String(raw)
                if line.hasPrefix("```") {
                    inBlock = !inBlock && line == "```sh"
                    continue
                }
                let command = line.trimmingCharacters(in: .whitespaces)
                if inBlock && !command.isEmpty && !command.hasPrefix("#") { lines.append(command) }
            }
            return lines
        }

        /// What a line's comment promises: a rejection's two parts (`a … b`), or a job id.
        static func promise(_ line: String) -> (rejected: [String]?, prints: String?) {
            guard let hash = line.range(of: "  #") else { return (nil, nil) }
            let comment = line[hash.upperBound...].trimmingCharacters(in: .whitespaces)
            if comment.contains("was rejected"), comment.contains(" … ") {
                return (comment.components(separatedBy: " … "), nil)
            }
            if let r = comment.range(of: "prints the job id: ") { return (nil, String(comment[r.upperBound...])) }
            return (nil, nil)
        }

        @Test func tourRunsAsWritten() throws {
            let lines = try Self.tourLines()
            #expect(lines.count >= 20, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("hopper daemon &") })

            let base = FileManager.default.temporaryDirectory.appendingPathComponent("hopper-tour-\(UUID().uuidString.prefix(8))").path
            defer {
                // HOPPER_KEEP_TOUR=1 keeps the folder (outputs, exit statuses, times) for a look.
                if ProcessInfo.processInfo.environment["HOPPER_KEEP_TOUR"] == nil {
                    try? FileManager.default.removeItem(atPath: base)   // silent: clean-up
                }
            }
            try FileManager.default.createDirectory(atPath: base + "/.build", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: base + "/.build/debug",
                                                       withDestinationPath: (Paths.hopper as NSString).deletingLastPathComponent)
            try FileManager.default.copyItem(atPath: Paths.repo + "/Workflows", toPath: base + "/Workflows")
            try demoManifest(sample: "S002").write(toFile: base + "/my-run.yaml", atomically: true, encoding: .utf8)

            var script = """
                # Descriptors inherited from the test runner closed: Foundation's Process waits
                # for them, and the daemon started below would keep them open.
                for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
                cd \(base)
                swift() { :; }   # the test runs from a build
                settle() {       # what a person waits for before the next command
                  for _ in $(seq 600); do
                    # the daemon, once started, is up; and has answered every manifest in the inbox
                    if { [ ! -f \(base)/daemon.pid ] || [ -f \(base)/spool/system/status.json ]; } &&
                       ! ls \(base)/spool/inbox/ 2>/dev/null | grep -qiE '\\.ya?ml$'; then return 0; fi
                    sleep 0.1
                  done
                }

                """
            for (i, line) in lines.enumerated() {
                script += "[ \(i) -gt 0 ] && settle\n"
                // Absolute names: a line may change the directory (`cd spool`), as a person does.
                script += "{ \(line)\n} > \(base)/out.\(i) 2> \(base)/err.\(i) < /dev/null\n"
                script += "echo $? > \(base)/rc.\(i); date +%s.%N > \(base)/time.\(i)\n"
                if line.hasPrefix("hopper daemon &") { script += "echo $! > \(base)/daemon.pid\n" }
            }
            // The daemon the tour started, stopped as a person would (SIGTERM).
            script += """
                if [ -f \(base)/daemon.pid ]; then
                  pid=$(cat \(base)/daemon.pid); kill "$pid"
                  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                fi

                """
            try script.write(toFile: base + "/tour.sh", atomically: true, encoding: .utf8)

            var env: [String: String] = ["TZ": "UTC"]
            if let snakemake = ProcessInfo.processInfo.environment["HOPPER_SNAKEMAKE"] { env["HOPPER_SNAKEMAKE"] = snakemake }
            let run = try runProgram("/usr/bin/env", ["-u", "HOPPER_SPOOL", "-u", "HOPPER_CONFIG", "bash", base + "/tour.sh"], env: env)
            // Should the script have ended early: the daemon it started stopped all the same.
            if let text = try? String(contentsOfFile: base + "/daemon.pid", encoding: .utf8),   // silent: no daemon started, checked below
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGTERM)
                _ = eventually(timeout: 30) { kill(pid, 0) != 0 }
            }
            #expect(run.code == 0, "\(run.stderr)")

            for (i, line) in lines.enumerated() {
                func read(_ name: String) -> String {
                    (try? String(contentsOfFile: "\(base)/\(name).\(i)", encoding: .utf8)) ?? ""   // silent: missing reads as empty
                }
                let rc = Int(read("rc").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                let out = read("out"), err = read("err")
                let promise = Self.promise(line)
                if let parts = promise.rejected {
                    #expect(rc == 1, "\(line)\nexit \(rc)\n\(out)\(err)")
                    for part in parts {
                        let words = part.trimmingCharacters(in: .whitespaces)
                        #expect((out + err).contains(words), "\(line)\nprints:\n\(out)\(err)")
                    }
                } else {
                    #expect(rc == 0, "\(line)\nexit \(rc)\nstdout:\n\(out)\nstderr:\n\(err)")
                }
                if let id = promise.prints {
                    #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == id, "\(line)\n\(out)")
                }
            }
        }
    }
}
