// Timestamp — RFC 3339 UTC times with milliseconds, e.g. `2026-11-21T10:00:00.123Z`.
#if canImport(Glibc)
import Glibc
#endif

public enum Timestamp {
    /// Seconds since the epoch, from CLOCK_REALTIME.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func rfc3339(_ t: Double = now()) -> String {
        var secs = time_t(t.rounded(.down))
        var millis = Int(((t - Double(secs)) * 1000).rounded(.down))
        if millis >= 1000 { millis = 999 }
        if millis < 0 { millis = 0; secs = time_t(t) }
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// Parses what `rfc3339` writes (and the same without fraction). Returns seconds since the epoch.
    public static func parse(_ s: String) -> Double? {
        let b = Array(s.utf8)
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A else { return nil }
        func num(_ r: Range<Int>) -> Int32? {
            var v: Int32 = 0
            for i in r { guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }; v = v * 10 + Int32(b[i] - 0x30) }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
              let mi = num(14..<16), let se = num(17..<19) else { return nil }
        var frac = 0.0
        var i = 19
        if b[i] == 0x2E {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { frac += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
        }
        guard i < b.count, b[i] == 0x5A else { return nil }
        var tmv = tm()
        tmv.tm_year = y - 1900; tmv.tm_mon = mo - 1; tmv.tm_mday = d
        tmv.tm_hour = h; tmv.tm_min = mi; tmv.tm_sec = se
        return Double(timegm(&tmv)) + frac
    }
}
