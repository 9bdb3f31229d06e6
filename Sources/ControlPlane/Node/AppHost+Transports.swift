import DataPlane
import Engine
import Foundation
import Logging

/// What a node lends its http sources: its users (`basic.auth.enabled`) and the REST API's PEM
/// files (an https source without its own).
struct HTTPSourceSecurity: Sendable {
    /// Checks the node's users; shared by every http source of the node (one credential cache).
    var authenticator: HTTPBasicAuthenticator?
    /// `tandem.api.tls`'s certificate and key.
    var apiTLS: HTTPSourceTLS?
    /// `tandem validate`: the node's configuration is unknown, so an https source without its own
    /// files is taken as served with `tandem.api.tls`, and no file is looked at.
    var checkOnly = false

    /// No users (basic auth refuses everything) and no node certificate.
    static let none = HTTPSourceSecurity()

    /// The node's: `tandem.api.auth.users` plus `TANDEM_ADMIN_USER`/`TANDEM_ADMIN_PASSWORD`, checked
    /// with bcrypt, and `tandem.api.tls`.
    static func node(_ config: DeploymentConfig, environment: [String: String]) -> HTTPSourceSecurity {
        let users = ApiUsers(config: config.api, environment: environment)
        var security = HTTPSourceSecurity()
        security.authenticator = HTTPBasicAuthenticator(hasUsers: !users.isEmpty) { user, password in
            await users.verify(user: user, password: password)
        }
        if let certificate = config.api.certificateFile, let key = config.api.keyFile {
            security.apiTLS = HTTPSourceTLS(certificateFile: certificate, keyFile: key)
        }
        return security
    }
}

/// Reading the options of the http and inMemory sources and sinks (and the queue options every sink
/// with a queue shares) from an app's annotations. Each bad value is a `DeployError` naming the file
/// position and the option.
extension AppHost {
    /// `queue.capacity`, `on.full='block'|'drop'` and `block.timeout.ms` of a sink (`kind` in messages).
    static func sinkQueueOptions(_ sink: TransportSpec, kind: String, app: SiddhiApp) throws(DeployError) -> (capacity: Int?, policy: SinkFullPolicy) {
        let at = "\(app.fileName):\(sink.position)"
        var capacity: Int?
        if let text = sink.option("queue.capacity") {
            guard let value = Int(text), value >= 2, value <= 1 << 16, value & (value - 1) == 0 else {
                throw DeployError(app: app.name, message: "\(at): \(kind) sink queue.capacity must be a power of two in 2…65536")
            }
            capacity = value
        }
        switch sink.option("on.full")?.lowercased() {
        case nil, "block":
            let timeout = Int(sink.option("block.timeout.ms") ?? "1000") ?? -1
            guard timeout >= 0 else { throw DeployError(app: app.name, message: "\(at): \(kind) sink block.timeout.ms must be a number of ms") }
            return (capacity, .block(timeoutMs: timeout))
        case "drop": return (capacity, .dropNewest)
        case let other?: throw DeployError(app: app.name, message: "\(at): \(kind) sink on.full '\(other)' (expected block or drop)")
        }
    }

    /// A whole-number option in `range` (nil when not given).
    static func intOption(_ spec: TransportSpec, _ key: String, _ range: ClosedRange<Int>, kind: String, app: SiddhiApp) throws(DeployError) -> Int? {
        guard let text = spec.option(key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw DeployError(app: app.name, message: "\(app.fileName):\(spec.position): \(kind) \(key) '\(text)' must be a whole number in \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    /// `@map(type='json', fail.on.missing.attribute='true')` (json is also taken when @map is absent).
    static func jsonMap(_ spec: TransportSpec, kind: String, app: SiddhiApp) throws(DeployError) -> Bool {
        let at = "\(app.fileName):\(spec.position)"
        if let map = spec.mapType, map != "json" {
            throw DeployError(app: app.name, message: "\(at): \(kind) needs @map(type='json'), got '\(map)'")
        }
        if spec.mapOptions.keys.contains(where: { $0.lowercased() == "enclosing.element" }) {
            throw DeployError(app: app.name, message: "\(at): custom JSON mapping (enclosing.element) is not supported yet; send Siddhi's default {\"event\":{…}} shape")
        }
        let missing = spec.mapOptions.first { $0.key.lowercased() == "fail.on.missing.attribute" }?.value.lowercased()
        switch missing {
        case nil, "true": return true
        case "false": return false
        case let other?: throw DeployError(app: app.name, message: "\(at): fail.on.missing.attribute '\(other)' (expected true or false)")
        }
    }

    /// `@source(type='http', receiver.url='http://0.0.0.0:8006/path', @map(type='json'))`: the
    /// route, and the options of its server (merged with other http sources on the same host:port).
    /// `basic.auth.enabled='true'` marks the route; `receiver.url='https://…'` takes its PEM files
    /// from `tls.certificate.file` and `tls.key.file`, else from the node's `tandem.api.tls`.
    static func httpSource(_ source: TransportSpec, streamIndex: Int, app: SiddhiApp, haAcks: Bool,
                           security: HTTPSourceSecurity = .none) throws(DeployError) -> HTTPSourceOptions {
        let at = "\(app.fileName):\(source.position)"
        let url = source.option("receiver.url") ?? "http://0.0.0.0:9763/\(app.name)/\(source.streamName)"
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), let host = parts.host, !host.isEmpty else {
            throw DeployError(app: app.name, message: "\(at): http source receiver.url '\(url)' is not a URL like http://0.0.0.0:8006/path")
        }
        guard scheme == "http" || scheme == "https" else {
            throw DeployError(app: app.name, message: "\(at): http source receiver.url '\(url)': the scheme must be http or https")
        }
        let basicAuth: Bool
        switch source.option("basic.auth.enabled")?.lowercased() {
        case nil, "false": basicAuth = false
        case "true": basicAuth = true
        case let other?: throw DeployError(app: app.name, message: "\(at): http source basic.auth.enabled '\(other)' (expected true or false)")
        }
        for key in ["ssl.verify.client", "tls.store.type", "ssl.configurations"] where source.option(key) != nil {
            throw DeployError(app: app.name, message: "\(at): http source \(key) is not supported: Tandem's https takes PEM files (tls.certificate.file, tls.key.file) and does not verify client certificates")
        }
        let tls = try httpSourceTLS(source, https: scheme == "https", url: url, security: security, app: app)
        let port = parts.port ?? (scheme == "https" ? 443 : 80)
        guard (0...65535).contains(port) else { throw DeployError(app: app.name, message: "\(at): http source port \(port) out of range") }
        let route = HTTPSourceRoute(path: parts.path.isEmpty ? "/" : parts.path, streamIndex: streamIndex, schema: source.schema,
                                    failOnMissingAttribute: try jsonMap(source, kind: "http source", app: app), basicAuth: basicAuth)
        var options = HTTPSourceOptions(host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: port, routes: [route])
        options.tls = tls
        if basicAuth { options.authenticator = security.authenticator }
        if let v = try intOption(source, "max.body.bytes", 1...(1 << 30), kind: "http source", app: app) { options.maxBodyBytes = v }
        if let v = try intOption(source, "ring.full.timeout.ms", 0...600_000, kind: "http source", app: app) { options.ringFullTimeoutMs = v }
        if let v = try intOption(source, "max.requests.in.flight", 1...65_536, kind: "http source", app: app) { options.requestsInFlightMax = v }
        if let v = try intOption(source, "ack.timeout.ms", 0...600_000, kind: "http source", app: app) { options.ackTimeoutMs = v }
        if haAcks { options.ackRelease = .onRelease }
        options.metricDimensions = [("app", app.name)]
        return options
    }

    /// The PEM files of an https source (nil for http); a deploy error when https has none or they cannot be read.
    static func httpSourceTLS(_ source: TransportSpec, https: Bool, url: String, security: HTTPSourceSecurity, app: SiddhiApp) throws(DeployError) -> HTTPSourceTLS? {
        let at = "\(app.fileName):\(source.position)"
        let certificate = source.option("tls.certificate.file"), key = source.option("tls.key.file")
        guard https else {
            if certificate != nil || key != nil {
                throw DeployError(app: app.name, message: "\(at): http source tls.certificate.file/tls.key.file are for an https receiver.url, not '\(url)'")
            }
            return nil
        }
        let tls: HTTPSourceTLS
        switch (certificate, key) {
        case let (certificate?, key?): tls = HTTPSourceTLS(certificateFile: certificate, keyFile: key)
        case (nil, nil):
            if security.checkOnly { return HTTPSourceTLS(certificateFile: "(tandem.api.tls)", keyFile: "(tandem.api.tls)") }
            guard let node = security.apiTLS else {
                throw DeployError(app: app.name, message: "\(at): http source receiver.url '\(url)' is https but has no certificate: set tls.certificate.file and tls.key.file (PEM) on the source, or tandem.api.tls in deployment.yaml")
            }
            tls = node
        default:
            throw DeployError(app: app.name, message: "\(at): http source needs both tls.certificate.file and tls.key.file (PEM), or neither (then tandem.api.tls's)")
        }
        for (name, path) in [("certificate", tls.certificateFile), ("key", tls.keyFile)] where !security.checkOnly && !FileManager.default.isReadableFile(atPath: path) {
            throw DeployError(app: app.name, message: "\(at): https source \(name) file '\(path)' cannot be read")
        }
        return tls
    }

    /// `@sink(type='http', publisher.url='http://host:port/path', method='POST', @map(type='json'))`.
    static func httpSinkOptions(_ sink: TransportSpec, app: SiddhiApp) throws(DeployError) -> HTTPSinkOptions {
        let at = "\(app.fileName):\(sink.position)"
        guard let url = sink.option("publisher.url") else {
            throw DeployError(app: app.name, message: "\(at): http sink needs publisher.url='http://host:port/path'")
        }
        guard let parts = URLComponents(string: url), ["http", "https"].contains(parts.scheme?.lowercased() ?? ""), parts.host?.isEmpty == false else {
            throw DeployError(app: app.name, message: "\(at): http sink publisher.url '\(url)' is not an http(s) URL")
        }
        _ = try jsonMap(sink, kind: "http sink", app: app)
        var options = HTTPSinkOptions(url: url)
        switch sink.option("method")?.uppercased() {
        case nil, "POST": options.method = "POST"
        case "PUT": options.method = "PUT"
        case let other?: throw DeployError(app: app.name, message: "\(at): http sink method '\(other)' (expected POST or PUT)")
        }
        if let text = sink.option("headers") {
            // Siddhi's form: "'Name:value','Other:value'".
            for item in text.split(separator: ",") {
                let field = item.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                guard let colon = field.firstIndex(of: ":"), colon > field.startIndex else {
                    throw DeployError(app: app.name, message: "\(at): http sink header '\(field)' is not 'Name:value'")
                }
                options.headers.append((String(field[..<colon]).trimmingCharacters(in: .whitespaces),
                                        String(field[field.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        if let user = sink.option("basic.auth.username") {
            let password = sink.option("basic.auth.password") ?? ""
            options.headers.append(("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()))
        }
        let (capacity, policy) = try sinkQueueOptions(sink, kind: "http", app: app)
        if let capacity { options.queueCapacity = capacity }
        options.fullPolicy = policy
        if let v = try intOption(sink, "retry.count", 0...1000, kind: "http sink", app: app) { options.retriesMax = v }
        if let v = try intOption(sink, "retry.interval.ms", 0...600_000, kind: "http sink", app: app) { options.retryBackoffMs = v }
        if let v = try intOption(sink, "request.timeout.ms", 1...600_000, kind: "http sink", app: app) { options.requestTimeoutMs = v }
        if let v = try intOption(sink, "connect.timeout.ms", 1...600_000, kind: "http sink", app: app) { options.connectTimeoutMs = v }
        if let v = try intOption(sink, "request.events.max", 1...EventBatch.capacityMax, kind: "http sink", app: app) { options.requestEventsMax = v }
        options.metricDimensions = [("app", app.name), ("stream", sink.streamName)]
        return options
    }

    /// `@sink(type='inMemory', topic='T')` (with `on.full` and `block.timeout.ms`).
    static func inMemorySink(_ sink: TransportSpec, app: SiddhiApp, logger: Logger) throws(DeployError) -> InMemorySink {
        let at = "\(app.fileName):\(sink.position)"
        guard let topic = sink.option("topic"), !topic.isEmpty else {
            throw DeployError(app: app.name, message: "\(at): inMemory sink needs topic='…'")
        }
        if let map = sink.mapType, map != "passthrough" {
            throw DeployError(app: app.name, message: "\(at): inMemory sink carries events as they are: @map(type='passThrough') or none, got '\(map)'")
        }
        let (capacity, policy) = try sinkQueueOptions(sink, kind: "inMemory", app: app)
        guard capacity == nil else {
            throw DeployError(app: app.name, message: "\(at): inMemory sink has no queue.capacity: it writes into each subscriber's engine ring (tandem.dataPlane.ingestRingCapacity)")
        }
        return InMemorySink(topic: topic, schema: sink.schema, policy: policy, owner: "app '\(app.name)' stream '\(sink.streamName)'",
                            logger: logger, metricDimensions: [("app", app.name), ("stream", sink.streamName)])
    }

    /// `@source(type='inMemory', topic='T')`.
    static func inMemorySource(_ source: TransportSpec, streamIndex: Int, app: SiddhiApp, ringCapacity: Int, doorbell: Doorbell) throws(DeployError) -> InMemorySource {
        let at = "\(app.fileName):\(source.position)"
        guard let topic = source.option("topic"), !topic.isEmpty else {
            throw DeployError(app: app.name, message: "\(at): inMemory source needs topic='…'")
        }
        if let map = source.mapType, map != "passthrough" {
            throw DeployError(app: app.name, message: "\(at): inMemory source takes events as they are: @map(type='passThrough') or none, got '\(map)'")
        }
        return InMemorySource(topic: topic, streamIndex: streamIndex, schema: source.schema,
                              owner: "app '\(app.name)' stream '\(source.streamName)'",
                              ring: SPSCRing(capacity: ringCapacity), doorbell: doorbell, metricDimensions: [("app", app.name)])
    }
}
