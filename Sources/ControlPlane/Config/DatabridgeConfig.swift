import DataPlane

/// The node's WSO2 databridge receiver (`@source(type='wso2event')`): SI's `databridge.config`
/// (receiver ports, session timeout) plus Tandem's `tandem.databridge` (TLS from PEM files,
/// plain-text credentials, limits). See docs/configuration.md.
public struct DatabridgeConfig: Sendable, Equatable {
    /// `tandem.databridge.enabled`: whether wso2event sources can open the ports. Default true.
    public var enabled = true
    /// The receiver's settings (ports, TLS files, limits).
    public var receiver = DatabridgeReceiverOptions()

    public init() {}
}
