// SlurmCommands — runs SLURM's client commands (sbatch, squeue, scancel, sacct) and collects
// their output. Found in `slurm.bin_dir` when configured, else on the daemon's PATH.
//
// A command that cannot be started, is killed, or runs longer than `timeout` is a result with
// a `problem`, never a thrown error: the caller decides (a polling problem never fails a job).
import HopperCore
import Subprocess
import SystemPackage

public struct SlurmCommandResult: Sendable {
    /// The exit code; nil when the command could not run or was killed.
    public var exitCode: Int32?
    public var stdout: String
    public var stderr: String
    /// Why the command did not run to an exit code, if it did not.
    public var launchError: String?

    public var succeeded: Bool { launchError == nil && exitCode == 0 }

    /// One line for logs and events: the launch error or the first line of stderr.
    public var problem: String {
        if let launchError { return launchError }
        let first = stderr.split(separator: "\n").first.map(String.init) ?? ""
        let code = exitCode.map { "exit \($0)" } ?? "killed"
        return first.isEmpty ? code : "\(first) (\(code))"
    }
}

public struct SlurmCommands: Sendable {
    /// Where `sbatch` & co. are; nil: looked up on PATH.
    public var binDirectory: String?
    /// Seconds before a hanging command is killed (slurmctld that does not answer).
    public var timeout: Double = 60

    /// util-linux's setpriv, for commands run as a job's owner.
    static let setpriv = "/usr/bin/setpriv"

    public init(binDirectory: String?) {
        self.binDirectory = binDirectory
    }

    func executable(_ name: String) -> Executable {
        if let dir = binDirectory { return .path(FilePath(dir.hasSuffix("/") ? dir + name : dir + "/" + name)) }
        return .name(name)
    }

    /// Runs `name args…` to its end (or `timeout`). `environment` nil: the daemon's own.
    /// `user`: run as this user (run_as: owner: sbatch as the job's owner, so SLURM runs the job as them).
    public func run(_ name: String, _ args: [String], environment: [String: String]? = nil,
                    workingDirectory: String? = nil, user: FileIdentity? = nil) async -> SlurmCommandResult {
        let env: Environment
        if let environment {
            env = .custom(environment.map { Array("\($0.key)=\($0.value)".utf8) + [0] })
        } else {
            env = .inherit
        }
        var exe = executable(name)
        var argv = args
        if let user {
            // Through setpriv(1), which drops to the user after exec in a single-threaded process:
            // glibc's set*id() in a child cloned from this multi-threaded daemon is not safe (a child
            // that hung there once left sbatch never started).
            let program = binDirectory.map { $0.hasSuffix("/") ? $0 + name : $0 + "/" + name } ?? name
            let groups = user.groups.isEmpty ? "--clear-groups" : "--groups=" + user.groups.map(String.init).joined(separator: ",")
            exe = .path(FilePath(SlurmCommands.setpriv))
            argv = ["--reuid=\(user.uid)", "--regid=\(user.gid)", groups, "--", program] + args
        }
        let cwd: FilePath? = workingDirectory.map { FilePath($0) }
        let limit = timeout
        let arguments = Arguments(argv)
        let command = exe
        return await withTaskGroup(of: SlurmCommandResult?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(command, arguments: arguments, environment: env,
                                                          workingDirectory: cwd, input: .none,
                                                          output: .string(limit: 256 << 20), error: .string(limit: 1 << 20))
                    var out = SlurmCommandResult(exitCode: nil, stdout: result.standardOutput,
                                                 stderr: result.standardError, launchError: nil)
                    switch result.terminationStatus {
                    case .exited(let code): out.exitCode = code
                    case .signaled(let signal): out.launchError = "\(name) was killed by signal \(signal)"
                    }
                    return out
                } catch {
                    return SlurmCommandResult(exitCode: nil, stdout: "", stderr: "", launchError: "cannot run \(name): \(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
                return nil
            }
            var answer = SlurmCommandResult(exitCode: nil, stdout: "", stderr: "",
                                            launchError: "\(name) did not answer within \(Int(limit)) s")
            if let first = await group.next(), let result = first { answer = result }
            group.cancelAll()
            return answer
        }
    }
}
