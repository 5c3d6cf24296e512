// Completions — what the shell completion scripts (`hopper --generate-completion-script bash|zsh|fish`)
// offer beyond subcommands and flags: job ids, queue names and step names, read from the spool
// at the moment TAB is pressed. The scripts call back into `hopper ---completion …`; the parser
// runs the closures below in that process and prints one candidate a line.
//
// The spool is found as every command finds it (SpoolOptions): `--spool`/`--config` already on the
// command line being completed, then $HOPPER_SPOOL, the config, ./spool. Nothing is ever written,
// and any failure (no spool, unreadable folder) offers nothing rather than an error in the shell.
import ArgumentParser
import HopperCore

enum Completions {
    /// Job ids: the folders of `outbox/`.
    static let jobIDs = CompletionKind.custom { words, _, prefix in
        guard let layout = spool(from: words) else { return [] }
        return matching(folders(layout.outbox), prefix)
    }

    /// Queue names: the sub-folders of `inbox/` and the config's `queues:`.
    static let queues = CompletionKind.custom { words, _, prefix in
        guard let layout = spool(from: words) else { return [] }
        var names = folders(layout.inbox)
        if let config = options(from: words), let (cfg, _) = try? config.loadConfig() {
            names += cfg.queues.map(\.name)
        }
        return matching(Array(Set(names)), prefix)
    }

    /// Step names of the job named on the command line (`hopper logs ID <TAB>`, `rerun ID --step <TAB>`).
    static let steps = CompletionKind.custom { words, _, prefix in
        guard let layout = spool(from: words) else { return [] }
        let ids = Set(folders(layout.outbox))
        guard let id = words.dropFirst().map(unquoted).first(where: { ids.contains($0) }),
              let bytes = try? FileOps.readFile(layout.status(id)),
              let status = try? JSON.decode(JobStatus.self, from: bytes) else { return [] }
        return matching(status.steps.map(\.name), prefix)
    }

    /// Job states, for `hopper ls --state`.
    static let states = CompletionKind.list(JobState.allCases.map(\.rawValue))

    /// Manifests.
    static let manifests = CompletionKind.file(extensions: ["yaml", "yml"])

    // MARK: - Reading the command line being completed

    /// `--spool X`, `--spool=X`, `--config X`, `--config=X` from the words, as SpoolOptions.
    static func options(from words: [String]) -> SpoolOptions? {
        var args: [String] = []
        var i = 1
        while i < words.count {
            let word = unquoted(words[i])
            for name in ["--spool", "--config"] {
                if word == name, i + 1 < words.count {
                    args += [name, unquoted(words[i + 1])]
                } else if word.hasPrefix(name + "=") {
                    args += [name, String(word.dropFirst(name.count + 1))]
                }
            }
            i += 1
        }
        return try? SpoolOptions.parse(args)
    }

    static func spool(from words: [String]) -> SpoolLayout? {
        guard let options = options(from: words), let resolved = try? options.resolve() else { return nil }
        return resolved.layout
    }

    /// The shells pass words as typed; completion only needs plain quoting undone.
    static func unquoted(_ word: String) -> String {
        var w = Substring(word)
        if w.count >= 2, let q = w.first, q == "'" || q == "\"", w.last == q { w = w.dropFirst().dropLast() }
        return String(w)
    }

    /// Names of the sub-folders of `path`, without hidden ones (`outbox/.staging`).
    static func folders(_ path: String) -> [String] {
        guard let names = try? FileOps.listDirectory(path) else { return [] }
        return names.filter { !$0.hasPrefix(".") && FileOps.isDirectory(path + "/" + $0) }
    }

    static func matching(_ names: [String], _ prefix: String) -> [String] {
        names.filter { $0.hasPrefix(prefix) }.sorted()
    }
}
