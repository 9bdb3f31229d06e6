import DataPlane
import Yams

/// SI's `databridge.config` and Tandem's `tandem.databridge` (the wso2event receiver).
extension ConfigLoader {
    /// SI's section: `clientTimeoutMin` and each `dataReceivers[].dataReceiver` (`type: Thrift|Binary`,
    /// `properties.tcpPort`, `sslPort`, `hostName`). SI's keystore and thread-pool keys mean nothing
    /// to Tandem (its TLS is PEM files under `tandem.databridge.tls`).
    mutating func readDatabridge(_ node: Node, _ path: String, into config: inout DatabridgeConfig) {
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "clientTimeoutMin":
                if let n = reader.positiveInt(e.value, e.path) { config.receiver.sessionTimeoutMs = n * 60_000 }
            case "dataReceivers":
                for item in reader.items(e.value, e.path) ?? [] {
                    for r in reader.entries(item.value, item.path) ?? [] {
                        guard r.key == "dataReceiver" else { unknownKey(r.path, r.key, known: ["dataReceiver"]); continue }
                        readDataReceiver(r.value, r.path, into: &config.receiver)
                    }
                }
            case "keyStoreLocation", "keyStorePassword":
                reader.unusedKey(e.path, "Tandem's databridge TLS reads PEM files: tandem.databridge.tls.certificateFile and keyFile")
            case "workerThreads", "maxEventBufferCapacity", "eventBufferSize":
                reader.unusedKey(e.path, "events go straight to the app's engine ring; tandem.dataPlane.ingestRingCapacity bounds it")
            default:
                unknownKey(e.path, e.key, known: ["clientTimeoutMin", "dataReceivers", "keyStoreLocation", "keyStorePassword", "workerThreads", "maxEventBufferCapacity", "eventBufferSize"])
            }
        }
    }

    private mutating func readDataReceiver(_ node: Node, _ path: String, into options: inout DatabridgeReceiverOptions) {
        var type: String?
        var tcpPort: Int?, sslPort: Int?, host: String?
        for e in reader.entries(node, path) ?? [] {
            switch e.key {
            case "type": type = reader.choice(e.value, e.path, ["Thrift", "Binary", "thrift", "binary"])?.lowercased()
            case "properties":
                for p in reader.entries(e.value, e.path) ?? [] {
                    switch p.key {
                    case "tcpPort": tcpPort = reader.port(p.value, p.path)
                    case "sslPort": sslPort = reader.port(p.value, p.path)
                    case "hostName": host = reader.nonEmptyString(p.value, p.path)?.trimmingWhitespace()
                    default: reader.unusedKey(p.path, "SI's receiver thread pools and timeouts; Tandem serves every connection on its event loops")
                    }
                }
            default: unknownKey(e.path, e.key, known: ["type", "properties"])
            }
        }
        // tandem.databridge's keys win, wherever in the file they are.
        let keep = databridgeOverrides
        switch type {
        case "thrift":
            if let tcpPort, !keep.contains("thriftPort") { options.thriftPort = tcpPort }
            if let sslPort, !keep.contains("thriftTLSPort") { options.thriftTLSPort = sslPort }
        case "binary":
            if let tcpPort, !keep.contains("binaryPort") { options.binaryPort = tcpPort }
            if let sslPort, !keep.contains("binaryTLSPort") { options.binaryTLSPort = sslPort }
        default:
            reader.problem(path, "a dataReceiver needs type: Thrift or Binary")
        }
        if let host, !keep.contains("host") { options.host = host }
    }

    /// Tandem's own keys: `enabled`, `host`, `tls` (PEM), `allowPlainTextCredentials`, the ports
    /// (`thriftPort`, `thriftTLSPort`, `binaryPort`, `binaryTLSPort`; 0 closes one) and the limits.
    mutating func readTandemDatabridge(_ node: Node, _ path: String, into config: inout DatabridgeConfig) {
        let known = ["enabled", "host", "tls", "allowPlainTextCredentials", "thriftPort", "thriftTLSPort", "binaryPort", "binaryTLSPort",
                     "maxMessageBytes", "connectionsMax", "sessionsMax", "ringFullTimeoutMs", "ackTimeoutMs"]
        var o = config.receiver
        for e in reader.entries(node, path) ?? [] {
            if ["host", "thriftPort", "thriftTLSPort", "binaryPort", "binaryTLSPort"].contains(e.key) { databridgeOverrides.insert(e.key) }
            switch e.key {
            case "enabled": if let b = reader.bool(e.value, e.path) { config.enabled = b }
            case "host": if let h = reader.nonEmptyString(e.value, e.path)?.trimmingWhitespace() { o.host = h }
            case "allowPlainTextCredentials": if let b = reader.bool(e.value, e.path) { o.allowPlainTextCredentials = b }
            case "thriftPort": if let p = reader.int(e.value, e.path, in: 0...65535) { o.thriftPort = p == 0 ? nil : p }
            case "thriftTLSPort": if let p = reader.int(e.value, e.path, in: 0...65535) { o.thriftTLSPort = p == 0 ? nil : p }
            case "binaryPort": if let p = reader.int(e.value, e.path, in: 0...65535) { o.binaryPort = p == 0 ? nil : p }
            case "binaryTLSPort": if let p = reader.int(e.value, e.path, in: 0...65535) { o.binaryTLSPort = p == 0 ? nil : p }
            case "maxMessageBytes": if let n = reader.int(e.value, e.path, in: 1024...(1 << 30)) { o.maxMessageBytes = n }
            case "connectionsMax": if let n = reader.int(e.value, e.path, in: 1...65_536) { o.connectionsMax = n }
            case "sessionsMax": if let n = reader.int(e.value, e.path, in: 1...1_000_000) { o.sessionsMax = n }
            case "ringFullTimeoutMs": if let n = reader.int(e.value, e.path, in: 0...600_000) { o.ringFullTimeoutMs = n }
            case "ackTimeoutMs": if let n = reader.int(e.value, e.path, in: 1...3_600_000) { o.ackTimeoutMs = n }
            case "tls":
                (o.certificateFile, o.keyFile) = readPEMPair(e.value, e.path, what: "the databridge TLS ports")
            default: unknownKey(e.path, e.key, known: known)
            }
        }
        if o.allowPlainTextCredentials {
            reader.warn(Self.joinPath(path, "allowPlainTextCredentials"), "logins on the plain databridge ports send passwords unencrypted")
        }
        config.receiver = o
    }

    static func joinPath(_ parent: String, _ key: String) -> String { YAMLReader.join(parent, key) }
}
