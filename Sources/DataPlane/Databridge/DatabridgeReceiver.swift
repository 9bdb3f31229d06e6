import Dispatch
import Engine
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The node's WSO2 databridge receiver: the Thrift (7611, TLS 7711) and binary (9611, TLS 9711)
/// transports that WSO2 API Manager, Identity Server and databridge agents publish `wso2event`s
/// with. One per node, shared by every app's `DatabridgeSource`: the ports open when the first
/// source opens and close when the last one closes (so, in HA, only on the active node).
///
/// A request is answered once it was handled: a login with a session id, a publish once all its
/// events are in their engine rings (HA: once the cluster holds them), or with an error that says
/// why; a refused publish took none of its events unless the error says otherwise (engine ring
/// full part way). Requests of one connection are handled one at a time; reading pauses meanwhile.
///
/// Limits: `connectionsMax` connections (more are closed at accept), `maxMessageBytes` buffered per
/// connection (a larger request closes it), `sessionsMax` sessions.
public final class DatabridgeReceiver: @unchecked Sendable {
    public enum Transport: String, Sendable { case thrift, binary }

    public let options: DatabridgeReceiverOptions
    public let sessions: DatabridgeSessions
    let logger: Logger
    /// Serialises opening and closing the ports (held while they bind or drain; connection tasks
    /// never take it, so waiting for them under it cannot deadlock).
    private let portLock = NSLock()
    /// Guards `routes`, `attached` and `listeners`; held only briefly.
    private let lock = NSLock()
    /// Stream id → the open source taking it. Under `lock`.
    private var routes: [String: (source: DatabridgeSource, stream: WSO2EventStream)] = [:]
    private var attached: [ObjectIdentifier: DatabridgeSource] = [:]
    private var listeners: [Listener] = []
    /// Logged (as warnings) the first time the ports open; under `portLock`.
    private var openWarnings: [String]

    /// - Parameter openWarnings: what the node wants said when the ports first open (say, that no
    ///   user is configured), so a node without wso2event sources says nothing about them.
    public init(options: DatabridgeReceiverOptions, authenticate: @escaping DatabridgeSessions.Authenticate, logger: Logger,
                openWarnings: [String] = []) {
        self.options = options
        self.logger = logger
        self.openWarnings = openWarnings
        sessions = DatabridgeSessions(timeoutMs: options.sessionTimeoutMs, sessionsMax: options.sessionsMax, authenticate: authenticate)
    }

    /// The ports listening now, by transport and TLS.
    public var boundPorts: [(transport: Transport, tls: Bool, port: Int)] {
        lock.withLock { listeners.map { ($0.transport, $0.tls, $0.port) } }
    }

    // MARK: Sources

    /// Routes `source`'s stream ids to it; opens the ports if none is open. Throws for a stream id
    /// another open source takes, or ports that cannot be bound (nothing is routed then).
    func attach(_ source: DatabridgeSource) throws(SourceOpenError) {
        portLock.lock()
        defer { portLock.unlock() }
        let (known, open) = lock.withLock { (attached[ObjectIdentifier(source)] != nil, !listeners.isEmpty) }
        guard !known else { return }
        for stream in source.streams {
            if let other = lock.withLock({ routes[stream.streamId] }) {
                throw SourceOpenError("wso2event stream id '\(stream.streamId)' of \(source.owner) is already taken by \(other.source.owner): one source per stream id on a node")
            }
        }
        if !open {
            let opened = try openListeners()
            lock.withLock { listeners = opened }
        }
        lock.withLock {
            attached[ObjectIdentifier(source)] = source
            for stream in source.streams { routes[stream.streamId] = (source, stream) }
        }
        logger.info("databridge: \(source.owner) takes \(source.streams.map(\.streamId).joined(separator: ", "))")
    }

    /// Stops routing `source`'s stream ids; closes the ports when no source is left.
    func detach(_ source: DatabridgeSource) {
        portLock.lock()
        defer { portLock.unlock() }
        let closing: [Listener]? = lock.withLock {
            guard attached.removeValue(forKey: ObjectIdentifier(source)) != nil else { return nil }
            for stream in source.streams where routes[stream.streamId]?.source === source { routes[stream.streamId] = nil }
            guard attached.isEmpty else { return nil }
            defer { listeners = [] }
            return listeners
        }
        if let closing { close(closing) }
    }

    // MARK: Ports (under `portLock`)

    private final class Listener: @unchecked Sendable {
        let transport: Transport, tls: Bool
        var port = 0
        var channel: Channel?
        let connections = ConnectionSet()
        let finished = DispatchSemaphore(value: 0)
        init(transport: Transport, tls: Bool) { self.transport = transport; self.tls = tls }
    }

    private func openListeners() throws(SourceOpenError) -> [Listener] {
        var sslContext: NIOSSLContext?
        if options.tls, let certificate = options.certificateFile, let key = options.keyFile {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
                let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
                sslContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw SourceOpenError("databridge: cannot read the TLS certificate \(certificate) or key \(key): \(error)")
            }
        }
        var wanted: [(Transport, Bool, Int)] = []
        if let p = options.thriftPort { wanted.append((.thrift, false, p)) }
        if let p = options.binaryPort { wanted.append((.binary, false, p)) }
        if sslContext != nil {
            if let p = options.thriftTLSPort { wanted.append((.thrift, true, p)) }
            if let p = options.binaryTLSPort { wanted.append((.binary, true, p)) }
        }
        if options.allowPlainTextCredentials {
            openWarnings.append("tandem.databridge.allowPlainTextCredentials is true: logins on the plain ports send passwords unencrypted")
        }
        if sslContext == nil {
            openWarnings.append("no tandem.databridge.tls certificate and key: the TLS ports (thrift \(options.thriftTLSPort.map(String.init) ?? "-"), binary \(options.binaryTLSPort.map(String.init) ?? "-")) stay closed")
        }
        for warning in openWarnings { logger.warning("databridge: \(warning)") }
        openWarnings = []
        var opened: [Listener] = []
        for (transport, tls, port) in wanted {
            let listener = Listener(transport: transport, tls: tls)
            do {
                try bind(listener, port: port, ssl: tls ? sslContext : nil)
            } catch {
                close(opened)
                throw SourceOpenError("databridge: cannot open the \(transport)\(tls ? " TLS" : "") port \(options.host):\(port): \(error)")
            }
            opened.append(listener)
            logger.info("databridge: \(transport)\(tls ? " TLS" : "") receiver listening on \(options.host):\(listener.port)")
        }
        return opened
    }

    /// How long closing the ports waits for requests in flight to be answered.
    static let drainTimeoutMs = 10_000

    /// Closes the ports: idle connections at once, busy ones after their reply (a publish waiting
    /// for its release is answered with an error, see `DatabridgeSource.closing`).
    private func close(_ listeners: [Listener]) {
        guard !listeners.isEmpty else { return }
        for listener in listeners {
            listener.channel?.close(promise: nil)
            listener.connections.stop()
        }
        for listener in listeners where listener.finished.wait(timeout: .now() + .milliseconds(DatabridgeReceiver.drainTimeoutMs)) == .timedOut {
            logger.warning("databridge: the \(listener.transport) port \(listener.port) still had requests after \(DatabridgeReceiver.drainTimeoutMs) ms; closing them")
            listener.connections.closeAll()
            listener.finished.wait()
        }
        logger.info("databridge: ports \(listeners.map { String($0.port) }.joined(separator: ", ")) closed")
    }

    /// Binds one port and serves its connections on a task until the port is closed.
    private func bind(_ listener: Listener, port: Int, ssl: NIOSSLContext?) throws {
        final class Bound: @unchecked Sendable {
            let lock = NSLock()
            var result: Result<NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, any Error>?
            let ready = DispatchSemaphore(value: 0)
        }
        let bound = Bound()
        let host = options.host
        Task.detached {
            do {
                let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let ssl { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: ssl)) }
                            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                bound.lock.withLock { bound.result = .success(server) }
            } catch {
                bound.lock.withLock { bound.result = .failure(error) }
            }
            bound.ready.signal()
        }
        bound.ready.wait()
        let server = try bound.lock.withLock { bound.result! }.get()
        listener.channel = server.channel
        listener.port = server.channel.localAddress?.port ?? port
        Task.detached { [self] in
            do {
                try await withThrowingDiscardingTaskGroup { group in
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            guard listener.connections.insert(connection.channel, max: options.connectionsMax) else {
                                logger.warning("databridge: more than \(options.connectionsMax) connections; one from \(connection.channel.remoteAddress?.description ?? "?") closed")
                                try? await connection.channel.close()
                                continue
                            }
                            group.addTask {
                                await self.serve(connection, listener)
                                listener.connections.remove(connection.channel)
                            }
                        }
                    }
                }
            } catch {
                self.logger.debug("databridge: port \(listener.port) stopped: \(error)")
            }
            listener.finished.signal()
        }
    }

    // MARK: Connections

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ listener: Listener) async {
        let (transport, tls, port) = (listener.transport, listener.tls, listener.port)
        let peer = connection.channel.remoteAddress?.description ?? "?"
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                var buffer = ByteBuffer()
                for try await chunk in inbound {
                    var chunk = chunk
                    buffer.writeBuffer(&chunk)
                    switch transport {
                    case .binary:
                        while true {
                            let request: BinaryDatabridgeRequest?
                            do throws(DatabridgeError) {
                                request = try BinaryDatabridgeCodec.nextMessage(&buffer, maxMessageBytes: options.maxMessageBytes)
                            } catch {
                                logger.warning("databridge: binary connection from \(peer) closed: \(error)")
                                try await outbound.write(BinaryDatabridgeCodec.errorReply(error))
                                return
                            }
                            guard let request else { break }
                            guard listener.connections.begin(channel) else { return }
                            let reply = await handleBinary(request, tls: tls, port: port)
                            try await outbound.write(reply)
                            guard listener.connections.end(channel) else { return }
                        }
                    case .thrift:
                        while true {
                            let message: ThriftDatabridgeMessage?
                            do throws(ThriftDatabridgeCodec.ReadError) {
                                message = try ThriftDatabridgeCodec.nextMessage(&buffer, maxMessageBytes: options.maxMessageBytes)
                            } catch {
                                let reason = switch error {
                                case .malformed(let m): m
                                case .incomplete: "incomplete call"
                                }
                                logger.warning("databridge: thrift connection from \(peer) closed: \(reason)")
                                try await outbound.write(ThriftDatabridgeCodec.applicationException(name: "", seqId: 0, type: ThriftDatabridgeCodec.protocolError, message: reason))
                                return
                            }
                            guard let message else { break }
                            guard listener.connections.begin(channel) else { return }
                            let reply = await handleThrift(message, tls: tls, port: port)
                            if !message.oneway { try await outbound.write(reply) }
                            guard listener.connections.end(channel) else { return }
                        }
                    }
                    // Keep the buffer from growing with what was already read.
                    if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
                }
                if buffer.readableBytes > 0 {
                    logger.info("databridge: \(transport) connection from \(peer) ended part way through a request (\(buffer.readableBytes) bytes); nothing of it was taken")
                }
            }
        } catch {
            logger.debug("databridge: \(transport) connection from \(peer): \(error)")
        }
    }

    /// Refuses a login on a plain port unless allowed.
    private func login(user: String, password: String, _ transport: Transport, tls: Bool, port: Int) async throws(DatabridgeError) -> String {
        guard tls || options.allowPlainTextCredentials else {
            let tlsPort = boundPorts.first { $0.tls && $0.transport == transport }?.port
            throw .authentication("credentials are not accepted in plain text on port \(port): log in on the TLS port\(tlsPort.map { " \($0)" } ?? " (none is open: configure tandem.databridge.tls)"), or set tandem.databridge.allowPlainTextCredentials")
        }
        do throws(DatabridgeError) {
            return try await sessions.login(user: user, password: password)
        } catch {
            logger.notice("databridge: login refused on port \(port): \(error)")
            throw error
        }
    }

    private func handleBinary(_ request: BinaryDatabridgeRequest, tls: Bool, port: Int) async -> ByteBuffer {
        do throws(DatabridgeError) {
            switch request {
            case .login(let user, let password):
                return BinaryDatabridgeCodec.loginReply(sessionId: try await login(user: user, password: password, .binary, tls: tls, port: port))
            case .logout(let id):
                sessions.logout(id)
            case .publish(let id, let events, let count):
                try sessions.check(id)
                try await publish { (lookup, bundle) throws(DatabridgeError) in
                    try BinaryDatabridgeCodec.decodeEvents(events, count: count, lookup: lookup, into: &bundle)
                }
            }
            return BinaryDatabridgeCodec.okReply()
        } catch {
            logger.debug("databridge: binary request refused: \(error)")
            return BinaryDatabridgeCodec.errorReply(error)
        }
    }

    private func handleThrift(_ m: ThriftDatabridgeMessage, tls: Bool, port: Int) async -> ByteBuffer {
        typealias C = ThriftDatabridgeCodec
        switch m.call {
        case .connect(let user, let password):
            do throws(DatabridgeError) {
                return C.reply(m, .string(try await login(user: user, password: password, .thrift, tls: tls, port: port)))
            } catch {
                return C.declaredException(m, fieldId: 1, message: error.description)
            }
        case .disconnect(let id):
            sessions.logout(id)
            return C.reply(m, .void)
        case .publish(let bundle):
            do throws(DatabridgeError) {
                try sessions.check(bundle.sessionId ?? "")
                try await publish { (lookup, out) throws(DatabridgeError) in
                    try ThriftDatabridgeCodec.decodeEvents(bundle, lookup: lookup, into: &out)
                }
                return C.reply(m, .void)
            } catch {
                logger.debug("databridge: thrift publish refused: \(error)")
                switch error {
                case .undefinedStream(let text): return C.declaredException(m, fieldId: 1, message: text)
                case .sessionExpired(let text), .authentication(let text): return C.declaredException(m, fieldId: 2, message: text)
                case .malformed(let text): return C.applicationException(name: m.name, seqId: m.seqId, type: C.protocolError, message: text)
                case .unavailable(let text): return C.applicationException(name: m.name, seqId: m.seqId, type: C.internalError, message: text)
                }
            }
        case .findStreamId(let id, let name, let version):
            do throws(DatabridgeError) { try sessions.check(id) } catch { return C.declaredException(m, fieldId: 2, message: error.description) }
            let streamId = "\(name):\(version)"
            guard lock.withLock({ routes[streamId] }) != nil else {
                return C.declaredException(m, fieldId: 1, message: "no open @source(type='wso2event') takes stream id '\(streamId)' on this node")
            }
            return C.reply(m, .string(streamId))
        case .defineStream(let id, _):
            do throws(DatabridgeError) { try sessions.check(id) } catch { return C.declaredException(m, fieldId: 4, message: error.description) }
            return C.declaredException(m, fieldId: 3, message: "Tandem takes streams from its Siddhi apps (@source(type='wso2event', wso2.stream.id='name:version')); streams are not defined by publishers")
        case .deleteStreamById(let id), .deleteStreamByNameVersion(let id):
            do throws(DatabridgeError) { try sessions.check(id) } catch { return C.declaredException(m, fieldId: 1, message: error.description) }
            return C.reply(m, .bool(false))
        case .unknown:
            return C.applicationException(name: m.name, seqId: m.seqId, type: C.unknownMethod, message: "unknown method '\(m.name)' (the databridge services have connect, disconnect, publish, findStreamId, defineStream, deleteStreamById, deleteStreamByNameVersion)")
        }
    }

    // MARK: Publishing

    /// Decodes a bundle whole (nothing is taken when it fails), hands its batches to their apps'
    /// rings, and waits until every app released them when it acks on release (HA).
    func publish(_ decode: (WSO2StreamLookup, inout WSO2EventBundle) throws(DatabridgeError) -> Void) async throws(DatabridgeError) {
        let routes = lock.withLock { self.routes }
        var bundle = WSO2EventBundle(batchEventsMax: options.batchEventsMax)
        try decode({ routes[$0]?.stream }, &bundle)
        var tickets: [ObjectIdentifier: (source: DatabridgeSource, ticket: UInt64)] = [:]
        var taken = 0
        for (stream, batch) in bundle.parts {
            let source = routes[stream.streamId]!.source
            guard !source.isClosing else {
                throw .unavailable("this node stopped taking stream '\(stream.streamId)' (no longer active or the app stopped)" + (taken > 0 ? "; \(taken) of the bundle's \(bundle.events) events were taken before" : "; nothing of the bundle was taken"))
            }
            guard let (ticket, waitedNs) = await source.shared.pushAsync(streamIndex: stream.streamIndex, batch: batch, timeoutMs: options.ringFullTimeoutMs) else {
                source.metrics.recordBackpressure(waitedNs: UInt64(options.ringFullTimeoutMs) * 1_000_000)
                throw .unavailable("the engine of \(source.owner) is behind: its input ring stayed full for \(options.ringFullTimeoutMs) ms" + (taken > 0 ? "; \(taken) of the bundle's \(bundle.events) events were taken before" : "; nothing of the bundle was taken"))
            }
            if waitedNs > 0 { source.metrics.recordBackpressure(waitedNs: waitedNs) }
            source.metrics.events.increment(by: batch.count)
            taken += batch.count
            tickets[ObjectIdentifier(source)] = (source, ticket)
        }
        for (source, ticket) in tickets.values where source.ackRelease == .onRelease {
            let released = await source.shared.awaitRelease(ticket, timeoutMs: options.ackTimeoutMs) { source.isClosing }
            if !released {
                if source.isClosing {
                    throw .unavailable("this node stopped being active before the cluster held the events; they may or may not have been run")
                }
                throw .unavailable("the events were taken but not confirmed held by the cluster within \(options.ackTimeoutMs) ms; they may run, and a resend may count them twice")
            }
        }
    }
}

/// The connections of one port, so closing the port can end them: idle ones at once, busy ones
/// (handling a request) after their reply. Bounded by `connectionsMax`.
private final class ConnectionSet: @unchecked Sendable {
    private let lock = NSLock()
    /// Channel → busy. Under `lock`.
    private var channels: [ObjectIdentifier: (channel: Channel, busy: Bool)] = [:]
    private var stopping = false

    func insert(_ channel: Channel, max: Int) -> Bool {
        lock.withLock {
            guard !stopping, channels.count < max else { return false }
            channels[ObjectIdentifier(channel)] = (channel, false)
            return true
        }
    }

    func remove(_ channel: Channel) { _ = lock.withLock { channels.removeValue(forKey: ObjectIdentifier(channel)) } }

    /// Marks a request begun; false when the port is closing (the connection ends instead).
    func begin(_ channel: Channel) -> Bool {
        lock.withLock {
            guard !stopping else { return false }
            channels[ObjectIdentifier(channel)]?.busy = true
            return true
        }
    }

    /// Marks the request answered; false when the port is closing (the connection ends now).
    func end(_ channel: Channel) -> Bool {
        lock.withLock {
            channels[ObjectIdentifier(channel)]?.busy = false
            return !stopping
        }
    }

    /// Closes the idle connections; busy ones end after their reply.
    func stop() {
        let idle: [Channel] = lock.withLock {
            stopping = true
            return channels.values.filter { !$0.busy }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    func closeAll() {
        for channel in lock.withLock({ channels.values.map(\.channel) }) { channel.close(promise: nil) }
    }
}
