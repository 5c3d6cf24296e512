// RejectedPage — `rejected/index.html`: every rejected file with its time, reason and errors,
// each error quoting its line with a caret under the column, as a compiler does; refused
// control requests in a list of their own.

public struct RejectedPageItem: Sendable, Equatable {
    public var rejection: Rejection
    /// The rejected file's lines that errors point at, by line number (1-based).
    public var lines: [Int: String]
    public init(rejection: Rejection, lines: [Int: String] = [:]) { self.rejection = rejection; self.lines = lines }

    /// A control request (cancel, rerun, …) that was refused, rather than a manifest.
    public var isRefusedRequest: Bool { rejection.reason == "request refused" || rejection.reason == "request not filed" }
}

public enum RejectedPage {
    /// Files shown, newest first; the folder has them all.
    public static let shown = 500

    /// `items` newest first.
    public static func render(_ items: [RejectedPageItem], now: Double = Timestamp.now()) -> [UInt8] {
        var w = HTMLWriter()
        PageKit.head(&w, title: "Hopper — rejected files", active: false)
        w.raw("<nav><a href=\"../index.html\">spool</a></nav>\n<h1>Rejected files</h1>\n")
        let files = items.filter { !$0.isRefusedRequest }
        let requests = items.filter(\.isRefusedRequest)
        if files.isEmpty { w.raw("<p>No rejected manifests.</p>\n") }
        for item in files.prefix(shown) { entry(&w, item) }
        w.raw("<h2>Refused control requests</h2>\n")
        if requests.isEmpty { w.raw("<p>None.</p>\n") }
        for item in requests.prefix(shown) { entry(&w, item) }
        PageKit.foot(&w, generatedAt: Timestamp.rfc3339(now))
        return w.bytes
    }

    static func entry(_ w: inout HTMLWriter, _ item: RejectedPageItem) {
        let r = item.rejection
        let name = r.rejectedAs ?? r.file
        w.raw("<div class=\"rejection\"><h2>")
        w.link(PlainText.href([name]), r.file)
        w.raw("</h2>\n<p>")
        w.text(r.time)
        w.raw(" — <strong>")
        w.text(r.reason)
        w.raw("</strong>")
        if let source = r.source {
            w.raw(" (dropped as ")
            w.element("<code>", source, "</code>)")
        }
        w.raw(" — ")
        w.link(PlainText.href([name + ".error.json"]), "error.json")
        w.raw("</p>\n")
        for e in r.errors { error(&w, e, file: r.file, line: e.line.flatMap { item.lines[$0] }) }
        w.raw("</div>\n")
    }

    /// `file:line:column: path: message`, then the line and a caret under the column.
    static func error(_ w: inout HTMLWriter, _ e: Rejection.Entry, file: String, line: String?) {
        var location = file
        if let l = e.line { location += ":" + String(l) }
        if let c = e.column { location += ":" + String(c) }
        w.raw("<pre class=\"diagnostic\">")
        w.text(location)
        w.raw(": ")
        if let path = e.path {
            w.text(path)
            w.raw(": ")
        }
        w.text(e.message)
        if let line {
            let shown = PlainText.clean(line)
            w.raw("\n")
            w.text(shown)
            if let column = e.column, column >= 1 {
                w.raw("\n<span class=\"caret\">")
                w.text(caretLine(shown, column: column))
                w.raw("</span>")
            }
        }
        w.raw("</pre>\n")
    }

    /// Spaces (tabs kept, so it lines up) up to `column` (1-based, in characters), then `^`.
    public static func caretLine(_ line: String, column: Int) -> String {
        var out = ""
        for (i, ch) in line.enumerated() where i < column - 1 {
            out.append(ch == "\t" ? "\t" : " ")
        }
        let missing = column - 1 - min(column - 1, line.count)
        out += String(repeating: " ", count: missing)
        return out + "^"
    }
}
