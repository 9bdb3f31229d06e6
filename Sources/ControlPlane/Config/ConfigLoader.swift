import DataPlane
import Engine
import Yams

/// Walks the YAML node tree of a deployment.yaml, converting values and collecting every problem
/// with its key path; unknown keys become warnings.
struct ConfigLoader {
    let source: String
    let environment: [String: String]
    private var problems: [ConfigError.Problem] = []
    private var warnings: [String] = []

    init(source: String, environment: [String: String]) {
        self.source = source
        self.environment = environment
    }

    /// Top-level sections SI's deployment.yaml has that Tandem does not use.
    static let ignoredSections: Set<String> = [
        "wso2.transport.http", "siddhi", "wso2.metrics", "wso2.metrics.jdbc", "listenerConfigurations",
        "databridge.config", "data.agent.config", "wso2.artifact.deployment", "wso2.securevault", "auth.configs",
        "wso2.business.rules.manager", "wso2.status.dashboard", "transports", "wso2.carbon-mgt",
        "wso2.extensions", "wso2.analytics", "siddhi.stores.query.api", "wso2.sql.queries", "wso2.message.tracer",
        "wso2.deployment.config", "worker.config",
    ]

    mutating func load(_ yaml: String) throws(ConfigError) -> LoadedConfig {
        var config = DeploymentConfig.defaults
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(path: source, message: ConfigLoader.describe(error))
        } catch {
            throw ConfigError(path: source, message: "\(error)")
        }
        guard let root else { return LoadedConfig(config: config, warnings: []) }  // empty file: defaults
        guard let top = mapping(root, "") else { throw ConfigError(problems) }

        var intervalInMin: Int? = nil
        var intervalInMs: Int? = nil
        for (key, node) in top {
            switch key {
            case "wso2.carbon":
                for (k, v) in mapping(node, key) ?? [] {
                    switch k {
                    case "id": if let s = string(v, "\(key).\(k)") { config.nodeId = s }
                    case "name", "type", "ports", "hostnameVerificationEnabled", "tenant": break
                    default: unknown("\(key).\(k)")
                    }
                }
            case "state.persistence":
                intervalInMin = readPersistence(node, key, into: &config.persistence)
            case "wso2.datasources":
                readDatasources(node, key, into: &config.datasources)
            case "cluster.config":
                readCluster(node, key, into: &config.cluster)
            case "deployment.config":
                readDeployment(node, key, into: &config.deployment)
            case "tandem":
                intervalInMs = readTandem(node, key, into: &config.tandem)
            default:
                if ConfigLoader.ignoredSections.contains(key) {
                    warnings.append("\(key): section not used by Tandem; ignored")
                } else {
                    unknown(key)
                }
            }
        }
        if let intervalInMs { config.persistence.intervalMs = intervalInMs } else if let intervalInMin { config.persistence.intervalMs = intervalInMin * 60_000 }
        checkReferences(config)
        if !problems.isEmpty { throw ConfigError(problems) }
        return LoadedConfig(config: config, warnings: warnings)
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return "YAML syntax error at line \(mark.line), column \(mark.column): \(problem)"
        default:
            return "YAML error: \(error)"
        }
    }

    // MARK: Sections

    private mutating func readPersistence(_ node: Node, _ path: String, into p: inout PersistenceConfig) -> Int? {
        var interval: Int? = nil
        var storeClass: String? = nil
        var storePath = "\(path).persistenceStore"
        var location: String? = nil
        var datasource: String? = nil
        var table: String? = nil
        for (k, v) in mapping(node, path) ?? [] {
            let at = "\(path).\(k)"
            switch k {
            case "enabled": if let b = bool(v, at) { p.enabled = b }
            case "intervalInMin": interval = positiveInt(v, at)
            case "revisionsToKeep": if let n = positiveInt(v, at) { p.revisionsToKeep = n }
            case "persistenceStore":
                storeClass = string(v, at)
                storePath = at
            case "config":
                for (ck, cv) in mapping(v, at) ?? [] {
                    let cat = "\(at).\(ck)"
                    switch ck {
                    case "location": location = string(cv, cat)
                    case "datasource": datasource = string(cv, cat)
                    case "table": table = string(cv, cat)
                    default: unknown(cat)
                    }
                }
            default: unknown(at)
            }
        }
        if let storeClass {
            let name = storeClass.split(separator: ".").last.map(String.init) ?? storeClass
            let known = storeClass.hasPrefix("org.wso2.carbon.streaming.integrator.core.persistence.")
                || storeClass.hasPrefix("org.wso2.carbon.stream.processor.core.persistence.")
            switch (known, name) {
            case (true, "FileSystemPersistenceStore"), (true, "IncrementalFileSystemPersistenceStore"):
                p.store = .file(directory: location ?? "siddhi-app-persistence")
            case (true, "DBPersistenceStore"):
                guard let datasource else {
                    problem("\(path).config.datasource", "DBPersistenceStore needs a datasource")
                    break
                }
                p.store = .database(datasource: datasource, table: table ?? "PERSISTENCE_TABLE")
            default:
                problem(storePath, "unknown persistence store \"\(storeClass)\" (expected …persistence.FileSystemPersistenceStore or …persistence.DBPersistenceStore)")
            }
        } else if let location {
            p.store = .file(directory: location)
        }
        return interval
    }

    private mutating func readDatasources(_ node: Node, _ path: String, into out: inout [String: DatasourceConfig]) {
        for (k, v) in mapping(node, path) ?? [] {
            let at = "\(path).\(k)"
            guard k == "dataSources" else {
                unknown(at)
                continue
            }
            guard case .sequence(let items) = v else {
                problem(at, "expected a list of datasources")
                continue
            }
            for (i, item) in items.enumerated() {
                let ip = "\(at)[\(i)]"
                var name: String? = nil
                var url: JDBCURL? = nil
                var username = "", password = ""
                var maxPoolSize = 10, timeoutMs = 5000
                for (dk, dv) in mapping(item, ip) ?? [] {
                    let dp = "\(ip).\(dk)"
                    switch dk {
                    case "name": name = string(dv, dp)
                    case "description", "jndiConfig": break
                    case "definition":
                        for (ek, ev) in mapping(dv, dp) ?? [] {
                            let ep = "\(dp).\(ek)"
                            switch ek {
                            case "type":
                                if let t = string(ev, ep), t.uppercased() != "RDBMS" { problem(ep, "expected RDBMS, got \"\(t)\"") }
                            case "configuration":
                                for (ck, cv) in mapping(ev, ep) ?? [] {
                                    let cp = "\(ep).\(ck)"
                                    switch ck {
                                    case "jdbcUrl":
                                        if let s = string(cv, cp) {
                                            switch JDBCURL.parse(s) {
                                            case .success(let u): url = u
                                            case .failure(let e): problem(cp, e.message)
                                            }
                                        }
                                    case "username": username = string(cv, cp) ?? ""
                                    case "password": password = string(cv, cp) ?? ""
                                    case "maxPoolSize": maxPoolSize = positiveInt(cv, cp) ?? maxPoolSize
                                    case "connectionTimeout", "validationTimeout": timeoutMs = positiveInt(cv, cp) ?? timeoutMs
                                    case "driverClassName", "idleTimeout", "connectionTestQuery", "isAutoCommit",
                                         "minIdle", "maxLifetime", "poolName": _ = string(cv, cp)
                                    default: unknown(cp)
                                    }
                                }
                            default: unknown(ep)
                            }
                        }
                    default: unknown(dp)
                    }
                }
                guard let name else {
                    problem(ip, "datasource without a name")
                    continue
                }
                guard let url else {
                    if !problems.contains(where: { $0.path.hasPrefix(ip) }) { problem("\(ip).definition.configuration.jdbcUrl", "missing") }
                    continue
                }
                out[name] = DatasourceConfig(name: name, url: url, username: username, password: password,
                                             maxPoolSize: maxPoolSize, connectionTimeoutMs: timeoutMs)
            }
        }
    }

    private mutating func readCluster(_ node: Node, _ path: String, into c: inout ClusterConfig) {
        for (k, v) in mapping(node, path) ?? [] {
            let at = "\(path).\(k)"
            switch k {
            case "enabled": if let b = bool(v, at) { c.enabled = b }
            case "groupId": if let s = string(v, at) { c.groupId = s }
            case "coordinationStrategyClass":
                if let s = string(v, at) {
                    if s.hasSuffix("RDBMSCoordinationStrategy") {
                        c.coordinationStrategyClass = s
                    } else {
                        problem(at, "unsupported coordination strategy \"\(s)\" (Tandem coordinates through MySQL: …rdbms.RDBMSCoordinationStrategy)")
                    }
                }
            case "strategyConfig":
                for (sk, sv) in mapping(v, at) ?? [] {
                    let sp = "\(at).\(sk)"
                    switch sk {
                    case "datasource": c.datasource = string(sv, sp)
                    case "heartbeatInterval": if let n = positiveInt(sv, sp) { c.heartbeatIntervalMs = n }
                    case "heartbeatMaxRetry": if let n = positiveInt(sv, sp) { c.heartbeatMaxRetry = n }
                    case "eventPollingInterval": if let n = positiveInt(sv, sp) { c.eventPollingIntervalMs = n }
                    default: unknown(sp)
                    }
                }
            default: unknown(at)
            }
        }
    }

    private mutating func readDeployment(_ node: Node, _ path: String, into d: inout DeploymentModeConfig) {
        for (k, v) in mapping(node, path) ?? [] {
            let at = "\(path).\(k)"
            switch k {
            case "type":
                guard let s = string(v, at) else { break }
                switch s.lowercased() {
                case "ha": d.mode = .ha
                case "standalone", "single-node": d.mode = .standalone
                case "distributed": problem(at, "\"distributed\" deployment is not supported by Tandem (use ha)")
                default: problem(at, "expected ha or standalone, got \"\(s)\"")
                }
            case "eventSyncServer":
                for (sk, sv) in mapping(v, at) ?? [] {
                    let sp = "\(at).\(sk)"
                    switch sk {
                    case "host": if let s = string(sv, sp) { d.eventSyncHost = s }
                    case "port": if let n = port(sv, sp) { d.eventSyncPort = n }
                    case "advertisedHost": d.advertisedHost = string(sv, sp)
                    case "advertisedPort": d.advertisedPort = port(sv, sp)
                    case "bossThreads", "workerThreads": _ = positiveInt(sv, sp)
                    default: unknown(sp)
                    }
                }
            case "eventByteBufferQueueCapacity":
                if let n = positiveInt(v, at) { d.eventByteBufferQueueCapacity = n }
            case "byteBufferExtractorThreadPoolSize", "passiveNodeDetailsWaitTimeOutMillis",
                 "passiveNodeDetailsRetrySleepTimeMillis", "retryAppSyncPeriod":
                _ = positiveInt(v, at)
            case "eventSyncClientPool", "tcpClientConfig":
                _ = mapping(v, at)
            default: unknown(at)
            }
        }
    }

    private mutating func readTandem(_ node: Node, _ path: String, into t: inout TandemSettings) -> Int? {
        var intervalMs: Int? = nil
        for (k, v) in mapping(node, path) ?? [] {
            let at = "\(path).\(k)"
            switch k {
            case "appsDirectory": if let s = string(v, at) { t.appsDirectory = s }
            case "dataPlane":
                for (dk, dv) in mapping(v, at) ?? [] {
                    let dp = "\(at).\(dk)"
                    switch dk {
                    case "ioBackend":
                        guard let s = string(dv, dp) else { break }
                        if let b = IOBackend(rawValue: s) { t.ioBackend = b } else { problem(dp, "expected auto, io_uring or epoll, got \"\(s)\"") }
                    case "ingestRingCapacity":
                        if let n = positiveInt(dv, dp) {
                            if n >= 2 && n & (n - 1) == 0 { t.ingestRingCapacity = n } else { problem(dp, "expected a power of two ≥ 2, got \(n)") }
                        }
                    case "batchSize":
                        if let n = positiveInt(dv, dp) {
                            if n <= EventBatch.capacityMax { t.batchSize = n } else { problem(dp, "at most \(EventBatch.capacityMax), got \(n)") }
                        }
                    case "maxFrameBytes":
                        if let n = positiveInt(dv, dp) {
                            if n >= 1024 { t.maxFrameBytes = n } else { problem(dp, "at least 1024, got \(n)") }
                        }
                    default: unknown(dp)
                    }
                }
            case "persistence":
                for (pk, pv) in mapping(v, at) ?? [] {
                    let pp = "\(at).\(pk)"
                    if pk == "intervalInMs" { intervalMs = positiveInt(pv, pp) } else { unknown(pp) }
                }
            case "log":
                for (lk, lv) in mapping(v, at) ?? [] {
                    let lp = "\(at).\(lk)"
                    guard lk == "level" else {
                        unknown(lp)
                        continue
                    }
                    let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                    if let s = string(lv, lp) {
                        if levels.contains(s.lowercased()) { t.logLevel = s.lowercased() } else { problem(lp, "expected one of \(levels.joined(separator: ", ")), got \"\(s)\"") }
                    }
                }
            default: unknown(at)
            }
        }
        return intervalMs
    }

    private mutating func checkReferences(_ config: DeploymentConfig) {
        if config.persistence.enabled, case .database(let name, _) = config.persistence.store, config.datasources[name] == nil {
            problem("state.persistence.config.datasource", "no datasource named \"\(name)\" in wso2.datasources.dataSources")
        }
        if config.cluster.enabled {
            if let name = config.cluster.datasource {
                if config.datasources[name] == nil {
                    problem("cluster.config.strategyConfig.datasource", "no datasource named \"\(name)\" in wso2.datasources.dataSources")
                }
            } else {
                problem("cluster.config.strategyConfig.datasource", "cluster.config is enabled but names no datasource")
            }
        }
        if config.deployment.mode == .ha && !config.cluster.enabled {
            problem("deployment.config.type", "ha needs cluster.config.enabled: true (the cluster coordinates through MySQL)")
        }
    }

    // MARK: Values

    private mutating func problem(_ path: String, _ message: String) {
        problems.append(.init(path: path, message: message))
    }

    private mutating func unknown(_ path: String) {
        warnings.append("\(path): unknown key; ignored")
    }

    private mutating func mapping(_ node: Node, _ path: String) -> [(String, Node)]? {
        switch node {
        case .mapping(let m):
            var out: [(String, Node)] = []
            for (k, v) in m {
                guard case .scalar(let s) = k else {
                    problem(path, "keys must be plain names")
                    continue
                }
                out.append((s.string, v))
            }
            return out
        case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null":
            return []  // `section:` with nothing under it
        default:
            problem(path.isEmpty ? source : path, "expected a mapping of keys to values")
            return nil
        }
    }

    /// The scalar's text after `${env:…}` substitution; nil (and a problem) otherwise.
    private mutating func scalarText(_ node: Node, _ path: String) -> (String, Node.Scalar.Style)? {
        guard case .scalar(let s) = node else {
            problem(path, "expected a single value, got a \(node.isMapping ? "mapping" : "list")")
            return nil
        }
        switch EnvSubstitution.apply(s.string, environment: environment) {
        case .success(let text): return (text, s.style)
        case .failure(let missing):
            problem(path, "environment variable \(missing.name) is not set")
            return nil
        }
    }

    private mutating func string(_ node: Node, _ path: String) -> String? {
        scalarText(node, path)?.0
    }

    private mutating func positiveInt(_ node: Node, _ path: String) -> Int? {
        guard let (text, _) = scalarText(node, path) else { return nil }
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n > 0 else {
            problem(path, "expected a positive integer, got \"\(text)\"")
            return nil
        }
        return n
    }

    private mutating func port(_ node: Node, _ path: String) -> Int? {
        guard let (text, _) = scalarText(node, path) else { return nil }
        guard let n = Int(text), (1...65535).contains(n) else {
            problem(path, "expected a port number 1-65535, got \"\(text)\"")
            return nil
        }
        return n
    }

    private mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let (text, _) = scalarText(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem(path, "expected true or false, got \"\(text)\"")
            return nil
        }
    }
}

private extension Node {
    var isMapping: Bool {
        if case .mapping = self { return true }
        return false
    }
}

import Foundation
