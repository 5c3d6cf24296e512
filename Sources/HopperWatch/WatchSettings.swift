// WatchSettings — how an inbox is watched. Every default is here.
//
//   field            default   min      max      config key (SPEC §6)
//   mode             auto      -        -        (none: auto; tests force inotify or poll)
//   pollInterval     2 s       100 ms   1 h      poll_interval
//   settle           1 s       0        10 min   settle
//   rescanInterval   60 s      1 s      1 day    (none)
//   maxBatch         512       1        65536    (none)
//
// Values outside [min, max] are clamped by `clamped()`, which the watcher applies.

public struct WatchSettings: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// inotify on local filesystems, polling where `FileSystemKind.needsPolling`.
        case auto
        /// inotify everywhere (falls back to polling only where inotify fails).
        case inotify
        /// Polling everywhere.
        case poll
    }

    public var mode: Mode
    /// How often a polled folder is scanned.
    public var pollInterval: Duration
    /// How long a file found by a scan must keep its size, mtime and inode before it is emitted.
    public var settle: Duration
    /// The slow safety rescan of every folder, whatever its mode; files still present and
    /// unchanged since they were emitted are emitted again (the consumer may have crashed).
    public var rescanInterval: Duration
    /// The largest batch yielded at once.
    public var maxBatch: Int

    public init(
        mode: Mode = .auto,
        pollInterval: Duration = .seconds(2),
        settle: Duration = .seconds(1),
        rescanInterval: Duration = .seconds(60),
        maxBatch: Int = 512
    ) {
        self.mode = mode
        self.pollInterval = pollInterval
        self.settle = settle
        self.rescanInterval = rescanInterval
        self.maxBatch = maxBatch
    }

    /// Every field within its [min, max] (see the table above).
    public func clamped() -> WatchSettings {
        func clamp(_ d: Duration, _ lo: Duration, _ hi: Duration) -> Duration { min(max(d, lo), hi) }
        var s = self
        s.pollInterval = clamp(pollInterval, .milliseconds(100), .seconds(3600))
        s.settle = clamp(settle, .zero, .seconds(600))
        s.rescanInterval = clamp(rescanInterval, .seconds(1), .seconds(86_400))
        s.maxBatch = min(max(maxBatch, 1), 65_536)
        return s
    }
}

/// How one inbox folder is being watched (shown in `system/status.json`).
public enum WatchMode: String, Sendable, Equatable, Hashable {
    case inotify
    case poll
}
