// JobRunner+Provenance — what stays in the outbox for a reader (docs/provenance.md): the plan,
// the params and a copy of the workflow when a job starts; its RO-Crate when it ends
// (completed, failed, cancelled; also for a job that ends before it starts), written just before
// the terminal status.json so that a reader who sees the end finds the crate. Best effort: a
// failure is logged (`provenance.write_failed`) and the job's outcome stands — status.json is
// the record.
import HopperCore
import HopperExec
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension JobRunner {
    /// plan.json, params.json and workflow/ in the job's folder, with the owner's rights.
    func keepPlan(_ manifest: JobManifest) async {
        let publisher = ProvenancePublisher(folder: layout.folder(id), workflowDirectory: settings.workflowDirectory)
        let workflowFile = manifest.workflowName.flatMap { catalog?.path(of: $0) }
        do {
            try await AsUser.run(identity) { () throws -> Void in try publisher.keepPlan(manifest, workflowFile: workflowFile) }
        } catch {
            logger.warning("provenance.write_failed", metadata: ["file": "plan.json", "error": "\(error)"])
        }
    }

    /// ro-crate-metadata.json for the job as it ended: called with the terminal status in hand,
    /// just before it is written (so status.json and the store still change together).
    func writeCrate() async {
        guard let manifest = plan else { return }
        let statusBytes = try? JSON.pretty(status)   // silent: nil lists status.json as it is on disk
        let publisher = ProvenancePublisher(folder: layout.folder(id), workflowDirectory: settings.workflowDirectory)
        let usesSnakemake = !ProvenancePublisher.snakefiles(manifest).isEmpty
        let executable = usesSnakemake ? settings.snakemake : nil
        let ended = status
        do {
            try await AsUser.run(identity) { () throws -> Void in
                let version = executable.flatMap(SnakemakeVersion.of)
                try publisher.writeCrate(status: ended, manifest: manifest, snakemakeVersion: version, statusBytes: statusBytes)
            }
        } catch {
            logger.warning("provenance.write_failed", metadata: ["file": "ro-crate-metadata.json", "error": "\(error)"])
        }
    }

    /// A job that ended without running (cancelled before it started, wait_for timed out):
    /// its plan (from the store) and its crate, written as the daemon, just before `status`
    /// (terminal) is written.
    static func keepProvenance(_ status: JobStatus, layout: SpoolLayout, store: JobStore, logger: Logger) {
        let text = store.logged("plan", job: status.id, logger: logger) { try $0.plan(id: status.id) } ?? nil
        guard let text, let manifest = Plan.decode(text) else { return }
        let publisher = ProvenancePublisher(folder: layout.folder(status.id), workflowDirectory: nil)
        do {
            try publisher.keepPlan(manifest, workflowFile: nil)
            let bytes = try? JSON.pretty(status)   // silent: nil lists status.json as it is on disk
            try publisher.writeCrate(status: status, manifest: manifest, snakemakeVersion: nil, statusBytes: bytes)
        } catch {
            logger.warning("provenance.write_failed", metadata: ["job.id": "\(status.id)", "error": "\(error)"])
        }
    }

    /// A job that runs again (retry, rerun): its crate described the last end, and goes until
    /// the next one.
    static func dropCrate(_ layout: SpoolLayout, _ id: String, logger: Logger) {
        let path = layout.folder(id).crate
        if unlink(path) != 0 && errno != ENOENT {
            logger.warning("provenance.remove_failed", metadata: ["job.id": "\(id)", "error": "\(SystemError("unlink", path: path))"])
        }
    }
}
