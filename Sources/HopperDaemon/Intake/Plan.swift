// Plan — a job's resolved manifest (the workflow's steps as they were when it was accepted),
// kept in the store so that editing a workflow never changes a job already accepted.
import Foundation
import HopperCore

public enum Plan {
    public static func encode(_ manifest: JobManifest) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // silent: a JobManifest always encodes; "{}" would make the runner read the manifest again.
        return (try? e.encode(manifest)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Many plans with one encoder (a group's children).
    public static func encode(_ manifests: [(String, JobManifest)]) -> [String: String] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        var out: [String: String] = [:]
        out.reserveCapacity(manifests.count)
        for (id, manifest) in manifests {
            // silent: a JobManifest always encodes; "{}" would make the runner read the manifest again.
            out[id] = (try? e.encode(manifest)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        return out
    }

    public static func decode(_ text: String) -> JobManifest? {
        // silent: nil makes the caller resolve the manifest anew (JobRunner.loadPlan).
        try? JSONDecoder().decode(JobManifest.self, from: Data(text.utf8))
    }
}
