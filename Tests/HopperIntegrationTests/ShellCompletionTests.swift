// Shell completions and `hopper --version`, as a user meets them: the scripts the parser
// generates, run by the real bash and fish, calling back into the real binary, which reads job
// ids, queues and steps from a spool that a real daemon filled.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite struct ShellCompletion {
        /// A spool with two accepted jobs (their outbox folders and status files written by the
        /// daemon) and a queue folder.
        static func spoolWithJobs() throws -> TestSpool {
            let spool = try TestSpool()
            try spool.startDaemon()
            try spool.drop("S001-qc.yaml", demoManifest(sample: "S001"))
            try spool.drop("S002-qc.yaml", demoManifest(sample: "S002"))
            try FileManager.default.createDirectory(atPath: spool.root + "/inbox/seq1", withIntermediateDirectories: true)
            #expect(eventually { spool.isAccepted("S001-qc") && spool.isAccepted("S002-qc") })
            return spool
        }

        /// What bash completes for `words` (the last one being completed), with the script that
        /// `hopper --generate-completion-script bash` prints. The first word is the binary's path,
        /// which is what the script calls back.
        static func bash(_ words: [String], spool: TestSpool, cwd: String) throws -> [String] {
            let script = try runProgram(Paths.hopper, ["--generate-completion-script", "bash"])
            try #require(script.code == 0)
            let file = spool.base + "/hopper.bash"
            try script.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            let driver = """
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _hopper hopper "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf '%s\\n' "${COMPREPLY[@]}"
                """
            let r = try runProgram("/bin/bash", ["-c", driver, "bash", file, Paths.hopper] + words, cwd: cwd)
            #expect(r.code == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").map(String.init)
        }

        @Test func bashCompletesIdsQueuesStepsAndStatesFromTheSpool() throws {
            let spool = try Self.spoolWithJobs()
            let elsewhere = spool.base  // not the spool's parent: the spool comes from --spool
            let ids = try Self.bash(["status", "--spool", spool.root, "S00"], spool: spool, cwd: elsewhere)
            #expect(ids == ["S001-qc", "S002-qc"])
            let one = try Self.bash(["cancel", "--spool", spool.root, "S002"], spool: spool, cwd: elsewhere)
            #expect(one == ["S002-qc"])
            // $HOPPER_SPOOL works as for every command.
            let viaEnv = try runProgram("/usr/bin/env", ["HOPPER_SPOOL=" + spool.root, Paths.hopper,
                                                         "---completion", "wait", "--", "positional@0", "2", "0", "hopper", "wait", ""])
            #expect(viaEnv.stdout == "S001-qc\nS002-qc\n", "\(viaEnv.stdout)\(viaEnv.stderr)")
            // Step names of the job on the command line (the demo workflow's).
            let steps = try Self.bash(["logs", "--spool", spool.root, "S001-qc", ""], spool: spool, cwd: elsewhere)
            let expected = try spool.status("S001-qc").steps.map(\.name).sorted()
            #expect(!expected.isEmpty && steps == expected, "\(steps)")
            let queues = try Self.bash(["submit", "--spool", spool.root, "--queue", ""], spool: spool, cwd: elsewhere)
            #expect(queues == ["seq1"])
            let states = try Self.bash(["ls", "--state", "c"], spool: spool, cwd: elsewhere)
            #expect(Set(states) == ["completed", "cancelled"], "\(states)")
            let commands = try Self.bash(["re"], spool: spool, cwd: elsewhere)
            #expect(Set(commands) == ["results", "retry", "rerun"], "\(commands)")
            // No spool: nothing offered, and nothing printed into the shell.
            let none = try Self.bash(["status", "--spool", spool.base + "/nowhere", ""], spool: spool, cwd: elsewhere)
            #expect(none.isEmpty, "\(none)")
        }

        /// Types `line` and TAB twice into an interactive `shell` under tmux, with the generated
        /// completion script where the shell looks for it, and returns the screen once every one
        /// of `expected` shows on it (or after 20 s).
        static func interactive(_ shell: String, flags: String = "", setup: String, line: String, expected: [String], base: String) throws -> String {
            let tmux = "/usr/bin/tmux"
            try #require(FileManager.default.isExecutableFile(atPath: tmux), "tmux is missing: scripts/test installs it (apt-get install tmux)")
            try #require(FileManager.default.isExecutableFile(atPath: shell), "\(shell) is missing: scripts/test installs it (apt-get install zsh fish)")
            let socket = "hopper-test-\(UUID().uuidString.prefix(8))"
            let bin = URL(fileURLWithPath: Paths.hopper).deletingLastPathComponent().path
            let env = "PATH=\(bin):/usr/bin:/bin XDG_CONFIG_HOME=\(base)/config HOME=\(base) TERM=xterm"
            // The tmux server outlives the command that starts it: it must not keep any descriptor
            // of this process open (Foundation's Process waits for those to close), so the
            // command runs with every descriptor above stderr closed.
            let closeAndRun = "for fd in /proc/$$/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] && eval \"exec $n>&-\" 2>/dev/null; done; exec \"$@\""
            let start = try runProgram("/bin/bash", ["-c", closeAndRun, "bash", tmux, "-L", socket, "new-session", "-d", "-s", "t",
                                                      "-x", "160", "-y", "30", "env \(env) \(shell) \(flags)"])
            try #require(start.code == 0, "\(start.stderr)")
            // The server inherits this process's blocked signals, so `kill-server` cannot end it:
            // SIGKILL the server and the shell by pid, and remove the socket.
            let info = try runProgram(tmux, ["-L", socket, "display-message", "-p", "-t", "t", "#{pid} #{pane_pid} #{socket_path}"])
            let fields = info.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
            defer {
                for pid in fields.prefix(2).compactMap({ Int32($0) }) where pid > 1 { kill(pid, SIGKILL) }
                if fields.count == 3 { unlink(fields[2]) }
            }
            try #require(fields.count == 3, "tmux display-message: \(info.stdout)\(info.stderr)")
            func screen() -> String { (try? runProgram(tmux, ["-L", socket, "capture-pane", "-p", "-t", "t"]).stdout) ?? "" }
            func send(_ keys: String...) throws { _ = try runProgram(tmux, ["-L", socket, "send-keys", "-t", "t"] + keys) }
            _ = eventually(timeout: 10) { !screen().trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            if !setup.isEmpty { try send(setup, "Enter") }
            try send(line)
            _ = eventually(timeout: 10) { screen().contains(line) }
            try send("Tab")
            Thread.sleep(forTimeInterval: 1)
            try send("Tab")
            _ = eventually(timeout: 20) { let s = screen(); return expected.allSatisfy { s.contains($0) } }
            return screen()
        }

        @Test func fishCompletesJobIdsInteractively() throws {
            let spool = try Self.spoolWithJobs()
            let script = try runProgram(Paths.hopper, ["--generate-completion-script", "fish"])
            let dir = spool.base + "/config/fish/completions"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try script.stdout.write(toFile: dir + "/hopper.fish", atomically: true, encoding: .utf8)
            let screen = try Self.interactive("/usr/bin/fish", setup: "", line: "hopper status --spool \(spool.root) S00",
                                              expected: ["S001-qc", "S002-qc"], base: spool.base)
            #expect(screen.contains("S001-qc") && screen.contains("S002-qc"), "\(screen)")
        }

        @Test func zshCompletesJobIdsInteractively() throws {
            let spool = try Self.spoolWithJobs()
            let script = try runProgram(Paths.hopper, ["--generate-completion-script", "zsh"])
            #expect(script.stdout.hasPrefix("#compdef hopper"))
            let dir = spool.base + "/zfunc"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try script.stdout.write(toFile: dir + "/_hopper", atomically: true, encoding: .utf8)
            let screen = try Self.interactive("/usr/bin/zsh", flags: "-f", setup: "fpath=(\(dir) $fpath); autoload -U compinit; compinit -u",
                                              line: "hopper status --spool \(spool.root) S00",
                                              expected: ["S001-qc", "S002-qc"], base: spool.base)
            #expect(screen.contains("S001-qc") && screen.contains("S002-qc"), "\(screen)")
        }

        @Test func versionNamesTheCommitOrSaysItIsUnknown() throws {
            let r = try runProgram(Paths.hopper, ["--version"])
            #expect(r.code == 0)
            let stamped = /^(\d+\.\d+\.\d+) \(commit [0-9a-f]{7,40}(-dirty)?, [0-9T:Z-]+\)\n$/
            let unstamped = /^(\d+\.\d+\.\d+) \(unknown commit: a development build, not stamped by scripts\/package\)\n$/
            let version = (try? stamped.wholeMatch(in: r.stdout))?.output.1 ?? (try? unstamped.wholeMatch(in: r.stdout))?.output.1
            #expect(version.map(String.init) == HopperVersion.current, "\(r.stdout)")
        }
    }
}
