import Atomics
import Engine

/// One path of an HTTP source and the stream its events go to.
public struct HTTPSourceRoute: Sendable {
    /// The URL path, e.g. `/stocks` (exact match).
    public var path: String
    /// The app stream index (copied into `IngestBatch`).
    public var streamIndex: Int
    public var schema: StreamSchema
    /// `@map(type='json', fail.on.missing.attribute='true')`: reject an event that lacks an
    /// attribute (Siddhi's default), or make it null.
    public var failOnMissingAttribute: Bool
    /// `basic.auth.enabled='true'`: requests on this path need `Authorization: Basic …` with a user
    /// of the node (checked by `HTTPSourceOptions.authenticator`), else 401.
    public var basicAuth: Bool

    public init(path: String, streamIndex: Int, schema: StreamSchema, failOnMissingAttribute: Bool = true, basicAuth: Bool = false) {
        self.path = path
        self.streamIndex = streamIndex
        self.schema = schema
        self.failOnMissingAttribute = failOnMissingAttribute
        self.basicAuth = basicAuth
    }
}

/// The PEM files of an https http source (`receiver.url='https://…'`).
public struct HTTPSourceTLS: Sendable, Equatable {
    /// PEM certificate chain, the server's first.
    public var certificateFile: String
    /// PEM private key of that certificate (unencrypted).
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

/// Settings of one HTTP source server (one host:port; every path on it is a route).
public struct HTTPSourceOptions: Sendable {
    public var host: String = "0.0.0.0"
    /// 0 picks a free port (read `HTTPSource.port` after `open`).
    public var port: Int
    public var routes: [HTTPSourceRoute]
    /// Larger bodies are refused with 413 (`max.body.bytes`, default 4 MiB).
    public var maxBodyBytes: Int = 4 << 20
    /// How long a request waits for room in the engine ring before 503 (`ring.full.timeout.ms`).
    public var ringFullTimeoutMs: Int = 1000
    /// How long `openSource` waits for the server to listen before it gives up. The server runs as
    /// a Swift task: a process whose concurrency pool is busy (a loaded test run) needs longer.
    public var startTimeoutMs: Int = 10_000
    /// The `Retry-After` a 503 carries, in seconds.
    public var retryAfterSeconds: Int = 1
    /// Requests being handled at once beyond this get 503 at once (bounds the bodies held in memory:
    /// at most this many × `maxBodyBytes`).
    public var requestsInFlightMax: Int = 256
    /// When a request is answered 200: once its events are in the engine ring (`.onRingAccept`), or
    /// once the consumer also released them (`.onRelease`, HA: the passive holds them).
    public var ackRelease: TCPSourceOptions.AckRelease = .onRingAccept
    /// With `.onRelease`: how long a request waits for the release before it is answered 202
    /// (accepted, not yet known durable).
    public var ackTimeoutMs: Int = 30_000
    /// Extra metric labels (the node adds `app`).
    public var metricDimensions: [(String, String)] = []
    /// Serve https with these files (nil: plain http). The port then refuses plain http.
    public var tls: HTTPSourceTLS?
    /// Checks the credentials of routes with `basicAuth` (nil: such routes answer 401 to every request).
    public var authenticator: HTTPBasicAuthenticator?

    public init(host: String = "0.0.0.0", port: Int, routes: [HTTPSourceRoute]) {
        self.host = host
        self.port = port
        self.routes = routes
    }
}

/// Counters of an `HTTPSource`; read from any thread.
public final class HTTPSourceStats: Sendable {
    /// Requests answered 200 (events in the engine ring).
    public let requestsAccepted = ManagedAtomic<Int>(0)
    /// Events those requests carried.
    public let eventsAccepted = ManagedAtomic<Int>(0)
    /// Requests refused with a 4xx (bad body, wrong path or method, too large, not authenticated).
    public let requestsRejected = ManagedAtomic<Int>(0)
    /// Of those, requests refused with 401 (no or wrong credentials on a `basicAuth` route).
    public let requestsUnauthorized = ManagedAtomic<Int>(0)
    /// Requests answered 503: the engine ring stayed full, too many requests at once, or stopping.
    public let requestsUnavailable = ManagedAtomic<Int>(0)
    /// Times a request found the engine ring full and waited (backpressure).
    public let ringFullWaits = ManagedAtomic<Int>(0)
    public init() {}
}
