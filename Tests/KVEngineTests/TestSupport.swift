import KVEngine

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Keys whose hash under `seed` has its low `bits` bits zero: they crowd into 1/2^bits of the buckets at
/// every size, so chains and overflow buckets form and same-size growth triggers.
func crowdedKeys(count: Int, seed: UInt64, bits: Int) -> [[UInt8]] {
    var keys: [[UInt8]] = []
    var i = 0
    let mask = UInt64((1 << bits) - 1)
    while keys.count < count {
        let k = bytes("key:\(i)")
        if debugHash(k, seed: seed) & mask == 0 { keys.append(k) }
        i += 1
    }
    return keys
}

extension HashMap {
    func expectSound(_ context: @autoclosure () -> String = "") -> String? {
        verify().map { "\(context()): \($0)" }
    }
}

/// The store's element lists are slices of the command's arguments (no copy per command); the tests
/// build arrays, and these pass them on.
extension Store {
    func setAdd(_ key: UnsafeRawBufferPointer, _ members: [UnsafeRawBufferPointer]) throws(StoreError) -> Int {
        try setAdd(key, members[...])
    }
    func setRemove(_ key: UnsafeRawBufferPointer, _ members: [UnsafeRawBufferPointer]) throws(StoreError) -> Int {
        try setRemove(key, members[...])
    }
    func zsetRemove(_ key: UnsafeRawBufferPointer, _ members: [UnsafeRawBufferPointer]) throws(StoreError) -> Int {
        try zsetRemove(key, members[...])
    }
    func hashDelete(_ key: UnsafeRawBufferPointer, fields: [UnsafeRawBufferPointer]) throws(StoreError) -> Int {
        try hashDelete(key, fields: fields[...])
    }
    func listPush(_ key: UnsafeRawBufferPointer, _ elements: [UnsafeRawBufferPointer], at end: ListEnd, onlyIfExists: Bool = false) throws(StoreError) -> Int {
        try listPush(key, elements[...], at: end, onlyIfExists: onlyIfExists)
    }
    func hashSet(_ key: UnsafeRawBufferPointer, _ pairs: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer)]) throws(StoreError) -> Int {
        try hashSet(key, fieldsAndValues: pairs.flatMap { [$0.0, $0.1] }[...])
    }
    func zsetAdd(
        _ key: UnsafeRawBufferPointer, _ elements: [(score: Double, member: UnsafeRawBufferPointer)], options: SortedSetAddOptions
    ) throws(StoreError) -> (added: Int, changed: Int, score: Double?) {
        try elements.withUnsafeBufferPointer { (b) throws(StoreError) in try zsetAdd(key, b, options: options) }
    }
}
