import Engine
import Foundation

/// Topics between the apps of one node (Siddhi's `InMemoryBroker`): an in-memory sink publishes an
/// app stream's output to a topic, and every in-memory source subscribed to it receives each batch.
///
/// Unlike Siddhi, which passes event objects through unchecked, a topic has one shape: the attribute
/// types (in order) of the first stream that joined it, held while any publisher or subscriber is
/// joined. A stream of another shape is refused when it joins (at deploy), so values always keep
/// their types; attributes are mapped by position (names may differ).
///
/// Thread-safe; a publish takes the lock only to copy the topic's subscriber list.
public final class InMemoryBroker: @unchecked Sendable {
    /// The node's broker (every app of the process shares it, as in Siddhi).
    public static let shared = InMemoryBroker()

    private struct Topic {
        var types: [AttributeType]
        /// Who set the shape, for messages.
        var shapeOwner: String
        var publishers: [ObjectIdentifier: String] = [:]
        var subscribers: [InMemorySource] = []
        var isEmpty: Bool { publishers.isEmpty && subscribers.isEmpty }
    }

    private let lock = NSLock()
    private var topics: [String: Topic] = [:]

    public init() {}

    private func join(_ topic: String, schema: StreamSchema, who: String) throws(SourceOpenError) -> Topic {
        let types = schema.attributes.map(\.type)
        guard let existing = topics[topic] else { return Topic(types: types, shapeOwner: who) }
        guard existing.types == types else {
            func shape(_ t: [AttributeType]) -> String { "(" + t.map(\.description).joined(separator: ", ") + ")" }
            throw SourceOpenError("inMemory topic '\(topic)' carries \(shape(existing.types)) (set by \(existing.shapeOwner)); \(who) has \(shape(types))")
        }
        return existing
    }

    /// Adds a publisher (an in-memory sink) of `schema` to `topic`. Idempotent.
    public func register(publisher: AnyObject, topic: String, schema: StreamSchema, who: String) throws(SourceOpenError) {
        lock.lock()
        defer { lock.unlock() }
        var entry = try join(topic, schema: schema, who: who)
        entry.publishers[ObjectIdentifier(publisher)] = who
        topics[topic] = entry
    }

    public func unregister(publisher: AnyObject, topic: String) {
        lock.lock()
        defer { lock.unlock() }
        guard var entry = topics[topic] else { return }
        entry.publishers[ObjectIdentifier(publisher)] = nil
        topics[topic] = entry.isEmpty ? nil : entry
    }

    /// Adds a subscriber. Idempotent.
    public func subscribe(_ source: InMemorySource) throws(SourceOpenError) {
        lock.lock()
        defer { lock.unlock() }
        var entry = try join(source.topic, schema: source.schema, who: source.owner)
        if !entry.subscribers.contains(where: { $0 === source }) { entry.subscribers.append(source) }
        topics[source.topic] = entry
    }

    public func unsubscribe(_ source: InMemorySource) {
        lock.lock()
        defer { lock.unlock() }
        guard var entry = topics[source.topic] else { return }
        entry.subscribers.removeAll { $0 === source }
        topics[source.topic] = entry.isEmpty ? nil : entry
    }

    /// The sources subscribed to `topic` now.
    public func subscribers(of topic: String) -> [InMemorySource] {
        lock.lock()
        defer { lock.unlock() }
        return topics[topic]?.subscribers ?? []
    }
}
