// Procfs — what the daemon reads about processes and its host: /proc/PID/stat, gethostname(2).
// One reader for the supervisor checks (LocalExecutor), the spool lease and the heartbeat.
#if canImport(Glibc)
import Glibc
#endif

public enum Procfs {
    /// The fields of /proc/PID/stat after the command name: state (field 3), ppid, pgrp,
    /// session, …; nil when there is no such process.
    public static func statFields(_ pid: Int32) -> [String]? {
        guard let bytes = try? FileOps.readFile("/proc/\(pid)/stat", limit: 4096),   // silent: no entry, no process
              let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return nil }
        return bytes[(close + 2)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Field 22 of /proc/PID/stat: the start time in clock ticks since boot; nil when the
    /// process is gone (a zombie counts as gone).
    public static func startTime(_ pid: Int32) -> Int? {
        guard let fields = statFields(pid), fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return Int(fields[19])
    }

    /// gethostname(2).
    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
