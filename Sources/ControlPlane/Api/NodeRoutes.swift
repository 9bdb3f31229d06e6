import Foundation
import Hummingbird

/// The read-only endpoints, open without credentials (they change nothing and show no app bodies):
/// `/health`, `/metrics`, `/status` (the page's data), `/` (the status page), `/ha/is-active-node`.
/// They read the ``NodeStatusBoard`` and never wait for the control thread.
struct NodeRoutes: Sendable {
    let board: NodeStatusBoard
    let sampler: MetricsSampler

    /// `/status`: what the status page shows.
    struct StatusDocument: Codable {
        var node: NodeStatus
        var health: HealthReport
        var history: [NodeStatusBoard.Sample]
        var nowEpochMs: Int64
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("health") { _, _ in
            let report = HealthReport.evaluate(board.current, nowMs: ActiveFence.nowMs())
            return ApiJSON.response(report.isUp ? 200 : 503, report)
        }
        router.get("metrics") { _, _ in
            ApiJSON.text(200, sampler.render(board: board), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("status") { _, _ in ApiJSON.response(200, document()) }
        router.get("/") { _, _ in
            ApiJSON.text(200, StatusPage.html(statusJSON: String(buffer: ApiJSON.encode(document()))), contentType: "text/html; charset=utf-8")
        }
        router.get("ha/is-active-node") { _, _ in
            let status = board.current
            let active = status.role == "active" || status.role == "standalone"
            return ApiJSON.response(active ? 200 : 503, IsActive(isActive: active, node: status.nodeId, role: status.role, activeNode: status.activeNode))
        }
    }

    struct IsActive: Codable {
        var isActive: Bool
        var node: String
        var role: String
        var activeNode: String?
    }

    private func document() -> StatusDocument {
        let status = board.current
        return StatusDocument(node: status, health: HealthReport.evaluate(status, nowMs: ActiveFence.nowMs()), history: board.samples,
                              nowEpochMs: AppHost.wallClockMs())
    }
}
