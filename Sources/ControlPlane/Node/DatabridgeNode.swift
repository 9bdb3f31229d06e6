import DataPlane
import Engine
import Foundation
import Logging

/// Builds the node's wso2event receiver and reads `@source(type='wso2event')` annotations.
enum DatabridgeNode {
    /// The receiver (nil when `tandem.databridge.enabled` is false). Logins are checked against the
    /// REST API's users (`tandem.api.auth.users`, `TANDEM_ADMIN_USER`), bcrypt.
    static func receiver(config: DeploymentConfig, environment: [String: String], logger: Logger) -> DatabridgeReceiver? {
        guard config.databridge.enabled else { return nil }
        let users = ApiUsers(config: config.api, environment: environment)
        var options = config.databridge.receiver
        options.batchEventsMax = config.tandem.batchSize
        // Said when the ports open, so nodes without wso2event apps log nothing about databridge.
        let warnings = users.isEmpty
            ? ["no user is configured (tandem.api.auth.users or TANDEM_ADMIN_USER/TANDEM_ADMIN_PASSWORD): every databridge login will be refused"]
            : []
        return DatabridgeReceiver(options: options, authenticate: { user, password in
            await users.verify(user: user, password: password)
        }, logger: logger, openWarnings: warnings)
    }

    /// `@source(type='wso2event', wso2.stream.id='name:version', @map(type='wso2event'))`.
    static func stream(_ source: TransportSpec, streamIndex: Int, app: SiddhiApp) throws(DeployError) -> WSO2EventStream {
        let at = "\(app.fileName):\(source.position)"
        if let map = source.mapType, map != "wso2event" {
            throw DeployError(app: app.name, message: "\(at): wso2event source needs @map(type='wso2event'), got '\(map)'")
        }
        guard let id = source.option("wso2.stream.id"), !id.isEmpty else {
            throw DeployError(app: app.name, message: "\(at): wso2event source needs wso2.stream.id='name:version' (the stream id publishers send, e.g. '\(source.streamName):1.0.0')")
        }
        let parts = id.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw DeployError(app: app.name, message: "\(at): wso2event source wso2.stream.id '\(id)' is not 'name:version'")
        }
        if let option = source.mapOptions.keys.first(where: { $0.lowercased() != "type" }) {
            throw DeployError(app: app.name, message: "\(at): wso2event map option '\(option)' is not supported: the mapping is by name (meta_…, correlation_…, then payload attributes)")
        }
        do {
            return try WSO2EventStream(streamId: id, streamIndex: streamIndex, schema: source.schema)
        } catch {
            throw DeployError(app: app.name, message: "\(at): wso2event source: \(error)")
        }
    }
}
