import Foundation

/// The role a node plays in its cluster group.
public enum ClusterRole: Sendable, Equatable, CustomStringConvertible {
    case active(Lease)
    case passive

    public var description: String {
        switch self {
        case .active(let lease): "active (term \(lease.term))"
        case .passive: "passive"
        }
    }
}

/// Decides and keeps this node's role from the lease in MySQL. Driven by the control-plane thread:
/// call `tick` every `heartbeatIntervalMs`.
///
/// Safety: the lease lasts `heartbeatIntervalMs × heartbeatMaxRetry` by the database's clock, counted
/// from when the database ran the renewal — which is after this node sent it. So the active counts
/// its own validity from the moment it *sent* the last successful renewal, on its monotonic clock,
/// minus a margin: it stops acting as active (demotes) strictly before the database lets the passive
/// take the lease, even when the database is unreachable. No two nodes act as active at once.
public final class ClusterCoordinator {
    public let nodeId: String
    public let heartbeatIntervalMs: Int
    public let heartbeatMaxRetry: Int
    /// The lease store; replaced (``reconnect(_:)``) when its connection broke.
    public private(set) var store: LeaseStore
    private let properties: () -> String
    private let nowMs: () -> Int64
    public private(set) var role: ClusterRole = .passive
    /// Monotonic time (ms) until which this node may act as active; meaningless when passive.
    public private(set) var activeUntilMs: Int64 = 0
    /// Last database error, if the last tick could not reach it.
    public private(set) var lastError: MySQLError?
    /// Passive: the live leader seen at the last tick and how long its lease had left (ms, DB clock).
    public private(set) var observedLeader: (lease: Lease, remainingMs: Int)?
    /// Other members with a fresh heartbeat at the last tick: node id → property map.
    public private(set) var otherMembers: [String: String] = [:]
    /// Passive: when it returns true for the other live members (id → property map), this node does
    /// not try to take the lease this tick (e.g. it holds no events while another passive does).
    public var defersTo: (([String: String]) -> Bool)?

    public var leaseDurationMs: Int { heartbeatIntervalMs * heartbeatMaxRetry }
    /// Allowance for clock-rate drift and scheduling: demote this long before the lease can lapse.
    public var safetyMarginMs: Int { max(heartbeatIntervalMs / 2, 50) }

    public init(store: LeaseStore, nodeId: String, heartbeatIntervalMs: Int, heartbeatMaxRetry: Int,
                properties: @escaping () -> String = { "{}" },
                nowMs: @escaping () -> Int64 = { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }) {
        precondition(heartbeatIntervalMs > 0 && heartbeatMaxRetry >= 2, "a lease must outlive at least one missed heartbeat")
        self.store = store
        self.nodeId = nodeId
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatMaxRetry = heartbeatMaxRetry
        self.properties = properties
        self.nowMs = nowMs
    }

    /// One heartbeat: the active renews (or demotes), the passive heartbeats and takes over an
    /// expired lease. Returns the role after the tick.
    @discardableResult
    public func tick() -> ClusterRole {
        let sentMs = nowMs()
        switch role {
        case .active(let lease):
            do {
                try store.heartbeat(nodeId: nodeId, properties: properties())
                otherMembers = try store.liveMembers(freshMs: leaseDurationMs).filter { $0.key != nodeId }
                if try store.renew(lease, durationMs: leaseDurationMs) {
                    activeUntilMs = sentMs + Int64(leaseDurationMs - safetyMarginMs)
                } else {
                    role = .passive  // deposed: someone else holds a newer term
                }
                lastError = nil
            } catch {
                lastError = error
            }
            // Unreachable database: keep acting only while the last renewal still covers us.
            if case .active = role, nowMs() >= activeUntilMs { role = .passive }
        case .passive:
            do {
                try store.heartbeat(nodeId: nodeId, properties: properties())
                otherMembers = try store.liveMembers(freshMs: leaseDurationMs).filter { $0.key != nodeId }
                // A restarted node takes back its own unexpired lease only when no other node is
                // there: a passive holds events the restarted node lost, so it must take over instead.
                if defersTo?(otherMembers) == true {
                    observedLeader = try store.liveLeader()
                } else if let lease = try store.acquire(nodeId: nodeId, durationMs: leaseDurationMs, reclaimOwn: otherMembers.isEmpty) {
                    role = .active(lease)
                    activeUntilMs = sentMs + Int64(leaseDurationMs - safetyMarginMs)
                    observedLeader = nil
                } else {
                    observedLeader = try store.liveLeader()
                }
                lastError = nil
            } catch {
                lastError = error
            }
        }
        return role
    }

    /// Uses a new lease store (a fresh connection) from the next tick on; the role is kept (a
    /// lease held stays held until its term is superseded).
    public func reconnect(_ store: LeaseStore) {
        self.store = store
    }

    /// Whether the last tick failed because the connection itself broke (client errors 2000–2999:
    /// server gone, lost, unreachable), so the caller should reconnect.
    public var connectionBroken: Bool {
        guard let code = lastError?.code else { return false }
        return (2000..<3000).contains(code)
    }

    /// Whether this node may act as active right now (checked before every side effect).
    public var mayActAsActive: Bool {
        if case .active = role { return nowMs() < activeUntilMs }
        return false
    }

    /// Graceful handover: give the lease up so the passive takes over at its next heartbeat.
    public func release() {
        if case .active(let lease) = role {
            try? store.release(lease)
        }
        role = .passive
        activeUntilMs = 0
    }
}
