/// `GET /health`: whether the node does its job for its role, and the facts behind the verdict.
///
/// - standalone: UP while its control thread runs;
/// - HA active or passive: UP while the cluster database takes its heartbeats (the last one is
///   younger than the lease) and the control thread runs. A passive that is not in sync yet is still
///   UP (it catches up by itself; replacing it would not help); `inSync` says so.
/// - HA starting (database never reached) or a stopping node: DOWN.
struct HealthReport: Codable, Sendable {
    var status: String
    var node: String
    var mode: String
    var role: String
    var term: Int64?
    var inSync: Bool?
    var activeNode: String?
    var lastHeartbeatAgeMs: Int?
    var dbReachable: Bool?
    var reasons: [String]

    var isUp: Bool { status == "UP" }

    /// Longest the control thread may go without a loop turn (it waits at most 1 s, plus database
    /// calls bounded by their client timeout).
    static func controlStallLimitMs(_ status: NodeStatus) -> Int { max(10_000, 2 * (status.heartbeatLimitMs ?? 0)) }

    static func evaluate(_ s: NodeStatus, nowMs: Int) -> HealthReport {
        var reasons: [String] = []
        let ageMs = s.lastHeartbeatMonoMs.map { nowMs - $0 }
        switch s.role {
        case "stopped": reasons.append("the node is stopping")
        case "starting": reasons.append("not connected to the cluster database yet" + (s.dbError.map { " (\($0))" } ?? ""))
        default: break
        }
        let stalledMs = nowMs - s.controlLoopMonoMs
        if stalledMs > controlStallLimitMs(s) { reasons.append("the control thread has not run for \(stalledMs) ms") }
        if s.mode == "ha" && (s.role == "active" || s.role == "passive") {
            if s.dbReachable == false { reasons.append("cluster database unreachable" + (s.dbError.map { ": \($0)" } ?? "")) }
            if let limit = s.heartbeatLimitMs {
                if let ageMs, ageMs > limit {
                    reasons.append("last heartbeat \(ageMs) ms ago (lease \(limit) ms)")
                } else if ageMs == nil {
                    reasons.append("no heartbeat reached the cluster database yet")
                }
            }
        }
        return HealthReport(status: reasons.isEmpty ? "UP" : "DOWN", node: s.nodeId, mode: s.mode, role: s.role, term: s.term,
                            inSync: s.inSync, activeNode: s.activeNode, lastHeartbeatAgeMs: ageMs, dbReachable: s.dbReachable,
                            reasons: reasons)
    }
}
