// Notify and WaitFor — the two small sections of a job manifest.
//
//   notify: {email: [alice@lab.example], on: [completed, failed], command: /usr/local/bin/post}
//   wait_for: {paths: [/nfs/run42/CopyComplete.txt], timeout: 12h, stable_for: 30s}

/// When a notification is sent.
public enum NotifyEvent: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case completed, failed, cancelled, started
}

public struct Notify: Sendable, Equatable, Hashable, Codable {
    /// Addresses for the mail command (`sendmail -t`); checked to hold no spaces, commas or newlines.
    public var email: [String]
    /// Default `[completed, failed]`.
    public var on: [NotifyEvent]
    /// A program that gets `status.json` on stdin.
    public var command: String?

    public static let defaultEvents: [NotifyEvent] = [.completed, .failed]

    public init(email: [String] = [], on: [NotifyEvent] = Notify.defaultEvents, command: String? = nil) {
        self.email = email
        self.on = on
        self.command = command
    }

    static func decode(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> Notify? {
        guard let pairs = c.mapping(node, path) else { return nil }
        let before = c.diagnostics.count
        var notify = Notify()
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "email": notify.email = c.list(value, p, allowSingle: true) { c, n, p in emailAddress(n, p, &c) } ?? []
            case "on": notify.on = c.list(value, p) { c, n, p in c.choice(n, p, NotifyEvent.self) } ?? []
            case "command": notify.command = c.line(value, p)
            default: c.unknownKey(key, path, valid: ["email", "on", "command"])
            }
        }
        return c.diagnostics.count == before ? notify : nil
    }

    /// `local@domain`, without spaces, control characters or the characters that would let one
    /// address become several in a mail header (`,;<>"()`).
    static func emailAddress(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> String? {
        guard let text = c.line(node, path) else { return nil }
        let bytes = Array(text.utf8)
        let at = bytes.firstIndex(of: 0x40)
        let bad = bytes.contains { $0 <= 0x20 || $0 == 0x7F || ",;<>\"()[]\\".utf8.contains($0) }
        guard let at, at > 0, at < bytes.count - 1, bytes.lastIndex(of: 0x40) == at, !bad, bytes.count <= 254 else {
            c.error(node, path, "expected an email address such as alice@lab.example; got \(quoted(text))")
            return nil
        }
        return text
    }
}

public struct WaitFor: Sendable, Equatable, Hashable, Codable {
    /// Files that must all exist before the job starts (at least one).
    public var paths: [String]
    /// Give up (the job fails) after this long; nil waits forever.
    public var timeout: DurationValue?
    /// A path counts once its size and mtime have not changed for this long.
    public var stableFor: DurationValue?

    enum CodingKeys: String, CodingKey {
        case paths, timeout, stableFor = "stable_for"
    }

    public init(paths: [String], timeout: DurationValue? = nil, stableFor: DurationValue? = nil) {
        self.paths = paths
        self.timeout = timeout
        self.stableFor = stableFor
    }

    static func decode(_ node: YAMLNode, _ path: String, _ c: inout Checker) -> WaitFor? {
        guard let pairs = c.mapping(node, path) else { return nil }
        let before = c.diagnostics.count
        var wait = WaitFor(paths: [])
        for (key, value) in pairs {
            let k = key.scalar ?? ""
            let p = Checker.join(path, k)
            switch k {
            case "paths": wait.paths = c.list(value, p, nonEmpty: true) { c, n, p in c.line(n, p) } ?? []
            case "timeout": wait.timeout = c.duration(value, p)
            case "stable_for": wait.stableFor = c.duration(value, p, allowZero: true)
            default: c.unknownKey(key, path, valid: ["paths", "timeout", "stable_for"])
            }
        }
        if node["paths"] == nil { c.missing("paths", in: node, path) }
        return c.diagnostics.count == before ? wait : nil
    }
}
