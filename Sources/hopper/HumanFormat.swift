// HumanFormat — how the command line shows times and durations to a person: times in the local
// zone (`TZ`, else /etc/localtime), durations as squeue does (`M:SS`, `H:MM:SS`, `D-HH:MM:SS`).
// Files (status.json, --json) keep RFC 3339 UTC; only what a terminal shows is local.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

enum HumanFormat {
    /// `2026-11-21 11:00:00 CET` for `2026-11-21T10:00:00.123Z` in Europe/Berlin; the text as it
    /// is when it is not a timestamp. `zone: false` leaves the zone name out (table columns).
    static func localTime(_ rfc3339: String, zone: Bool = true) -> String {
        guard let t = Timestamp.parse(rfc3339) else { return rfc3339 }
        return localTime(seconds: t, zone: zone)
    }

    static func localTime(seconds t: Double, zone: Bool = true) -> String {
        tzset()
        var secs = time_t(t.rounded(.down))
        var tmv = tm()
        guard localtime_r(&secs, &tmv) != nil else { return Timestamp.rfc3339(t) }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, zone ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &tmv)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `0:07`, `12:34`, `1:02:03`, `2-03:04:05` (days-hours:minutes:seconds, as squeue).
    static func elapsed(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        let days = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60, sec = s % 60
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        if days > 0 { return "\(days)-\(two(h)):\(two(m)):\(two(sec))" }
        if h > 0 { return "\(h):\(two(m)):\(two(sec))" }
        return "\(m):\(two(sec))"
    }

    /// How long a job has run: start to finish, or to now while it runs; nil before it starts.
    static func runSeconds(_ s: JobStatus, now: Double = Timestamp.now()) -> Double? {
        guard let start = s.startedAt.flatMap(Timestamp.parse) else { return nil }
        let end = s.finishedAt.flatMap(Timestamp.parse) ?? (s.state.isTerminal ? start : now)
        return max(0, end - start)
    }
}
