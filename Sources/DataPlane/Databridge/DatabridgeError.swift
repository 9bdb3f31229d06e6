/// Why a databridge request (login, publish, logout) was refused. Each case says what the publisher
/// did wrong or what the node could not do; the transport turns it into the error its protocol has
/// (a Java exception class name on the binary transport, an IDL exception or a
/// `TApplicationException` on Thrift). A refused publish took none of its bundle's events.
public enum DatabridgeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Wrong user name or password, or credentials sent in plain text where that is not allowed.
    case authentication(String)
    /// The session id is unknown (never issued, logged out, expired or evicted): log in again.
    case sessionExpired(String)
    /// An event names a stream id no open `@source(type='wso2event')` on this node takes.
    case undefinedStream(String)
    /// The request or bundle does not decode (wrong counts, short values, bad lengths).
    case malformed(String)
    /// The node cannot take the events now (engine ring full, node no longer active, not confirmed
    /// held by the cluster in time); the publisher may retry.
    case unavailable(String)

    public var description: String {
        switch self {
        case .authentication(let m), .sessionExpired(let m), .undefinedStream(let m), .malformed(let m), .unavailable(let m): m
        }
    }

    /// The WSO2 exception class the binary transport names: the Java agent instantiates it by name,
    /// so these are classes its class path has (databridge commons).
    var javaClassName: String {
        switch self {
        case .authentication: "org.wso2.carbon.databridge.commons.exception.AuthenticationException"
        case .sessionExpired: "org.wso2.carbon.databridge.commons.exception.SessionTimeoutException"
        case .undefinedStream: "org.wso2.carbon.databridge.commons.exception.UndefinedEventTypeException"
        case .malformed: "org.wso2.carbon.databridge.commons.exception.MalformedEventException"
        case .unavailable: "org.wso2.carbon.databridge.commons.exception.TransportException"
        }
    }
}
