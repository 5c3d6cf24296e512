// ConfigKeys — every key of the daemon's config file, in one table: name, type, default,
// meaning. The parser takes its list of known keys from here, the configuration table of
// docs/daemon.md is this table (a test renders it and compares), hopper.yaml(5) is generated
// from it (scripts/man-pages), and nothing else lists them. Links in `meaning` are relative to docs/.

public struct ConfigKey: Sendable, Equatable {
    /// The key as written in the file; `a.<b>.c` for a key inside a mapping (not top level).
    public var name: String
    public var type: String
    /// As docs/daemon.md shows it, e.g. "`10s`", "number of cores", "—" (none).
    public var defaultText: String
    public var meaning: String

    public var isTopLevel: Bool { !name.contains(".") }
}

extension HopperConfig {
    /// Every key, in the documentation's order.
    public static let keyTable: [ConfigKey] = [
        ConfigKey(name: "spool", type: "path", defaultText: "—", meaning: "the spool root (`--spool` and `$HOPPER_SPOOL` win)"),
        ConfigKey(name: "state", type: "path", defaultText: "`<spool>/state`", meaning: "the SQLite store; must be local disk (refused on NFS/SMB/FUSE)"),
        ConfigKey(name: "workflows", type: "path", defaultText: "`Workflows/` beside the spool", meaning: "workflow directory"),
        ConfigKey(name: "workspaces", type: "path", defaultText: "`<spool>/runs`", meaning: "job workspaces"),
        ConfigKey(name: "watch", type: "auto, inotify or poll", defaultText: "`auto`", meaning: "`auto` (inotify on local filesystems, polling on network/FUSE ones), `inotify`, `poll`"),
        ConfigKey(name: "poll_interval", type: "duration > 0", defaultText: "`2s`", meaning: "scan interval of polled inboxes"),
        ConfigKey(name: "settle", type: "duration ≥ 0", defaultText: "`1s`", meaning: "a scanned file is taken once its size and mtime are unchanged this long"),
        ConfigKey(name: "rescan_interval", type: "duration > 0", defaultText: "`60s`", meaning: "slow safety rescan of every inbox, inotify or not"),
        ConfigKey(name: "max_manifest_size", type: "size > 0", defaultText: "`1M`", meaning: "larger files are rejected unread"),
        ConfigKey(name: "executor", type: "local or slurm", defaultText: "`local`", meaning: "default executor"),
        ConfigKey(name: "queues", type: "name → queue", defaultText: "—", meaning: "`name: {workflow, executor, max_running, priority, partition, account, qos}`"),
        ConfigKey(name: "log_level", type: "debug … error", defaultText: "`info`", meaning: "`debug`, `info`, `notice`, `warning`, `error`"),
        ConfigKey(name: "max_running", type: "integer ≥ 1", defaultText: "number of cores", meaning: "jobs running at once"),
        ConfigKey(name: "per_owner_running", type: "integer ≥ 0", defaultText: "`0` (no cap)", meaning: "jobs running at once per owner"),
        ConfigKey(name: "queues.<q>.max_running", type: "integer ≥ 1", defaultText: "—", meaning: "jobs running at once from that queue"),
        ConfigKey(name: "admin_group", type: "group name", defaultText: "—", meaning: "may act on anyone's jobs"),
        ConfigKey(name: "max_log_size", type: "size > 0", defaultText: "`100M`", meaning: "per step log; the rest is dropped and counted"),
        ConfigKey(name: "max_steps", type: "integer ≥ 1", defaultText: "`100`", meaning: "a job with more steps (inline or through its workflow) is rejected (`too many steps`)"),
        ConfigKey(name: "max_group_size", type: "integer ≥ 1", defaultText: "`10000`", meaning: "a group (`foreach:`) with more rows is rejected whole"),
        ConfigKey(name: "max_result_size", type: "size > 0", defaultText: "— (no cap)", meaning: "bytes one step may publish; over it the job fails naming the cap"),
        ConfigKey(name: "kill_grace", type: "duration ≥ 0", defaultText: "`10s`", meaning: "SIGTERM → SIGKILL on cancel and timeouts (the supervisor's; the daemon's own SIGKILL backstop follows 2 s later, to the step, and 2 s after that to a wedged supervisor)"),
        ConfigKey(name: "lease_timeout", type: "duration > 0", defaultText: "`60s`", meaning: "the spool lease (`system/daemon.lease`) of a daemon on another host, not renewed this long, is taken over by a daemon starting on the spool (see [One spool, one daemon](operations.md#one-spool-one-daemon))"),
        ConfigKey(name: "submit_id", type: "stem or auto", defaultText: "`stem`", meaning: "the job id `hopper submit` gives without `--id`: the file's stem (a taken one is refused), or `auto` (the stem, made unique with `-2`, `-3`, …)"),
        ConfigKey(name: "snakemake", type: "path", defaultText: "`$HOPPER_SNAKEMAKE`, `snakemake` on PATH, `.venv/snakemake/bin/snakemake` beside Workflows/", meaning: "the Snakemake executable"),
        ConfigKey(name: "slurm", type: "mapping", defaultText: "`{poll_interval: 2s}`", meaning: "the SLURM executor: `poll_interval`, `partition`, `account`, `qos`, `bin_dir`, `array_window`, `array_throttle` (see [SLURM](slurm.md))"),
        ConfigKey(name: "mail_command", type: "command", defaultText: "`/usr/sbin/sendmail -t`", meaning: "a sendmail-compatible command (as SLURM's MailProg): reads the message, recipients in `To:`"),
        ConfigKey(name: "notify_timeout", type: "duration > 0", defaultText: "`30s`", meaning: "a mail or notify command still running after this is killed (its whole process group)"),
        ConfigKey(name: "min_free_space", type: "size ≥ 0", defaultText: "`1G`", meaning: "intake pauses while the outbox or the workspaces have less free space (`0`: never)"),
        ConfigKey(name: "retention", type: "mapping", defaultText: "`{workspaces: 7d, outbox: never, interval: 1h}`", meaning: "finished jobs' workspaces and outbox entries are removed this long after the job ended (`never` keeps them)"),
        ConfigKey(name: "allow_users", type: "user names", defaultText: "— (everyone)", meaning: "when set, only these users' manifests are accepted; others are rejected with `submitter not allowed`"),
        ConfigKey(name: "deny_users", type: "user names", defaultText: "—", meaning: "these users' manifests are rejected"),
        ConfigKey(name: "run_as", type: "service or owner", defaultText: "`service`", meaning: "`service`: every job runs as the daemon's user; `owner`: each job runs as the owner of its manifest file (the daemon must run as root) — see [Multi-user hosts](operations.md#multi-user-hosts-run_as-owner)"),
        ConfigKey(name: "min_uid", type: "integer ≥ 0", defaultText: "`1000`", meaning: "`run_as: owner`: manifests of accounts below it (root, system accounts) are refused unless `allow_users` names them"),
        ConfigKey(name: "job_mode", type: "octal mode", defaultText: "`0700`", meaning: "`run_as: owner`: mode of each job's outbox folder and workspace (they belong to the owner); `0750` with `job_group` shares them"),
        ConfigKey(name: "job_group", type: "group name", defaultText: "owner's primary group", meaning: "`run_as: owner`: group of each job's folders"),
        ConfigKey(name: "pages", type: "on or off", defaultText: "`on`", meaning: "keep the static pages (`index.html` at the spool root, in each job folder and in `rejected/`) up to date (see [pages](pages.md))"),
    ]

    /// The table of docs/daemon.md: `| key | type | default | meaning |`.
    public static func documentationTable() -> String {
        var lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
        for k in keyTable { lines.append("| `\(k.name)` | \(k.type) | \(k.defaultText) | \(k.meaning) |") }
        return lines.joined(separator: "\n")
    }
}
