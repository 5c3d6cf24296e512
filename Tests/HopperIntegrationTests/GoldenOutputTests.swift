// Whole outputs of the command line, compared with golden files: for each command its common
// and error cases, run with the real binary against a real daemon on a temporary spool. Each
// file in Golden/ holds one command line, its exit status, its standard output and its
// standard error, compared whole.
//
// What changes from run to run is masked, keeping the width of what a table aligns: the
// temporary folder (`$BASE`), the repository (`$REPO`), RFC 3339 times (`<TIME>`), local times
// (`YYYY-MM-DD hh:mm:ss`, TZ=UTC), durations (`0:00`), pids, the host name, the version, sizes
// of free disk space, the time and pid in a control request's file name.
//
// To regenerate after an intended change: HOPPER_UPDATE_GOLDEN=1 swift test --filter
// GoldenOutput — then read the diff (git diff Tests/HopperIntegrationTests/Golden) before
// committing it.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct GoldenOutput {
        static let folder = Paths.repo + "/Tests/HopperIntegrationTests/Golden"
        static var updating: Bool { ProcessInfo.processInfo.environment["HOPPER_UPDATE_GOLDEN"] != nil }

        /// Runs `hopper ARGS` and compares its whole output with `Golden/<name>.txt`.
        static func check(_ name: String, _ spool: TestSpool, _ args: [String], stdin: String? = nil) throws {
            let env = ["TZ": "UTC", "HOPPER_SPOOL": spool.root, "COLUMNS": "100"]
            let r = try runProgram(Paths.hopper, args, env: env, cwd: spool.base, stdin: stdin)
            var text = "$ hopper " + args.joined(separator: " ") + "\n"
            text += "--- exit \(r.code)\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
            let actual = mask(text, spool)
            let path = folder + "/" + name + ".txt"
            if updating {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try actual.write(toFile: path, atomically: true, encoding: .utf8)
                return
            }
            let expected = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no golden file \(path); HOPPER_UPDATE_GOLDEN=1 writes it)"   // silent: the message says
            #expect(actual == expected, "Golden/\(name).txt differs:\n--- expected\n\(expected)\n--- actual\n\(actual)")
        }

        static func replace(_ text: String, _ pattern: String, _ with: (String) -> String) -> String {
            guard let re = try? NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines]) else { return text }   // silent: the patterns are constants
            var out = text
            let ns = text as NSString
            for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)).reversed() {
                let found = ns.substring(with: m.range)
                out = (out as NSString).replacingCharacters(in: m.range, with: with(found))
            }
            return out
        }

        static func digitsToZero(_ s: String) -> String {
            String(s.map { $0.isNumber ? "0" : $0 })
        }

        static func mask(_ text: String, _ spool: TestSpool) -> String {
            var t = text.replacingOccurrences(of: spool.base, with: "$BASE")
            t = t.replacingOccurrences(of: Paths.repo, with: "$REPO")
            t = t.replacingOccurrences(of: HopperVersion.current, with: "<VERSION>")
            t = t.replacingOccurrences(of: Procfs.hostName(), with: "<HOST>")
            t = replace(t, #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#) { _ in "<TIME>" }
            t = replace(t, #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"#) { _ in "YYYY-MM-DD hh:mm:ss" }
            t = replace(t, #"(?<![\d:.])\d{1,2}:\d\d(?![\d:])"#, digitsToZero)
            t = replace(t, #"pid \d+"#) { _ in "pid <PID>" }
            t = replace(t, #"\.\d{13}\.\d+\.yaml"#) { _ in ".<MILLIS>.<PID>.yaml" }
            t = replace(t, #""elapsed_seconds":[0-9.]+"#) { _ in "\"elapsed_seconds\":<SECONDS>" }
            t = replace(t, #"^disk .*$"#) { line in replace(line, #"[0-9.]+ [KMGTP]?i?B\b"#) { _ in "<SIZE>" } }
            t = replace(t, #"^snakemake  .*$"#) { _ in "snakemake  <SNAKEMAKE>" }
            return t
        }

        static let manifests: [String: String] = [
            "done": """
                description: two quick steps
                steps:
                  - {name: hello, run: "echo hello from done"}
                  - {name: bye, run: "echo bye"}
                """,
            "boom": """
                description: fails in its second step
                steps:
                  - {name: prep, run: "echo prepared"}
                  - {name: crunch, run: "for i in $(seq 1 12); do echo line $i; done; exit 3"}
                """,
            "slow": """
                steps:
                  - {name: nap, run: "sleep 300"}
                """,
            "later": """
                steps:
                  - {name: nap, run: "true"}
                """,
            "urgent": """
                priority: 5
                steps:
                  - {name: nap, run: "true"}
                """,
            "bad": """
                description: a typo
                prority: 1
                steps:
                  - {name: nap, run: "true"}
                """,
        ]

        @Test func commandsAsGolden() throws {
            let spool = try TestSpool(config: "max_running: 1")
            try FileManager.default.createDirectory(atPath: spool.base + "/m", withIntermediateDirectories: true)
            for (name, text) in Self.manifests {
                try (text + "\n").write(toFile: spool.base + "/m/\(name).yaml", atomically: true, encoding: .utf8)
            }
            try spool.startDaemon()
            let c = { (name: String, args: [String]) in try Self.check(name, spool, args) }

            // validate and submit, and their mistakes
            try c("validate-ok", ["validate", "m/done.yaml"])
            try c("validate-bad", ["validate", "m/done.yaml", "m/bad.yaml"])
            try c("submit-bad", ["submit", "m/bad.yaml"])
            try c("submit-missing-file", ["submit", "m/nothing.yaml"])
            try c("submit", ["submit", "m/done.yaml"])
            try c("wait-completed", ["wait", "done"])
            try c("submit-taken", ["submit", "m/done.yaml"])
            try c("submit-usage", ["submit", "--id", "no/such"])
            try c("submit-boom", ["submit", "m/boom.yaml"])
            try c("wait-failed", ["wait", "boom"])
            try c("submit-workflow", ["submit", "--workflow", "hello", "--param", "name=Ada", "--id", "hi"])
            try c("wait-hi", ["wait", "hi"])
            try c("results", ["results", "hi"])
            try c("results-verify", ["results", "hi", "--verify"])
            try c("results-none", ["results", "done"])
            try c("results-unknown", ["results", "nope"])

            // a running job and two pending behind it (max_running: 1)
            try c("submit-slow", ["submit", "m/slow.yaml"])
            #expect(eventually(timeout: 30) { (try? spool.status("slow"))?.state == .running })   // silent: not there yet
            try c("submit-pending", ["submit", "m/later.yaml", "m/urgent.yaml"])
            #expect(eventually(timeout: 30) { spool.isAccepted("later") && spool.isAccepted("urgent") })

            // status
            try c("status-completed", ["status", "done"])
            try c("status-failed", ["status", "boom"])
            try c("status-running", ["status", "slow"])
            try c("status-pending", ["status", "urgent"])
            try c("status-unknown", ["status", "nope"])
            try c("status-invalid-id", ["status", "no/such"])
            try c("wait-timeout", ["wait", "slow", "--timeout", "1s"])
            try c("wait-unknown", ["wait", "nope"])

            // ls
            #expect(eventually(timeout: 30) {
                let r = try? runProgram(Paths.hopper, ["ls", "--format", "id,state", "--noheader", "--spool", spool.root])   // silent: retried
                return r?.stdout.components(separatedBy: "\n").count == 7   // the store has indexed all six
            })
            try c("ls", ["ls"])
            try c("ls-format", ["ls", "--format", "id,state,position,priority,reason", "--noheader"])
            try c("ls-json", ["ls", "--json"])
            try c("ls-state", ["ls", "--state", "failed,completed"])
            try c("ls-pending", ["ls", "--state", "pending", "--format", "id,position,reason"])
            try c("ls-bad-state", ["ls", "--state", "bogus"])
            try c("ls-bad-format", ["ls", "--format", "id,colour"])

            // logs
            try c("logs", ["logs", "done"])
            try c("logs-step", ["logs", "boom", "crunch"])
            try c("logs-no-step", ["logs", "boom", "nostep"])
            try c("logs-unknown", ["logs", "nope"])

            // control
            try c("cancel", ["cancel", "later"])
            try c("cancel-refused", ["cancel", "done"])
            try c("cancel-unknown", ["cancel", "nope"])
            try c("retry", ["retry", "boom"])
            try c("clean", ["clean", "done"])
            #expect(eventually(timeout: 30) { !FileOps.exists(spool.layout.workspace("done")) })
            // bye (and the steps after it: none) but not hello, whose outputs went with the workspace.
            try c("rerun-cleaned", ["rerun", "done", "--step", "bye"])

            // the daemon (a heartbeat written after all of the above), the workflows, the version
            let settled = Timestamp.now()
            #expect(eventually(timeout: 30) {
                guard let beat = spool.heartbeat(), let at = Timestamp.parse(beat.heartbeatAt) else { return false }
                return at > settled
            })
            try c("system", ["system"])
            try c("workflows", ["workflows"])
            try c("workflows-one", ["workflows", "demo"])
            try c("workflows-unknown", ["workflows", "nope"])
            try c("version", ["--version"])
            try c("usage", ["frobnicate"])

            try c("cancel-running", ["cancel", "slow"])
        }
    }
}
