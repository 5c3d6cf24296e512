// Notifier — a job's `notify:` section carried out: mail through a sendmail-compatible command
// (`sendmail -t`, as SLURM's MailProg), and a command that gets `status.json` on stdin.
//
// Each program runs in its own session with a time limit; at the limit its whole process group
// gets SIGTERM, then SIGKILL a second later. Nothing a notifier does — fail, hang, print a
// megabyte — reaches the job: the caller records each attempt's outcome as an event and moves on.
import HopperCore
import Logging
import Subprocess
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One delivery attempt and how it ended.
public struct NotifyAttempt: Sendable, Equatable {
    /// `email alice@lab.example, bob@lab.example` or `command /usr/local/bin/post`
    public var target: String
    public var ok: Bool
    /// "sent", "exited with 3", "timed out after 30s", "could not start …"
    public var outcome: String
}

public struct Notifier: Sendable {
    /// The mail command as argv (`/usr/sbin/sendmail -t`).
    public let mailCommand: [String]
    public let timeout: Double

    public init(mailCommand: String, timeout: Double) {
        self.mailCommand = mailCommand.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        self.timeout = timeout
    }

    /// Sends what `notify` asks for on `event`; returns one attempt per target.
    /// `statusPath` is the job's status.json (named in the mail, given to the command).
    /// `user` (run_as: owner): the programs run as the job's owner.
    public func send(_ notify: Notify, event: NotifyEvent, status: JobStatus, statusJSON: [UInt8],
                     statusPath: String, workingDirectory: String, user: FileIdentity? = nil) async -> [NotifyAttempt] {
        guard notify.on.contains(event) else { return [] }
        var attempts: [NotifyAttempt] = []
        var env: [String: String] = [
            "PATH": ProcessEnvironment.value("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
            "HOPPER_JOB_ID": status.id, "HOPPER_EVENT": event.rawValue, "HOPPER_STATE": status.state.rawValue,
            "HOPPER_STATUS": statusPath,
        ]
        if let lang = ProcessEnvironment.value("LANG") { env["LANG"] = lang }
        if let user { env["HOME"] = user.home; env["USER"] = user.name; env["LOGNAME"] = user.name }
        if !notify.email.isEmpty {
            let target = "email " + notify.email.joined(separator: ", ")
            if mailCommand.isEmpty {
                attempts.append(NotifyAttempt(target: target, ok: false, outcome: "no mail_command is configured"))
            } else {
                let message = Self.mail(to: notify.email, event: event, status: status, statusJSON: statusJSON, statusPath: statusPath)
                let outcome = await run(mailCommand, input: message, environment: env, workingDirectory: workingDirectory, user: user)
                attempts.append(NotifyAttempt(target: target, ok: outcome.ok, outcome: outcome.text))
            }
        }
        if let command = notify.command {
            let argv = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let outcome = await run(argv, input: statusJSON, environment: env, workingDirectory: workingDirectory, user: user)
            attempts.append(NotifyAttempt(target: "command " + command, ok: outcome.ok, outcome: outcome.text))
        }
        return attempts
    }

    /// The message `sendmail -t` reads: headers (recipients in To:), a blank line, a summary and
    /// the status itself.
    public static func mail(to: [String], event: NotifyEvent, status: JobStatus, statusJSON: [UInt8], statusPath: String) -> [UInt8] {
        let hostName = Procfs.hostName()
        let what = event == .started ? "started" : status.state.rawValue
        var lines: [String] = [
            "To: " + to.joined(separator: ", "),
            "Subject: [hopper] job \(status.id) \(what)",
            "Auto-Submitted: auto-generated",
            "X-Hopper-Job: \(status.id)",
            "X-Hopper-Event: \(event.rawValue)",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "Job \(status.id) \(what) on \(hostName).",
            "",
        ]
        lines.append("  workflow   \(status.workflow ?? "(inline steps)")")
        lines.append("  owner      \(status.owner)")
        lines.append("  queue      \(status.queue)")
        lines.append("  submitted  \(status.submittedAt)")
        if let s = status.startedAt { lines.append("  started    \(s)") }
        if let f = status.finishedAt { lines.append("  finished   \(f)") }
        if let error = status.error {
            lines.append("  error      " + (error.step.map { "step \($0): " } ?? "") + Self.oneLine(error.message))
        }
        lines.append("")
        for step in status.steps {
            var line = "  \(step.name)  \(step.state.rawValue)"
            if step.attempt > 1 { line += " (attempt \(step.attempt))" }
            if let code = step.exitCode { line += ", exit \(code)" }
            lines.append(line)
        }
        if !status.results.isEmpty { lines.append(""); lines.append("  \(status.results.count) result file(s)") }
        lines.append("")
        lines.append("Status: \(statusPath)")
        lines.append("")
        var bytes = Array(lines.joined(separator: "\n").utf8)
        bytes += statusJSON
        if bytes.last != 0x0A { bytes.append(0x0A) }
        return bytes
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    /// Runs `argv` with `input` on stdin, output discarded, within `timeout`.
    func run(_ argv: [String], input: [UInt8], environment: [String: String], workingDirectory: String,
             user: FileIdentity? = nil) async -> (ok: Bool, text: String) {
        guard !argv.isEmpty else { return (false, "empty command") }
        let env = environment.map { Array("\($0.key)=\($0.value)".utf8) + [0] }
        let limit = timeout
        return await withTaskGroup(of: (Bool, String)?.self) { group in
            group.addTask {
                await Self.runOnce(argv, input: input, environment: env, workingDirectory: workingDirectory, user: user)
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            return (false, "timed out after \(DurationValue(seconds: limit).text); killed")
        }
    }

    /// One run; nil when cancelled (the process group was torn down: SIGTERM, a second, SIGKILL).
    static func runOnce(_ argv: [String], input: [UInt8], environment env: [[UInt8]], workingDirectory: String,
                        user: FileIdentity?) async -> (Bool, String)? {
        let program = argv[0]
        var argv = argv
        if let user {
            // Becoming the owner after exec, through setpriv(1): swift-subprocess's own uid/gid
            // options fork the whole (multi-threaded) daemon, and a child forked while another
            // thread holds a lock can hang before it ever execs.
            let groups = user.groups.isEmpty ? "--clear-groups" : "--groups=" + user.groups.map(String.init).joined(separator: ",")
            argv = ["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", groups, "--"] + argv
        }
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]
        let executable: Executable = argv[0].hasPrefix("/") ? .path(FilePath(argv[0])) : .name(argv[0])
        do {
            let result = try await Subprocess.run(
                executable, arguments: Arguments(Array(argv.dropFirst())), environment: .custom(env),
                workingDirectory: FilePath(workingDirectory), platformOptions: options,
                input: .array(input), output: .discarded, error: .discarded)
            switch result.terminationStatus {
            case .exited(0): return (true, "sent")
            case .exited(let code): return (false, "exited with \(code)")
            case .signaled(let signal): return (false, "killed by signal \(signal)")
            }
        } catch {
            if Task.isCancelled { return nil }
            return (false, "could not start \(program): \(error)")
        }
    }
}
