// StoreCalls — a store call whose failure is handled by saying so: logged with what it was
// for (and the job), never swallowed. The store notes the failure itself: the heartbeat then
// reports it and intake pauses until a write works again (HeartbeatService.checkStore).
import HopperStore
import Logging

extension JobStore {
    /// `body(self)`, or nil after logging `store.failed` with `what` and the job.
    func logged<T>(_ what: String, job id: String? = nil, logger: Logger, _ body: (JobStore) throws -> T) -> T? {
        do {
            return try body(self)
        } catch {
            var metadata: Logger.Metadata = ["store.call": "\(what)", "error": "\(error)"]
            if let id { metadata["job.id"] = "\(id)" }
            logger.error("store.failed", metadata: metadata)
            return nil
        }
    }
}
