import KVEngine
#if canImport(Glibc)
import Glibc
#endif

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

/// `body` with `bytes` copied to end where a page that cannot be read begins: a read past their last byte
/// faults (a test of a walk over damaged bytes then crashes rather than passing on what lay beyond).
func withBytesBeforeGuardPage<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let size = (bytes.count + page - 1) / page * page + page
    guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED,
          mprotect(base + size - page, page, PROT_NONE) == 0 else { fatalError("mmap: \(errno)") }
    defer { munmap(base, size) }
    let start = base + size - page - bytes.count
    bytes.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return body(UnsafeRawBufferPointer(start: start, count: bytes.count))
}
