/// The keys of one partition: maps each event of a partitioned stream to the id of the partition
/// instance it belongs to. Ids are shared by every query of the partition, so that an event inserted
/// into an inner stream (`#Name`) reaches the same key's instances downstream.
///
/// Value partitions intern the key's value (a string by its bytes, a number by its bits) into dense
/// ids in first-seen order. Range partitions use the label's id; an event matching several ranges
/// goes to each of them (Siddhi's overlapping ranges), one matching none is dropped.
final class PartitionKeys {
    /// Instances a value partition keeps at most. Events of new keys beyond it are dropped and
    /// counted in `rejectedEventCount` (the keys seen so far keep working).
    static let keysMax = 100_000

    let spec: PartitionSpec
    private var table = GroupTable(width: 1)
    private var valuePrograms: [String: (column: Int?, program: VectorProgram?)] = [:]
    private var rangePrograms: [String: [(program: VectorProgram, label: Int32)]] = [:]
    /// Events dropped because their key would exceed `keysMax`.
    private(set) var rejectedEventCount = 0
    private var keys: [Int32] = []
    private var rows: [Int32] = []
    private var expanded: [String: EventBatch] = [:]

    init(spec: PartitionSpec) {
        self.spec = spec
        for (stream, keyer) in spec.keyers {
            switch keyer {
            case .value(let expression):
                if case .column(let c, _) = expression {
                    valuePrograms[stream] = (c, nil)
                } else {
                    valuePrograms[stream] = (nil, VectorProgram(expression))
                }
            case .range(let ranges):
                rangePrograms[stream] = ranges.map { (VectorProgram($0.condition), Int32($0.label)) }
            }
        }
    }

    var isRange: Bool { !spec.labels.isEmpty }

    /// How many instance ids exist (the instance arrays' size).
    var count: Int { isRange ? spec.labels.count : table.count }

    /// The events of `batch` (of partitioned stream `stream`) with their instance ids: the batch
    /// itself for value partitions (rows with no instance get id -1), an expanded copy for range
    /// partitions (a row once per matching range). Valid until the next call for that stream.
    func assign(stream: String, _ batch: EventBatch) -> (batch: EventBatch, keys: [Int32]) {
        let n = batch.count
        keys.removeAll(keepingCapacity: true)
        if let ranges = rangePrograms[stream] {
            rows.removeAll(keepingCapacity: true)
            let conditions = ranges.map { $0.program.evaluateCondition(batch) }
            for r in 0..<n {
                for (k, range) in ranges.enumerated() where conditions[k][r] & 1 == 1 {
                    rows.append(Int32(r))
                    keys.append(range.label)
                }
            }
            if rows.count == n && rows.enumerated().allSatisfy({ $0.offset == Int($0.element) }) {
                return (batch, keys)
            }
            var out = expanded[stream] ?? EventBatch(schema: batch.schema)
            expanded[stream] = nil  // keep the storage uniquely referenced while appending
            out.removeAll()
            out.appendRows(from: batch, rows: rows)
            expanded[stream] = out
            return (out, keys)
        }
        guard let keyer = valuePrograms[stream] else { preconditionFailure("stream \(stream) is not partitioned") }
        keys.reserveCapacity(n)
        var part: UInt64 = 0
        func id(_ p: UInt64) -> Int32 {
            part = p
            let existing = withUnsafePointer(to: &part) { table.find(UnsafeBufferPointer(start: $0, count: 1)) }
            if let existing { return existing }
            guard table.count < PartitionKeys.keysMax else {
                rejectedEventCount += 1
                return -1
            }
            return withUnsafePointer(to: &part) { table.id(UnsafeBufferPointer(start: $0, count: 1)) }
        }
        // A string is interned only when its key may get an instance, so rejected keys cost nothing.
        func stringKey(_ bytes: UnsafeRawBufferPointer) -> Int32 {
            if let interned = table.interner.find(bytes) { return id(UInt64(interned)) }
            guard table.count < PartitionKeys.keysMax else {
                rejectedEventCount += 1
                return -1
            }
            return id(UInt64(table.interner.id(bytes)))
        }
        if let c = keyer.column {
            let type = batch.schema.attributes[c].type
            let nulls = batch.nulls[c]
            batch.columns[c].withUnsafeBufferPointer { column in
                batch.stringBytes.withUnsafeBytes { arena in
                    for r in 0..<n {
                        if !nulls.isEmpty && nulls[r] != 0 {
                            keys.append(id(GroupTable.nullPart))
                        } else if type.isTextual {
                            let slot = column[r]
                            let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                            keys.append(stringKey(UnsafeRawBufferPointer(rebasing: arena[offset..<offset + length])))
                        } else {
                            keys.append(id(column[r]))
                        }
                    }
                }
            }
        } else if let program = keyer.program {
            program.evaluate(batch)
            let values = program.resultValues
            let nulls = program.resultNulls
            for r in 0..<n {
                if let nulls, nulls[r] != 0 {
                    keys.append(id(GroupTable.nullPart))
                } else if program.resultType.isTextual {
                    keys.append(program.withResultBytes(r, batch: batch) { stringKey($0) })
                } else {
                    keys.append(id(values[r]))
                }
            }
        }
        return (batch, keys)
    }

    func write(to w: inout SnapshotWriter) {
        table.write(to: &w)
        w.int(rejectedEventCount)
    }

    /// Reads what `write` wrote; applied by `apply` (restores are all-or-nothing).
    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> (GroupTable, Int) {
        var fresh = GroupTable(width: 1)
        try fresh.read(from: &r)
        return (fresh, try r.int())
    }

    func apply(_ state: (GroupTable, Int)) {
        table = state.0
        rejectedEventCount = state.1
    }
}
