import DataPlane
import Yams

/// Turns deployment.yaml text into a checked `DeploymentConfig`: composes the YAML node tree
/// (Yams), reads each known section through `YAMLReader`, then checks what spans sections
/// (datasource references, ha needs a cluster). Every problem is collected and thrown together.
struct ConfigLoader {
    /// File name for syntax errors.
    let source: String
    var reader: YAMLReader

    /// Datasource entries whose problems count only if an enabled feature uses them.
    /// `position` is where in the problem list they belong (file order).
    private var datasourceProblems: [(name: String?, problems: [ConfigError.Problem], position: Int)] = []
    /// `state.persistence.intervalInMin` as written.
    private var intervalInMin: Int?
    /// `state.persistence.config.datasource` as written.
    private var persistenceDatasource: String?
    /// `tandem.api.port` / `.host` as written (they win over SI's default listener).
    private var apiPort: Int?
    private var apiHost: String?
    /// `tandem.databridge` port and host keys as written (they win over SI's `databridge.config`).
    var databridgeOverrides: Set<String> = []

    init(source: String, environment: [String: String]) {
        self.source = source
        reader = YAMLReader(environment: environment)
    }

    /// The sections Tandem reads.
    static let knownSections = ["wso2.carbon", "state.persistence", "wso2.datasources", "cluster.config", "deployment.config", "databridge.config", "tandem"]

    /// Persistence store class packages: SI 4.x, then the older Stream Processor one.
    static let persistencePackages = [
        "org.wso2.carbon.streaming.integrator.core.persistence.",
        "org.wso2.carbon.stream.processor.core.persistence.",
    ]

    mutating func load(_ yaml: String) throws(ConfigError) -> LoadedConfig {
        var config = DeploymentConfig.defaults
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error)
        } catch {
            throw ConfigError(path: source, message: "YAML error: \(error)")
        }
        guard let root, !YAMLReader.isNull(root) else { return LoadedConfig(config: config, warnings: []) }
        guard case .mapping = root else {
            throw ConfigError(path: source, message: "expected a mapping of sections (wso2.carbon:, state.persistence:, …), got \(YAMLReader.describe(root))")
        }

        for section in reader.entries(root, "") ?? [] {
            switch section.key {
            case "wso2.carbon": readCarbon(section.value, section.path, into: &config)
            case "state.persistence": readPersistence(section.value, section.path, into: &config.persistence)
            case "wso2.datasources": readDatasources(section.value, section.path, into: &config.datasources)
            case "cluster.config": readCluster(section.value, section.path, into: &config.cluster)
            case "deployment.config": readDeployment(section.value, section.path, into: &config.deployment)
            case "tandem": readTandem(section.value, section.path, into: &config)
            case "databridge.config": readDatabridge(section.value, section.path, into: &config.databridge)
            case "wso2.transport.http" where Self.hasDefaultListener(section.value):
                readTransport(section.value, section.path, into: &config.api)
            case "auth.configs":
                reader.warn(section.path, "SI's users hold plain-text passwords; Tandem reads bcrypt hashes from tandem.api.auth.users (or TANDEM_ADMIN_USER/TANDEM_ADMIN_PASSWORD); ignored")
            default:
                if let guess = Self.closest(to: section.key, in: Self.knownSections) {
                    reader.warn(section.path, "unknown section (did you mean \(guess)?); ignored")
                } else {
                    reader.warn(section.path, "section not used by Tandem; ignored")
                }
            }
        }

        if let port = apiPort { config.api.port = port }
        if let host = apiHost { config.api.host = host }
        if config.cluster.enabled {
            config.tandem.haLeaseMs = config.cluster.heartbeatIntervalMs * max(2, config.cluster.heartbeatMaxRetry)  // as HAController's lease
        }
        if let ms = config.tandem.persistenceIntervalMs {
            config.persistence.intervalMs = ms
        } else if let minutes = intervalInMin {
            config.persistence.intervalMs = minutes * 60_000
        }
        checkAcrossSections(&config)
        if !reader.problems.isEmpty { throw ConfigError(reader.problems) }
        return LoadedConfig(config: config, warnings: reader.warnings)
    }

    private func syntaxError(_ error: YamlError) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return ConfigError(path: source, message: "YAML syntax error: \(problem)\(while_)", line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(path: source, message: "YAML error: key \(duplicates.joined(separator: ", ")) appears more than once in one mapping",
                               line: context.mark.line, column: context.mark.column)
        case .reader(let problem, let offset, _, _):
            return ConfigError(path: source, message: "cannot read YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return ConfigError(path: source, message: "YAML error: \(error)")
        }
    }

    // MARK: wso2.carbon

    private mutating func readCarbon(_ node: Node, _ path: String, into config: inout DeploymentConfig) {
        for e in reader.entries(node, path) ?? [] where e.key == "id" {
            // name, type, ports, hostnameVerificationEnabled, … are SI's business: ignored quietly.
            if let id = reader.nonEmptyString(e.value, e.path) { config.nodeId = id }
        }
    }

    // MARK: state.persistence

    private mutating func readPersistence(_ node: Node, _ path: String, into p: inout PersistenceConfig) {
        var storeClass: String?
        var storePath = YAMLReader.join(path, "persistenceStore")
        var configKeys: [(key: String, value: Node, path: String)] = []
        let keys = ["enabled", "intervalInMin", "revisionsToKeep", "persistenceStore", "config"]
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "enabled": if let b = reader.bool(e.value, e.path) { p.enabled = b }
            case "intervalInMin": intervalInMin = reader.positiveInt(e.value, e.path)
            case "revisionsToKeep": if let n = reader.positiveInt(e.value, e.path) { p.revisionsToKeep = n }
            case "persistenceStore":
                storeClass = reader.nonEmptyString(e.value, e.path)
                storePath = e.path
            case "config": configKeys = reader.entries(e.value, e.path) ?? []
            default: unknownKey(e.path, e.key, known: keys)
            }
        }

        enum Kind { case file, database }
        var kind = Kind.file
        if let storeClass {
            let trimmed = storeClass.trimmingWhitespace()
            let simpleName = Self.persistencePackages.first(where: trimmed.hasPrefix).map { String(trimmed.dropFirst($0.count)) }
            switch simpleName {
            case "FileSystemPersistenceStore": kind = .file
            case "DBPersistenceStore": kind = .database
            case "IncrementalFileSystemPersistenceStore":
                kind = .file
                reader.warn(storePath, "Tandem writes full snapshots; stored like FileSystemPersistenceStore")
            default:
                reader.problem(storePath, "unknown persistence store \"\(storeClass)\" (Tandem supports \(Self.persistencePackages[0])FileSystemPersistenceStore and \(Self.persistencePackages[0])DBPersistenceStore)")
            }
            p.storeClass = trimmed
        }

        var location: String?, datasource: String?, table: String?
        let storeName = kind == .file ? "FileSystemPersistenceStore" : "DBPersistenceStore"
        for e in configKeys {
            switch (e.key, kind) {
            case ("location", .file): location = reader.nonEmptyString(e.value, e.path)
            case ("datasource", .database): datasource = reader.nonEmptyString(e.value, e.path)
            case ("table", .database): table = reader.nonEmptyString(e.value, e.path)
            case ("location", _), ("datasource", _), ("table", _):
                reader.warn(e.path, "not used by \(storeName); ignored")
            default: unknownKey(e.path, e.key, known: ["location", "datasource", "table"])
            }
        }
        switch kind {
        case .file:
            p.store = .file(directory: location ?? PersistenceConfig.defaultDirectory)
        case .database:
            persistenceDatasource = datasource
            // A missing datasource is reported by checkAcrossSections, only when persistence is enabled.
            p.store = .database(datasource: datasource ?? "", table: table ?? PersistenceConfig.defaultTable)
        }
    }

    // MARK: wso2.datasources

    private mutating func readDatasources(_ node: Node, _ path: String, into out: inout [String: DatasourceConfig]) {
        var firstIndexOfName: [String: String] = [:]
        for e in reader.entries(node, path) ?? [] {
            guard e.key == "dataSources" else {
                unknownKey(e.path, e.key, known: ["dataSources"])
                continue
            }
            for item in reader.items(e.value, e.path) ?? [] {
                // This entry's problems are set aside: they only count if an enabled feature uses it.
                let before = reader.problems.count
                let datasource = readDatasource(item.value, item.path)
                if let name = datasource.name {
                    if let earlier = firstIndexOfName[name] {
                        reader.problem(YAMLReader.join(item.path, "name"), "datasource \"\(name)\" is already defined at \(earlier)")
                    } else {
                        firstIndexOfName[name] = item.path
                    }
                }
                let problems = Array(reader.problems[before...])
                reader.problems.removeSubrange(before...)
                if let config = datasource.config, problems.isEmpty {
                    out[config.name] = config
                } else {
                    datasourceProblems.append((datasource.name, problems, before))
                }
            }
        }
    }

    private mutating func readDatasource(_ node: Node, _ path: String) -> (name: String?, config: DatasourceConfig?) {
        var name: String?, description: String?, jndiName: String?
        var settings: [(key: String, value: Node, path: String)] = []
        var configurationSeen = false
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "name": name = reader.nonEmptyString(e.value, e.path)
            case "description": description = reader.string(e.value, e.path)
            case "jndiConfig":
                for j in reader.entries(e.value, e.path) ?? [] {
                    switch j.key {
                    case "name": jndiName = reader.string(j.value, j.path)
                    case "useJndiReference": reader.unusedKey(j.path, "no JNDI")
                    default: unknownKey(j.path, j.key, known: ["name", "useJndiReference"])
                    }
                }
            case "definition":
                for d in reader.entries(e.value, e.path) ?? [] {
                    switch d.key {
                    case "type":
                        if let t = reader.string(d.value, d.path), t.trimmingWhitespace().uppercased() != "RDBMS" {
                            reader.problem(d.path, "only RDBMS datasources are supported, got \"\(t)\"")
                        }
                    case "configuration":
                        configurationSeen = true
                        settings = reader.entries(d.value, d.path) ?? []
                    default: unknownKey(d.path, d.key, known: ["type", "configuration"])
                    }
                }
            default: unknownKey(e.path, e.key, known: ["name", "description", "jndiConfig", "definition"])
            }
        }
        if name == nil, !reader.problems.contains(where: { $0.path == YAMLReader.join(path, "name") }) {
            reader.problem(YAMLReader.join(path, "name"), "every datasource needs a name")
        }

        let configurationPath = YAMLReader.join(path, "definition.configuration")
        var url: JDBCURL?
        var ds = DatasourceConfig(name: name ?? "", url: JDBCURL(host: "", database: ""))
        var urlSeen = false
        let hikariUnused: Set<String> = ["minIdle", "maxLifetime", "poolName", "connectionInitSql", "leakDetectionThreshold",
                                         "isReadOnly", "initializationFailTimeout", "transactionIsolation", "catalog",
                                         "schema", "dataSourceClassName", "registerMbeans", "allowPoolSuspension",
                                         "isolateInternalQueries", "dataSourceProperties"]
        let known = ["jdbcUrl", "username", "password", "driverClassName", "maxPoolSize", "idleTimeout", "connectionTimeout",
                     "connectionTestQuery", "validationTimeout", "isAutoCommit"]
        for c in settings {
            switch c.key {
            case "jdbcUrl":
                urlSeen = true
                guard let text = reader.nonEmptyString(c.value, c.path) else { break }
                do throws(JDBCURLError) {
                    url = try JDBCURL.parse(text.trimmingWhitespace())
                } catch {
                    reader.problem(c.path, error.message)
                }
            case "username": ds.username = reader.string(c.value, c.path) ?? ""
            case "password": ds.password = reader.string(c.value, c.path) ?? ""
            case "driverClassName": ds.driverClassName = reader.string(c.value, c.path)
            case "maxPoolSize": if let n = reader.positiveInt(c.value, c.path) { ds.maxPoolSize = n }
            case "idleTimeout": if let n = reader.positiveInt(c.value, c.path) { ds.idleTimeoutMs = n }
            case "connectionTimeout": if let n = reader.positiveInt(c.value, c.path) { ds.connectionTimeoutMs = n }
            case "connectionTestQuery": ds.connectionTestQuery = reader.string(c.value, c.path)
            case "validationTimeout": if let n = reader.positiveInt(c.value, c.path) { ds.validationTimeoutMs = n }
            case "isAutoCommit": if let b = reader.bool(c.value, c.path) { ds.isAutoCommit = b }
            case let key where hikariUnused.contains(key): reader.unusedKey(c.path)
            default: unknownKey(c.path, c.key, known: known)
            }
        }
        if !urlSeen {
            reader.problem(YAMLReader.join(configurationPath, "jdbcUrl"), configurationSeen ? "missing (expected jdbc:mysql://host[:port]/database)" : "missing: the datasource has no definition.configuration")
        }
        guard let name, let url else { return (name, nil) }
        ds.name = name
        ds.url = url
        ds.description = description
        ds.jndiName = jndiName
        return (name, ds)
    }

    // MARK: cluster.config

    private mutating func readCluster(_ node: Node, _ path: String, into c: inout ClusterConfig) {
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "enabled": if let b = reader.bool(e.value, e.path) { c.enabled = b }
            case "groupId": if let s = reader.nonEmptyString(e.value, e.path) { c.groupId = s }
            case "coordinationStrategyClass":
                guard let s = reader.nonEmptyString(e.value, e.path) else { break }
                if s.trimmingWhitespace() == ClusterConfig.rdbmsStrategyClass {
                    c.coordinationStrategyClass = ClusterConfig.rdbmsStrategyClass
                } else {
                    reader.problem(e.path, "unsupported coordination strategy \"\(s)\" (Tandem coordinates through MySQL: \(ClusterConfig.rdbmsStrategyClass))")
                }
            case "strategyConfig":
                for s in reader.entries(e.value, e.path) ?? [] {
                    switch s.key {
                    case "datasource": c.datasource = reader.nonEmptyString(s.value, s.path)
                    case "heartbeatInterval": if let n = reader.positiveInt(s.value, s.path) { c.heartbeatIntervalMs = n }
                    case "heartbeatMaxRetry": if let n = reader.positiveInt(s.value, s.path) { c.heartbeatMaxRetry = n }
                    case "eventPollingInterval": if let n = reader.positiveInt(s.value, s.path) { c.eventPollingIntervalMs = n }
                    default: unknownKey(s.path, s.key, known: ["datasource", "heartbeatInterval", "heartbeatMaxRetry", "eventPollingInterval"])
                    }
                }
            default: unknownKey(e.path, e.key, known: ["enabled", "groupId", "coordinationStrategyClass", "strategyConfig"])
            }
        }
    }

    // MARK: deployment.config

    /// Keys of SI's (and SP's) `deployment.config` that Tandem has no use for, with why.
    static let unusedDeploymentKeys: [String: String] = [
        "byteBufferExtractorThreadPoolSize": "the passive node applies synced events on each app's engine thread",
        "passiveNodeDetailsWaitTimeOutMillis": "nodes find each other through cluster.config",
        "passiveNodeDetailsRetrySleepTimeMillis": "nodes find each other through cluster.config",
        "eventSyncClientPool": "one connection per peer",
        "tcpClientConfig": "one connection per peer",
        "tcpClientPool": "one connection per peer",
        "tcpServer": "Stream Processor name; write eventSyncServer",
        "passiveNodeHost": "nodes find each other through cluster.config",
        "passiveNodePort": "nodes find each other through cluster.config",
        "sinkQueueCapacity": "Stream Processor setting", "sourceQueueCapacity": "Stream Processor setting",
        "recordTableQueueCapacity": "Stream Processor setting", "passiveQueueCapacity": "Stream Processor setting",
        "liveSync": "Stream Processor setting", "retryAppSyncPeriod": "apps are deployed from appsDirectory on both nodes",
    ]

    private mutating func readDeployment(_ node: Node, _ path: String, into d: inout DeploymentModeConfig) {
        var serverKeys: Set<String> = []
        var flat: [(key: String, value: Node, path: String)] = []
        let known = ["type", "eventSyncServer", "eventByteBufferQueueCapacity"] + Self.unusedDeploymentKeys.keys.sorted()
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "type":
                guard let s = reader.string(e.value, e.path) else { break }
                switch s.trimmingWhitespace().lowercased() {
                case "ha": d.mode = .ha
                case "standalone": d.mode = .standalone
                case "distributed": reader.problem(e.path, "\"distributed\" deployment is not supported by Tandem (use ha)")
                default: reader.problem(e.path, "expected ha, got \"\(s)\"")
                }
            case "eventSyncServer":
                for s in reader.entries(e.value, e.path) ?? [] {
                    serverKeys.insert(s.key)
                    readEventSyncKey(s, into: &d, known: true)
                }
            case "eventByteBufferQueueCapacity":
                if let n = reader.positiveInt(e.value, e.path) { d.eventByteBufferQueueCapacity = n }
            case "host", "port", "advertisedHost", "advertisedPort":
                flat.append(e)  // the seed guide's table puts these here; applied below
            case let key where Self.unusedDeploymentKeys[key] != nil:
                reader.unusedKey(e.path, Self.unusedDeploymentKeys[key])
            default: unknownKey(e.path, e.key, known: known)
            }
        }
        // SI reads host/advertisedHost only under eventSyncServer; the guide's table lists them
        // directly under deployment.config. Honour them there too unless eventSyncServer sets them.
        for e in flat {
            if serverKeys.contains(e.key) {
                reader.warn(e.path, "eventSyncServer.\(e.key) is set; ignored")
            } else {
                reader.warn(e.path, "SI reads this as deployment.config.eventSyncServer.\(e.key); used as that")
                readEventSyncKey(e, into: &d, known: false)
            }
        }
    }

    private mutating func readEventSyncKey(_ s: (key: String, value: Node, path: String), into d: inout DeploymentModeConfig, known: Bool) {
        switch s.key {
        case "host": if let h = reader.nonEmptyString(s.value, s.path) { d.eventSyncHost = h.trimmingWhitespace() }
        case "port": if let p = reader.port(s.value, s.path) { d.eventSyncPort = p }
        case "advertisedHost": if let h = reader.nonEmptyString(s.value, s.path) { d.advertisedHost = h.trimmingWhitespace() }
        case "advertisedPort": if let p = reader.port(s.value, s.path) { d.advertisedPort = p }
        case "bossThreads", "workerThreads": reader.unusedKey(s.path, "the sync server runs on the node's io reactor")
        default: unknownKey(s.path, s.key, known: ["host", "port", "advertisedHost", "advertisedPort", "bossThreads", "workerThreads"])
        }
    }

    // MARK: tandem

    private mutating func readTandem(_ node: Node, _ path: String, into config: inout DeploymentConfig) {
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "appsDirectory": if let s = reader.nonEmptyString(e.value, e.path) { config.tandem.appsDirectory = s }
            case "api": readApi(e.value, e.path, into: &config.api)
            case "databridge": readTandemDatabridge(e.value, e.path, into: &config.databridge)
            case "dataPlane":
                for d in reader.entries(e.value, e.path) ?? [] {
                    switch d.key {
                    case "ioBackend":
                        let names = IOBackend.allCases.map(\.rawValue)
                        if let s = reader.choice(d.value, d.path, names), let b = IOBackend(rawValue: s) { config.tandem.ioBackend = b }
                    case "ingestRingCapacity":
                        guard let n = reader.positiveInt(d.value, d.path) else { break }
                        if n >= 2, n & (n - 1) == 0 { config.tandem.ingestRingCapacity = n } else {
                            reader.problem(d.path, "expected a power of two (2, 4, … 1024, …), got \(n)")
                        }
                    case "batchSize":
                        if let n = reader.int(d.value, d.path, in: 1...TandemSettings.maxBatchSize) { config.tandem.batchSize = n }
                    case "maxFrameBytes":
                        if let n = reader.int(d.value, d.path, in: 1024...(1 << 30)) { config.tandem.maxFrameBytes = n }
                    case "keepaliveIntervalMs":
                        if let n = reader.int(d.value, d.path, in: 0...60_000) { config.tandem.keepaliveIntervalMs = n }
                    default: unknownKey(d.path, d.key, known: ["ioBackend", "ingestRingCapacity", "batchSize", "maxFrameBytes", "keepaliveIntervalMs"])
                    }
                }
            case "persistence":
                for p in reader.entries(e.value, e.path) ?? [] {
                    if p.key == "intervalInMs" {
                        if let n = reader.positiveInt(p.value, p.path) { config.tandem.persistenceIntervalMs = n }
                    } else {
                        unknownKey(p.path, p.key, known: ["intervalInMs"])
                    }
                }
            case "log":
                for l in reader.entries(e.value, e.path) ?? [] {
                    if l.key == "level" {
                        if let s = reader.choice(l.value, l.path, TandemSettings.logLevels) { config.tandem.logLevel = s }
                    } else {
                        unknownKey(l.path, l.key, known: ["level"])
                    }
                }
            default: unknownKey(e.path, e.key, known: ["appsDirectory", "dataPlane", "persistence", "log", "api", "databridge"])
            }
        }
    }

    // MARK: tandem.api and SI's HTTP listener

    /// Whether `wso2.transport.http` has a `listenerConfigurations` entry with `id: default` (SI's
    /// HTTP listener, whose port Tandem's API takes); without one the section is ignored as a whole.
    static func hasDefaultListener(_ node: Node) -> Bool {
        guard let listeners = node.mapping?["listenerConfigurations"]?.sequence else { return false }
        return listeners.contains { $0.mapping?["id"]?.string == "default" }
    }

    /// SI's default listener: its `host` and `port` (other listeners and transport properties are SI's).
    private mutating func readTransport(_ node: Node, _ path: String, into api: inout ApiConfig) {
        for e in reader.entries(node, path) ?? [] where e.key == "listenerConfigurations" {
            for item in reader.items(e.value, e.path) ?? [] where item.value.mapping?["id"]?.string == "default" {
                for l in reader.entries(item.value, item.path) ?? [] {
                    switch l.key {
                    case "host": if let h = reader.nonEmptyString(l.value, l.path) { api.host = h.trimmingWhitespace() }
                    case "port": if let p = reader.int(l.value, l.path, in: 0...65535) { api.port = p }
                    default: break  // keystores, scheme, …: SI's; Tandem's TLS is tandem.api.tls
                    }
                }
            }
        }
    }

    private mutating func readApi(_ node: Node, _ path: String, into api: inout ApiConfig) {
        let known = ["enabled", "host", "port", "tls", "auth"]
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "enabled": if let b = reader.bool(e.value, e.path) { api.enabled = b }
            case "host": apiHost = reader.nonEmptyString(e.value, e.path)?.trimmingWhitespace()
            case "port": apiPort = reader.int(e.value, e.path, in: 0...65535)
            case "tls":
                (api.certificateFile, api.keyFile) = readPEMPair(e.value, e.path, what: "HTTPS")
            case "auth":
                for a in reader.entries(e.value, e.path) ?? [] {
                    switch a.key {
                    case "enabled": if let b = reader.bool(a.value, a.path) { api.authEnabled = b }
                    case "users": api.users = readUsers(a.value, a.path)
                    default: unknownKey(a.path, a.key, known: ["enabled", "users"])
                    }
                }
            default: unknownKey(e.path, e.key, known: known)
            }
        }
    }

    private mutating func readUsers(_ node: Node, _ path: String) -> [ApiConfig.User] {
        var users: [ApiConfig.User] = []
        for item in reader.items(node, path) ?? [] {
            var name: String?, hash: String?
            for u in reader.entries(item.value, item.path) ?? [] {
                switch u.key {
                case "username": name = reader.nonEmptyString(u.value, u.path)
                case "passwordHash":
                    guard let text = reader.nonEmptyString(u.value, u.path)?.trimmingWhitespace() else { break }
                    if ApiConfig.isBcryptHash(text) {
                        hash = text
                    } else {
                        reader.problem(u.path, "expected a bcrypt hash ($2b$…, 60 characters; make one with `tandem hash-password`), not a plain-text password")
                    }
                case "password":
                    reader.problem(u.path, "plain-text passwords are not accepted: give passwordHash (make one with `tandem hash-password`)")
                default: unknownKey(u.path, u.key, known: ["username", "passwordHash"])
                }
            }
            if name == nil { reader.problem(YAMLReader.join(item.path, "username"), "missing") }
            if let name, let hash {
                if users.contains(where: { $0.username == name }) {
                    reader.problem(YAMLReader.join(item.path, "username"), "user \"\(name)\" is defined twice")
                } else {
                    users.append(ApiConfig.User(username: name, passwordHash: hash))
                }
            } else if name != nil, !reader.problems.contains(where: { $0.path.hasPrefix(item.path) }) {
                reader.problem(YAMLReader.join(item.path, "passwordHash"), "missing")
            }
        }
        return users
    }

    // MARK: Across sections

    private mutating func checkAcrossSections(_ config: inout DeploymentConfig) {
        var used: Set<String> = []
        let persistenceUsesDB: Bool
        if config.persistence.enabled, case .database = config.persistence.store { persistenceUsesDB = true } else { persistenceUsesDB = false }
        if persistenceUsesDB, let name = persistenceDatasource { used.insert(name) }
        if config.cluster.enabled, let name = config.cluster.datasource { used.insert(name) }

        // Problems of used datasources go back where they were found; datasources nothing enabled
        // uses (SI's own H2 ones, say) are not Tandem's concern, so theirs become warnings.
        for entry in datasourceProblems.reversed() {
            if let name = entry.name, used.contains(name) {
                reader.problems.insert(contentsOf: entry.problems, at: entry.position)
            }
        }
        for entry in datasourceProblems {
            if let name = entry.name, used.contains(name) { continue }
            let what = entry.name.map { "datasource \($0)" } ?? "this datasource"
            for p in entry.problems { reader.warnings.append("\(p.description) (\(what) is not used by Tandem; ignored)") }
        }

        if persistenceUsesDB {
            let at = "state.persistence.config.datasource"
            if let name = persistenceDatasource {
                requireDatasource(name, at, config)
            } else {
                reader.problem(at, "DBPersistenceStore needs a datasource (a name from wso2.datasources.dataSources)")
            }
        }
        if config.cluster.enabled {
            let at = "cluster.config.strategyConfig.datasource"
            if let name = config.cluster.datasource {
                requireDatasource(name, at, config)
            } else {
                reader.problem(at, "cluster.config is enabled but names no datasource")
            }
        }

        if config.deployment.mode == .ha {
            if !config.cluster.enabled {
                reader.problem("deployment.config.type", "ha needs cluster.config.enabled: true (the two nodes coordinate through MySQL)")
            }
            if !config.persistence.enabled {
                reader.warn("state.persistence.enabled", "false in ha mode: a passive node that takes over starts from empty state")
            } else if case .file = config.persistence.store {
                reader.warn("state.persistence.persistenceStore", "in ha mode both nodes must read the same snapshots: FileSystemPersistenceStore needs a shared filesystem (DBPersistenceStore does not)")
            }
        } else if config.cluster.enabled {
            reader.warn("cluster.config.enabled", "true without deployment.config type: ha; this node runs standalone")
        }
    }

    private mutating func requireDatasource(_ name: String, _ path: String, _ config: DeploymentConfig) {
        let defined = config.datasources[name] != nil || datasourceProblems.contains { $0.name == name }
        if !defined {
            reader.problem(path, "no datasource named \"\(name)\" in wso2.datasources.dataSources")
        }
    }

    // MARK: Unknown keys

    /// A `tls:` section's `certificateFile` and `keyFile` (PEM): both or neither.
    mutating func readPEMPair(_ node: Node, _ path: String, what: String) -> (certificate: String?, key: String?) {
        var certificate: String?, key: String?
        for t in reader.entries(node, path) ?? [] {
            switch t.key {
            case "certificateFile": certificate = reader.nonEmptyString(t.value, t.path)
            case "keyFile": key = reader.nonEmptyString(t.value, t.path)
            default: unknownKey(t.path, t.key, known: ["certificateFile", "keyFile"])
            }
        }
        if (certificate == nil) != (key == nil) {
            reader.problem(path, "\(what) needs both certificateFile and keyFile (PEM)")
        }
        return (certificate, key)
    }

    mutating func unknownKey(_ path: String, _ key: String, known: [String]) {
        if let guess = Self.closest(to: key, in: known) {
            reader.warn(path, "unknown key (did you mean \(guess)?); ignored")
        } else {
            reader.unknownKey(path)
        }
    }

    /// The candidate within edit distance 2 of `word` (case-insensitive), if one is.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, Array(c.lowercased()))
            if d <= 2, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    /// Levenshtein distance.
    private static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
