// LogfmtHandler — one structured line per event on stderr (journald takes them):
// `2026-11-22T01:02:03.456Z info job.accepted job.id=S001 job.queue=default`
//
// Messages are fixed texts; what varies goes in dotted metadata keys (swift-log's habit).
import Logging
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

public struct LogfmtHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Timestamp.rfc3339() + " " + event.level.rawValue + " " + event.message.description
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            line += " " + key + "=" + Self.quote(merged[key]!.description)
        }
        line += "\n"
        Console.err(line)
    }

    static func quote(_ s: String) -> String {
        if !s.isEmpty && !s.utf8.contains(where: { $0 <= 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x5C || $0 >= 0x7F }) {
            return s
        }
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }

    /// Bootstraps swift-log with this handler, once per process.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { LogfmtHandler(label: $0, level: level) }
    }
}
