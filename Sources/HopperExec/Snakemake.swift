// Snakemake — finding the executable, clearing stale locks, and building the command line of
// a `snakemake:` step.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

public enum Snakemake {
    /// The message of a step that cannot run because Snakemake is not installed.
    public static let missingMessage =
        "Snakemake is not installed: run scripts/setup-snakemake (a venv with Snakemake from PyPI), " +
        "or `python3 -m pip install snakemake`, and name the executable as `snakemake:` in the config or $HOPPER_SNAKEMAKE"

    /// The configured path, else $HOPPER_SNAKEMAKE, else `snakemake` on PATH, else the venv that
    /// scripts/setup-snakemake creates beside the Workflows/ folder. Nil when none is executable.
    public static func locate(configured: String?, workflows: String?) -> String? {
        var candidates: [String] = []
        if let configured { candidates.append(configured) }
        if let env = ProcessEnvironment.value("HOPPER_SNAKEMAKE") { candidates.append(env) }
        if let path = ProcessEnvironment.value("PATH") {
            for dir in path.split(separator: ":") {
                candidates.append("\(dir)/snakemake")
            }
        }
        if let workflows { candidates.append(FileOps.split(FileOps.absolute(workflows)).0 + "/.venv/snakemake/bin/snakemake") }
        return candidates.first { !$0.isEmpty && access($0, X_OK) == 0 }
    }

    /// `snakemake --snakefile … --directory WS --configfile WS/config.yaml --cores N [--rerun-incomplete] args… targets…`
    public static func argv(executable: String, step: SnakemakeStep, workspace: String, rerun: Bool) -> [String] {
        var argv = [executable, "--snakefile", step.snakefile, "--directory", workspace,
                    "--configfile", workspace + "/config.yaml", "--cores", String(step.cores)]
        if rerun { argv.append("--rerun-incomplete") }
        argv += step.args
        argv += step.targets
        return argv
    }

    /// Removes `.snakemake/locks/*` left by a Snakemake that was killed. Call only when no
    /// attempt of the step is running (the caller is about to start a new one). Returns how
    /// many lock files were removed.
    @discardableResult
    public static func clearStaleLocks(workspace: String) -> Int {
        let dir = workspace + "/.snakemake/locks"
        var removed = 0
        for name in (try? FileOps.listDirectory(dir)) ?? [] where unlink(dir + "/" + name) == 0 {
            removed += 1
        }
        return removed
    }
}
