import Engine
import Foundation
import Hummingbird

/// SI's app-management API under `/siddhi-apps` (behind ``BasicAuthMiddleware``). Requests are
/// checked and apps compiled here, on the server's threads; what changes the node is handed to its
/// control thread through the ``ControlMailbox``. A passive HA node answers 503 naming the active.
struct AppRoutes: Sendable {
    let mailbox: ControlMailbox
    let board: NodeStatusBoard
    /// Largest app body accepted (413 beyond).
    static let maxBodyBytes = 4 << 20
    /// Longest a request waits for the control thread (a backup waits for its snapshot's write).
    static let timeoutMs = PendingBackups.timeoutMs + 5_000

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.post { request, _ in await deploy(request, mode: .create) }
        group.put { request, _ in await deploy(request, mode: .createOrUpdate) }
        group.get { request, _ in await list(request) }
        group.get("statistics") { _, _ in
            await run(.statistics) { reply in
                guard case .statistics(let apps) = reply else { return nil }
                let now = AppHost.wallClockMs()
                return ApiJSON.response(200, apps.map { Statistics(appName: $0.name, status: $0.status, age: now - $0.deployedAtEpochMs,
                                                                   isStatEnabled: true, eventsIn: $0.eventsIn, eventsOut: $0.eventsOut) })
            }
        }
        group.get(":app") { _, context in
            await run(.source(name: appName(context))) { reply in
                guard case .source(let text) = reply else { return nil }
                return ApiJSON.response(200, ["content": text])
            }
        }
        group.delete(":app") { _, context in
            await run(.undeploy(name: appName(context))) { reply in
                guard case .done(let message) = reply else { return nil }
                return ApiJSON.success(message)
            }
        }
        group.get(":app/status") { _, context in
            let name = appName(context)
            return await run(.list) { reply in
                guard case .apps(let apps) = reply else { return nil }
                guard let app = apps.first(where: { $0.name == name }) else { return ApiJSON.failure(.notFound(name)) }
                return ApiJSON.response(200, ["status": app.status])
            }
        }
        group.post(":app/backup") { _, context in
            let name = appName(context)
            return await run(.backup(name: name)) { reply in
                guard case .revision(let revision) = reply else { return nil }
                return ApiJSON.success("state of Siddhi app '\(name)' persisted as revision \(revision)", status: 201, revision: revision)
            }
        }
        group.post(":app/restore") { request, context in
            let name = appName(context)
            let revision = request.uri.queryParameters["revision"].map(String.init)
            if revision?.isEmpty == true { return ApiJSON.failure(ApiFailure(status: 400, message: "revision= needs a revision name")) }
            return await run(.restore(name: name, revision: revision)) { reply in
                guard case .revision(let restored) = reply else { return nil }
                return ApiJSON.success("Siddhi app '\(name)' restored to revision \(restored)", revision: restored)
            }
        }
        group.delete(":app/revisions") { _, context in
            await run(.deleteRevisions(name: appName(context))) { reply in
                guard case .done(let message) = reply else { return nil }
                return ApiJSON.success(message)
            }
        }
    }

    /// SI's statistics entry, plus the event counts.
    struct Statistics: Codable {
        var appName: String
        var status: String
        /// ms since the app was deployed.
        var age: Int64
        var isStatEnabled: Bool
        var eventsIn: Int
        var eventsOut: Int
    }

    private func appName(_ context: BasicRequestContext) -> String {
        context.parameters.get("app") ?? ""
    }

    /// The passive's (or a starting node's) refusal, before anything reaches the control thread.
    private func roleGate() -> Response? {
        let status = board.current
        switch status.role {
        case "passive":
            let active = status.activeNode
            return ApiJSON.failure(ApiFailure(status: 503, message: "node '\(status.nodeId)' is the passive node; send app requests to the active node"
                                              + (active.map { " '\($0)'" } ?? " (none is active right now)"), activeNode: active))
        case "starting":
            return ApiJSON.failure(ApiFailure(status: 503, message: "node '\(status.nodeId)' has not reached the cluster database yet; its role is not decided"))
        default:
            return nil
        }
    }

    /// Hands `command` to the control thread; `render` turns its answer into a response (nil: an
    /// answer of the wrong kind, a bug).
    private func run(_ command: NodeCommand, _ render: (NodeReply) -> Response?) async -> Response {
        if let refusal = roleGate() { return refusal }
        switch await mailbox.submit(command, timeoutMs: AppRoutes.timeoutMs) {
        case .success(let reply):
            return render(reply) ?? ApiJSON.failure(ApiFailure(status: 500, message: "unexpected answer \(reply) to \(command)"))
        case .failure(let failure):
            return ApiJSON.failure(failure)
        }
    }

    private func list(_ request: Request) async -> Response {
        var wanted: Bool?
        if let text = request.uri.queryParameters["isActive"] {
            switch text.lowercased() {
            case "true": wanted = true
            case "false": wanted = false
            default: return ApiJSON.failure(ApiFailure(status: 400, message: "isActive must be true or false, got '\(text)'"))
            }
        }
        return await run(.list) { reply in
            guard case .apps(let apps) = reply else { return nil }
            return ApiJSON.response(200, apps.filter { wanted == nil || ($0.status == "active") == wanted }.map(\.name))
        }
    }

    private func deploy(_ request: Request, mode: DeployMode) async -> Response {
        if let refusal = roleGate() { return refusal }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: AppRoutes.maxBodyBytes)
        } catch {
            return ApiJSON.failure(ApiFailure(status: 413, message: "the app is larger than \(AppRoutes.maxBodyBytes) bytes"))
        }
        guard let source = body.getString(at: body.readerIndex, length: body.readableBytes), source.utf8.count == body.readableBytes else {
            return ApiJSON.failure(ApiFailure(status: 400, message: "the body is not UTF-8 text"))
        }
        guard !source.allSatisfy(\.isWhitespace) else {
            return ApiJSON.failure(ApiFailure(status: 400, message: "empty body: send the Siddhi app's text (Content-Type: text/plain)"))
        }
        let app: SiddhiApp
        do {
            app = try SiddhiApp.compile(source: source, fileName: "siddhi-app")
        } catch {
            let lines = error.errors.map { "\($0.position.line):\($0.position.column): \($0.message)" }
            return ApiJSON.failure(ApiFailure(status: 400, message: "the Siddhi app does not compile (\(lines.count) error\(lines.count == 1 ? "" : "s")); nothing was changed",
                                              details: lines))
        }
        return await run(.deploy(app: app, source: source, mode: mode)) { reply in
            guard case .deployed(let created, let warning) = reply else { return nil }
            return ApiJSON.success("Siddhi app '\(app.name)' \(created ? "deployed" : "updated")", status: created ? 201 : 200, warning: warning)
        }
    }
}
