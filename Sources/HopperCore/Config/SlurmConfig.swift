// SlurmConfig — the config file's `slurm:` section: how Hopper talks to SLURM.
//
// CONFIGURATION. Every key is optional:
//
// | key                   | type         | default     | notes                                            |
// |-----------------------|--------------|-------------|--------------------------------------------------|
// | `slurm.poll_interval` | duration > 0 | `2s`        | one `squeue` per round for all of Hopper's jobs  |
// | `slurm.partition`     | string       | — (SLURM's) | `--partition`; a queue's or manifest's wins      |
// | `slurm.account`       | string       | —           | `--account`; a queue's or manifest's wins        |
// | `slurm.qos`           | string       | —           | `--qos`; a queue's or manifest's wins            |
// | `slurm.bin_dir`       | path         | — (`PATH`)  | where `sbatch`, `squeue`, `scancel`, `sacct` are |
// | `slurm.array_window`  | duration     | `1s`        | a group's children reaching a step within it share one `sbatch --array`; `0s`: one sbatch each |
// | `slurm.array_throttle`| integer ≥ 0  | `0` (none)  | `%N` of `--array`: at most N of an array's tasks run at once |
//
// The executor itself is chosen by `executor: slurm` (config, queue or manifest).

public struct SlurmConfig: Sendable, Equatable {
    /// `slurm.poll_interval:` time between two polling rounds (one `squeue` each).
    public var pollInterval = DurationValue(seconds: 2, text: "2s")
    /// `slurm.partition:` default `--partition`.
    public var partition: String?
    /// `slurm.account:` default `--account`.
    public var account: String?
    /// `slurm.qos:` default `--qos`.
    public var qos: String?
    /// `slurm.bin_dir:` the directory of the SLURM commands; nil: found on `PATH`.
    public var binDirectory: String?
    /// `slurm.array_window:` how long a group's batch of children at one step waits for more
    /// after the last joined (at most ten windows in all); zero: no arrays.
    public var arrayWindow = DurationValue(seconds: 1, text: "1s")
    /// `slurm.array_throttle:` the `%N` of `--array` (0: no limit).
    public var arrayThrottle = 0

    public init() {}

    static let keys = ["poll_interval", "partition", "account", "qos", "bin_dir", "array_window", "array_throttle"]

    /// `path` resolves a relative `bin_dir` like the config's other paths.
    static func decode(_ node: YAMLNode, _ path: String, _ c: inout Checker,
                       resolve: (YAMLNode, String, inout Checker) -> String?) -> SlurmConfig {
        var config = SlurmConfig()
        if node.isNull { return config }
        guard let pairs = c.mapping(node, path) else { return config }
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "poll_interval": config.pollInterval = c.duration(value, p) ?? config.pollInterval
            case "partition": config.partition = c.line(value, p)
            case "account": config.account = c.line(value, p)
            case "qos": config.qos = c.line(value, p)
            case "bin_dir": config.binDirectory = resolve(value, p, &c)
            case "array_window": config.arrayWindow = c.duration(value, p, allowZero: true) ?? config.arrayWindow
            case "array_throttle": config.arrayThrottle = c.int(value, p, min: 0) ?? config.arrayThrottle
            default: c.unknownKey(key, path, valid: keys)
            }
        }
        return config
    }
}
