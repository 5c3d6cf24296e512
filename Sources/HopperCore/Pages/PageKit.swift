// PageKit — what every page shares: the head (inline CSS, a refresh only while something is
// active), state colours, and people's units (sizes, durations, ages). No JavaScript; nothing
// fetched from elsewhere, so a page reads the same over file:// and http://.

public enum PageKit {
    /// Seconds between two reloads of a page that shows something active.
    public static let refreshSeconds = 5

    static let css: StaticString = """
    body{font:14px/1.45 system-ui,sans-serif;margin:1.2em auto;max-width:72em;padding:0 1em;color:#1b1f24;background:#fff}
    h1{font-size:1.45em;margin:.2em 0}h2{font-size:1.1em;margin:1.4em 0 .4em;border-bottom:1px solid #d0d7de}
    table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #eaeef2;vertical-align:top}
    th{background:#f6f8fa;font-weight:600}pre{background:#f6f8fa;padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-all}
    code,pre,.mono{font-family:ui-monospace,monospace;font-size:.92em}
    .state{display:inline-block;padding:0 .5em;border-radius:.8em;color:#fff;font-weight:600}
    .s-pending,.s-waiting,.s-queued{background:#6e7781}.s-running{background:#0969da}.s-completed{background:#1a7f37}
    .s-failed{background:#cf222e}.s-cancelled,.s-skipped,.s-interrupted{background:#9a6700}
    .error{border:2px solid #cf222e;background:#ffebe9;padding:.6em;margin:.6em 0}
    .note{background:#fff8c5;border:1px solid #d4a72c;padding:.5em;margin:.6em 0}
    progress{width:8em}nav a{margin-right:.6em}.muted{color:#57606a}.caret{color:#cf222e}
    """

    /// `<!doctype html>` … `<body>`; refreshes every `refreshSeconds` when `active`.
    static func head(_ w: inout HTMLWriter, title: String, active: Bool) {
        w.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        w.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        if active {
            w.raw("<meta http-equiv=\"refresh\" content=\"")
            w.text(refreshSeconds)
            w.raw("\">")
        }
        w.element("<title>", title, "</title>")
        w.raw("<style>")
        w.raw(css)
        w.raw("</style></head>\n<body>\n")
    }

    /// `generatedAt` is left out of pages that should not change when nothing they list did.
    static func foot(_ w: inout HTMLWriter, generatedAt: String?) {
        w.raw("<p class=\"muted\">Written by Hopper ")
        w.text(HopperVersion.current)
        if let generatedAt {
            w.raw(" at ")
            w.text(generatedAt)
        }
        w.raw(". This page is a static file; it is rewritten while the daemon runs.</p>\n</body></html>\n")
    }

    /// A state word in its colour.
    static func state(_ w: inout HTMLWriter, _ word: String) {
        w.raw("<span class=\"state s-")
        w.text(word)
        w.raw("\">")
        w.text(word)
        w.raw("</span>")
    }

    /// `<progress>` with the percentage as text beside it.
    static func progress(_ w: inout HTMLWriter, _ fraction: Double) {
        let percent = Int((min(1, max(0, fraction)) * 100).rounded())
        w.raw("<progress max=\"100\" value=\"")
        w.text(percent)
        w.raw("\">")
        w.text(percent)
        w.raw("%</progress> ")
        w.text(percent)
        w.raw("%")
    }

    /// 1536 → "1.5 KiB".
    public static func humanSize(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        let tenths = (value * 10).rounded() / 10
        let shown = tenths >= 100 ? String(Int(tenths)) : String(tenths)
        return shown + " " + units[unit]
    }

    /// 3725 → "1h 2m 5s"; under a minute, "42s" or "0.3s".
    public static func humanDuration(_ seconds: Double) -> String {
        if seconds < 0 { return "0s" }
        if seconds < 10 {
            let tenths = (seconds * 10).rounded() / 10
            return String(tenths) + "s"
        }
        var rest = Int(seconds.rounded())
        let d = rest / 86_400; rest %= 86_400
        let h = rest / 3_600; rest %= 3_600
        let m = rest / 60
        let s = rest % 60
        if d > 0 { return "\(d)d \(h)h" }
        if h > 0 { return "\(h)h \(m)m" }
        if m > 0 { return "\(m)m \(s)s" }
        return "\(s)s"
    }

    /// Seconds from `start` to `end` (or to `now` when not ended); nil without a start.
    static func elapsed(_ start: String?, _ end: String?, now: Double) -> Double? {
        guard let start, let s = Timestamp.parse(start) else { return nil }
        let e = end.flatMap(Timestamp.parse) ?? now
        return e - s
    }

    /// A relative link to a file under a folder, each segment of `relative` encoded.
    static func href(_ relative: String) -> String {
        PlainText.href(relative.split(separator: "/", omittingEmptySubsequences: true).map(String.init))
    }
}
