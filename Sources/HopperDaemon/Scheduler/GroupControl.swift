// GroupControl — a control request naming a group applies to its children: cancel to the
// live ones, retry to the failed and cancelled ones, rerun and clean to the ended ones. The
// request is honoured when it applied to at least one child; it is recorded in the group's
// events.jsonl, and each child's own events record it as for a request on that job.
import HopperCore
import HopperStore
import Logging

extension Scheduler {
    func applyToGroup(_ drop: ControlDrop, group: GroupRecord) async -> String? {
        let action = drop.request.action
        let isAdmin = drop.uid == 0 || settings.adminGroup.map { Accounts.isMember(uid: drop.uid, gid: drop.gid, ofGroup: $0) } == true
        if !isAdmin && Int64(drop.uid) != group.uid {
            return "\(requester(drop)) may not \(action.rawValue) group \(group.id): it belongs to \(group.owner) (only its owner, root or the admin group may)"
        }
        guard let children = store.logged("children", job: group.id, logger: logger, { try $0.children(of: group.id) }) else {
            return "the daemon cannot read its store just now; drop the request again later"
        }
        let targets = children.filter { action.appliesTo.contains($0.state) }
        guard !targets.isEmpty else {
            return "no job of group \(group.id) is \(action.appliesToText); \(action.rawValue) applies to \(action.appliesToText) jobs"
        }
        var done = 0
        var refusals: [String] = []
        for child in targets {
            var one = drop
            one.request.job = child.id
            if let refusal = await apply(one) { refusals.append(refusal) } else { done += 1 }
        }
        guard done > 0 else { return refusals.first ?? "no job of group \(group.id) took the request" }
        let message = "\(action.rawValue): accepted by \(requester(drop)) for \(done) of \(children.count) jobs"
        JobRunner.event(layout, group.id, JobEvent(event: "request", state: nil, message: message), logger: logger)
        logger.notice("request.honoured", metadata: ["group.id": "\(group.id)", "request.action": "\(action.rawValue)",
                                                     "request.jobs": "\(done)", "request.by": "\(requester(drop))"])
        return nil
    }
}
