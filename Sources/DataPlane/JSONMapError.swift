/// Why a JSON body could not be mapped to a stream's events: the event (its index in an array), the
/// attribute, and what was wrong, with the byte offset in the body.
public struct JSONMapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Index of the event in a top-level array; nil for a single `{"event":{…}}` object or for
    /// errors outside any event.
    public var eventIndex: Int?
    /// The attribute concerned, when there is one.
    public var attribute: String?
    public var message: String
    /// Where in the body the problem was found.
    public var byteOffset: Int

    public init(eventIndex: Int?, attribute: String?, message: String, byteOffset: Int) {
        self.eventIndex = eventIndex
        self.attribute = attribute
        self.message = message
        self.byteOffset = byteOffset
    }

    /// `event 3, attribute 'price': expects a double, got a string (at byte 120)`.
    public var description: String {
        var parts: [String] = []
        if let eventIndex { parts.append("event \(eventIndex)") }
        if let attribute { parts.append("attribute '\(attribute)'") }
        let prefix = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        return prefix + message + " (at byte \(byteOffset))"
    }
}
