import Foundation

/// Interns strings to dense ids without allocating per lookup: bytes are hashed and compared in
/// place; only a string seen for the first time is copied into the interner's arena.
struct StringInterner {
    private var arena: [UInt8] = []
    private var offsets: [Int] = []
    private var lengths: [Int] = []
    /// Strings of up to 7 bytes packed with their length into one word: compared without memcmp.
    private var packed: [UInt64] = []
    private var table: [Int32] = Array(repeating: -1, count: 64)

    var count: Int { offsets.count }

    @inline(__always)
    static func pack(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count <= 7 else { return nil }
        var v = UInt64(bytes.count) << 56
        for (i, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    @inline(__always)
    static func hashPacked(_ v: UInt64) -> UInt64 {
        var x = v &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 32
        return x
    }

    mutating func id(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if let key = StringInterner.pack(bytes) {
            let mask = table.count - 1
            var i = Int(truncatingIfNeeded: StringInterner.hashPacked(key)) & mask
            while true {
                let id = table[i]
                if id < 0 { break }
                if packed[Int(id)] == key { return id }
                i = (i + 1) & mask
            }
            return insert(bytes, hash: StringInterner.hashPacked(key), packedKey: key)
        }
        let hash = fnv1a64(bytes)
        let mask = table.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let id = table[i]
            if id < 0 { break }
            if lengths[Int(id)] == bytes.count && arena.withUnsafeBytes({ a in
                bytes.count == 0 || memcmp(a.baseAddress! + offsets[Int(id)], bytes.baseAddress!, bytes.count) == 0
            }) {
                return id
            }
            i = (i + 1) & mask
        }
        return insert(bytes, hash: hash, packedKey: UInt64.max)
    }

    /// Ids of `count` string slots (`offset << 32 | length` into `arena`), written to `ids`; rows
    /// whose `skip` byte is 2 (a RESET row) are left alone, rows with a `hints` id ≥ 0 take it.
    /// Short strings, the usual keys, are looked up over raw memory in one loop; a miss or a long
    /// string takes `id(_:)`.
    mutating func ids(slots: UnsafePointer<UInt64>, count: Int, arena: UnsafeRawBufferPointer,
                      skip: UnsafePointer<UInt8>?, hints: UnsafePointer<Int32>?, into ids: UnsafeMutablePointer<Int32>) {
        var row = 0
        while row < count {
            // Fast loop: stops at the first row it cannot answer from the current table.
            let stopped: Int = table.withUnsafeBufferPointer { table in
                packed.withUnsafeBufferPointer { packed in
                    let mask = table.count - 1
                    var r = row
                    while r < count {
                        if let skip, skip[r] == 2 { r += 1; continue }
                        if let hints, hints[r] >= 0 { ids[r] = hints[r]; r += 1; continue }
                        let slot = slots[r]
                        let offset = Int(truncatingIfNeeded: slot >> 32), length = Int(truncatingIfNeeded: slot & 0xFFFF_FFFF)
                        guard length <= 7 else { return r }
                        var key = UInt64(length) << 56
                        if length > 0 {
                            let base = arena.baseAddress! + offset
                            for b in 0..<length { key |= UInt64(base.load(fromByteOffset: b, as: UInt8.self)) << (8 * UInt64(b)) }
                        }
                        var i = Int(truncatingIfNeeded: StringInterner.hashPacked(key)) & mask
                        var found: Int32 = -1
                        while true {
                            let id = table[i]
                            if id < 0 { break }
                            if packed[Int(id)] == key { found = id; break }
                            i = (i + 1) & mask
                        }
                        if found < 0 { return r }
                        ids[r] = found
                        r += 1
                    }
                    return r
                }
            }
            row = stopped
            guard row < count else { return }
            let slot = slots[row]
            let offset = Int(truncatingIfNeeded: slot >> 32), length = Int(truncatingIfNeeded: slot & 0xFFFF_FFFF)
            ids[row] = id(UnsafeRawBufferPointer(rebasing: arena[offset..<offset + length]))
            row += 1
        }
    }

    /// The id of `bytes` if it was interned; never adds it.
    func find(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        let mask = table.count - 1
        if let key = StringInterner.pack(bytes) {
            var i = Int(truncatingIfNeeded: StringInterner.hashPacked(key)) & mask
            while true {
                let id = table[i]
                if id < 0 { return nil }
                if packed[Int(id)] == key { return id }
                i = (i + 1) & mask
            }
        }
        var i = Int(truncatingIfNeeded: fnv1a64(bytes)) & mask
        while true {
            let id = table[i]
            if id < 0 { return nil }
            if lengths[Int(id)] == bytes.count && arena.withUnsafeBytes({ a in
                bytes.count == 0 || memcmp(a.baseAddress! + offsets[Int(id)], bytes.baseAddress!, bytes.count) == 0
            }) {
                return id
            }
            i = (i + 1) & mask
        }
    }

    private mutating func insert(_ bytes: UnsafeRawBufferPointer, hash: UInt64, packedKey: UInt64) -> Int32 {
        let id = Int32(offsets.count)
        offsets.append(arena.count)
        lengths.append(bytes.count)
        packed.append(packedKey)
        arena.append(contentsOf: bytes)
        if offsets.count * 2 > table.count { rehash() }
        let mask = table.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while table[i] >= 0 { i = (i + 1) & mask }
        table[i] = id
        return id
    }

    private func hashOf(_ id: Int) -> UInt64 {
        if packed[id] != UInt64.max { return StringInterner.hashPacked(packed[id]) }
        return fnv1a64(arena[offsets[id]..<offsets[id] + lengths[id]])
    }

    func bytes(_ id: Int32) -> ArraySlice<UInt8> { arena[offsets[Int(id)]..<offsets[Int(id)] + lengths[Int(id)]] }

    private mutating func rehash() {
        table = Array(repeating: -1, count: table.count * 2)
        let mask = table.count - 1
        for id in 0..<offsets.count {
            var i = Int(truncatingIfNeeded: hashOf(id)) & mask
            while table[i] >= 0 { i = (i + 1) & mask }
            table[i] = Int32(id)
        }
    }

    func write(to w: inout SnapshotWriter) {
        w.int(offsets.count)
        for id in 0..<offsets.count { w.bytes(bytes(Int32(id))) }
    }

    mutating func read(from r: inout SnapshotReader) throws(SnapshotError) {
        self = StringInterner()
        let n = try r.int()
        for expected in 0..<n {
            let b = try r.bytes()
            let id = b.withUnsafeBytes { self.id($0) }
            guard id == Int32(expected) else { throw SnapshotError("duplicate interned string") }
        }
    }
}

/// Maps `group by` keys to dense group ids (0, 1, 2, … in first-seen order).
/// A key is one 64-bit part per key column: the slot bits of numbers and bools, an interned id for
/// strings, and a reserved value for null.
struct GroupTable {
    let width: Int
    private(set) var keys: [UInt64] = []
    private var table: [Int32] = Array(repeating: -1, count: 64)
    var interner = StringInterner()
    static let nullPart: UInt64 = 0xFFFF_FFFF_FFFF_FFF1

    init(width: Int) {
        precondition(width >= 1)
        self.width = width
    }

    var count: Int { keys.count / width }

    @inline(__always)
    private static func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
        var x = (h ^ v) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return x
    }

    /// Where `parts` is in the open-addressing table: its id, or the free slot it would take.
    @inline(__always)
    private func probe(_ parts: UnsafeBufferPointer<UInt64>) -> (slot: Int, id: Int32?, hash: UInt64) {
        precondition(parts.count == width)
        var hash: UInt64 = 0
        for p in parts { hash = GroupTable.mix(hash, p) }
        let mask = table.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let id = table[i]
            if id < 0 { return (i, nil, hash) }
            let base = Int(id) * width
            var same = true
            for k in 0..<width where keys[base + k] != parts[k] {
                same = false
                break
            }
            if same { return (i, id, hash) }
            i = (i + 1) & mask
        }
    }

    /// The group id of `parts` (width values), creating it when new.
    mutating func id(_ parts: UnsafeBufferPointer<UInt64>) -> Int32 {
        let (free, existing, hash) = probe(parts)
        if let existing { return existing }
        let id = Int32(count)
        keys.append(contentsOf: parts)
        var i = free
        if count * 2 > table.count {
            rehash()
            let mask = table.count - 1
            i = Int(truncatingIfNeeded: hash) & mask
            while table[i] >= 0 { i = (i + 1) & mask }
        }
        table[i] = id
        return id
    }

    /// The group id of `parts` if it exists; never adds it.
    func find(_ parts: UnsafeBufferPointer<UInt64>) -> Int32? { probe(parts).id }

    private mutating func rehash() {
        table = Array(repeating: -1, count: table.count * 2)
        let mask = table.count - 1
        for id in 0..<count {
            var hash: UInt64 = 0
            for k in 0..<width { hash = GroupTable.mix(hash, keys[id * width + k]) }
            var i = Int(truncatingIfNeeded: hash) & mask
            while table[i] >= 0 { i = (i + 1) & mask }
            table[i] = Int32(id)
        }
    }

    mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        table = Array(repeating: -1, count: 64)
    }

    func write(to w: inout SnapshotWriter) {
        interner.write(to: &w)
        w.uint64s(keys)
    }

    mutating func read(from r: inout SnapshotReader) throws(SnapshotError) {
        var fresh = GroupTable(width: width)
        try fresh.interner.read(from: &r)
        let stored = try r.uint64s()
        guard stored.count % width == 0 else { throw SnapshotError("group keys do not match the group by width") }
        stored.withUnsafeBufferPointer { all in
            for g in 0..<(stored.count / width) {
                _ = fresh.id(UnsafeBufferPointer(rebasing: all[g * width..<(g + 1) * width]))
            }
        }
        self = fresh
    }
}
