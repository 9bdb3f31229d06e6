import Engine

/// How one Siddhi stream travels as a WSO2 event (`@map(type='wso2event')`, SI's default mapping):
/// attributes named `meta_…` are the event's meta data, `correlation_…` its correlation data, the
/// others its payload; on the wire meta comes first, then correlation, then payload, each group in
/// the stream's attribute order.
public struct WSO2EventStream: Sendable {
    /// `name:version`, as publishers name it (`wso2.stream.id`).
    public let streamId: String
    /// The app stream index (copied into `IngestBatch`).
    public let streamIndex: Int
    public let schema: StreamSchema
    /// For each wire position, the stream column it fills.
    let wireColumns: [Int]
    /// The wire type at each position (the column's type).
    let wireTypes: [AttributeType]

    /// Fails (with the reason) for a stream with an `object` attribute: WSO2 events have no such type.
    public init(streamId: String, streamIndex: Int, schema: StreamSchema) throws(DatabridgeError) {
        self.streamId = streamId
        self.streamIndex = streamIndex
        self.schema = schema
        let names = schema.attributes.map(\.name)
        let meta = names.indices.filter { names[$0].hasPrefix("meta_") }
        let correlation = names.indices.filter { names[$0].hasPrefix("correlation_") }
        let payload = names.indices.filter { !names[$0].hasPrefix("meta_") && !names[$0].hasPrefix("correlation_") }
        wireColumns = meta + correlation + payload
        wireTypes = wireColumns.map { schema.attributes[$0].type }
        if let object = schema.attributes.first(where: { $0.type == .object }) {
            throw .malformed("attribute '\(object.name)' is an object: WSO2 events carry int, long, float, double, bool and string only")
        }
    }
}
