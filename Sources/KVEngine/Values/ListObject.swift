// A list value: a quicklist, as Redis' — a sequence of nodes, each a packed run of elements.
//
// A node (`ListNode`) is one byte array holding its elements back to back, each written as
//   [length, LEB128 varint][bytes][backlen]
// where backlen is the size of length and bytes, written to be read from its last byte backwards (7 bits a
// byte, the high bit set on every byte but the leftmost): so a node is walked forwards and backwards, and
// a pop at either end finds its element without a scan. Nodes are bounded by `list-max-listpack-size`
// with Redis' meaning (negative: at most 4, 8, 16, 32 or 64 KiB of bytes; positive: at most that many
// elements, and 8 KiB), so a push or pop at an end moves at most one node's bytes, as Redis' listpack
// insert does, and a new node is started when the end node is full. The nodes sit in a ring (`NodeRing`),
// so adding or dropping a node at either end is O(1).
//
// Snapshots share structure: a node's bytes are a Swift array, copied on write, so `duplicate()` copies
// the ring of node references (a few bytes per 8 KiB of elements) and a later write to the live list
// copies only the one node it changes. A BGSAVE holds such a copy of a large list instead of serialising
// it under the shard's lock (ListCodec.swift).
//
// `list-compress-depth` d > 0, as in Redis: the d nodes at each end stay plain (pushes and pops touch only
// those) and the nodes between are LZF-compressed when that saves an eighth or more; a read in the middle
// decompresses a copy of the node it needs, a write there rebuilds the node. `NodeRing.settle` keeps the
// rule after every change, in O(d). OBJECT ENCODING says "quicklist", as Redis 7.0 does for every list. A
// list of one small node lives inline in its entry (Values/InlineValues.swift) as small hashes and sets do.
//
// Invariants (`verify`): every node non-empty and well formed (a compressed one once decompressed), the
// nodes' counts sum to `count`.

/// How a list lays out its nodes: `list-max-listpack-size` and `list-compress-depth`, with Redis' meanings.
public struct ListShape: Sendable {
    public var fill: Int
    /// Nodes this far from either end stay plain; those between are LZF-compressed (0: none are).
    public var depth: Int
    public init(fill: Int = EncodingLimits.Limit.listMaxListpackSize.defaultValue, depth: Int = 0) {
        self.fill = fill
        self.depth = depth
    }
}

/// One node's packed elements.
struct ListNode {
    var bytes: [UInt8] = []
    var count = 0
    /// When `bytes` are LZF-compressed (an interior node under list-compress-depth): their plain size.
    var plainLength = 0
    /// The size at which compressing last failed to save enough (not tried again at that size).
    var incompressibleSize = -1

    var isCompressed: Bool { plainLength > 0 }

    /// The node with readable elements: itself, or a decompressed copy.
    var plain: ListNode {
        guard isCompressed else { return self }
        var n = ListNode()
        n.count = count
        n.bytes = [UInt8](unsafeUninitializedCapacity: plainLength) { buffer, initialized in
            let ok = bytes.withUnsafeBytes { lzfDecompress($0, into: UnsafeMutableRawBufferPointer(buffer)) }
            precondition(ok, "a compressed list node does not decompress")
            initialized = plainLength
        }
        return n
    }

    /// Compresses the node when that saves an eighth of it or more (Redis: nodes of 48 bytes or more,
    /// saving 8 bytes or more).
    mutating func compress() {
        guard !isCompressed, bytes.count >= 48, bytes.count != incompressibleSize else { return }
        let table = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << lzfHashBits)
        defer { table.deallocate() }
        var out = [UInt8](repeating: 0, count: bytes.count - bytes.count / 8)
        let n = bytes.withUnsafeBytes { input in out.withUnsafeMutableBytes { lzfCompress(input, into: $0, table: table) } }
        guard n > 0 else { incompressibleSize = bytes.count; return }
        plainLength = bytes.count
        bytes = Array(out[..<n])
    }

    mutating func decompress() {
        if isCompressed { self = plain }
    }

    /// Bytes an element of `n` bytes takes in a node.
    static func encodedSize(_ n: Int) -> Int {
        let inner = varintSize(n) + n
        return inner + varintSize(inner)
    }

    /// Appends `x`'s encoding to `out`.
    static func encode(_ x: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        appendLengthPrefixed(x, to: &out)
        let inner = varintSize(x.count) + x.count
        let k = varintSize(inner)
        for j in 0..<k { out.append(backLengthByte(inner, j, of: k)) }
    }

    /// The element whose encoding starts at `p`: where its bytes are, and where the next element starts.
    @inline(__always)
    func element(at p: Int) -> (start: Int, length: Int, next: Int) {
        let (length, i) = readLEB128(bytes, at: p)
        return (i, length, i + length + varintSize(i - p + length))
    }

    /// Where the element ending at `end` starts.
    @inline(__always)
    func start(ofElementEndingAt end: Int) -> Int {
        var inner = 0, shift = 0, i = end - 1
        while true {
            let b = bytes[i]
            inner |= Int(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            i -= 1
            shift += 7
        }
        return i - inner
    }

    func copy(_ e: (start: Int, length: Int, next: Int)) -> [UInt8] { Array(bytes[e.start..<(e.start + e.length)]) }

    func withBytes<R>(_ e: (start: Int, length: Int, next: Int), _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[e.start..<(e.start + e.length)])) }
    }

    /// Every element in order: (its bounds in the plain node, its bytes).
    func forEach(_ body: ((start: Int, length: Int, next: Int), UnsafeRawBufferPointer) throws -> Bool) rethrows -> Bool {
        if isCompressed { return try plain.forEach(body) }
        return try bytes.withUnsafeBytes { raw in
            var p = 0
            while p < raw.count {
                let e = element(at: p)
                if try !body(e, UnsafeRawBufferPointer(rebasing: raw[e.start..<(e.start + e.length)])) { return false }
                p = e.next
            }
            return true
        }
    }

    var elements: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        _ = forEach { _, b in out.append(Array(b)); return true }
        return out
    }

    /// Whether a node may take one more element of `size` encoded bytes under `fill` (an empty node takes
    /// anything: an element larger than the limit gets a node of its own, as in Redis).
    func admits(_ size: Int, fill: Int) -> Bool {
        if count == 0 { return true }
        if isCompressed { return false }
        if fill >= 0 { return count + 1 <= fill && bytes.count + size <= listNodeSafetyLimit }
        return bytes.count + size <= listNodeByteLimit(fill)
    }

    /// Makes room for `size` more bytes, doubling as an array would but never past the node's byte bound:
    /// an array doubling past it held up to 16 KiB for a full 8 KiB node, and a node reserved at its bound
    /// from the start (as this did before) wastes most of a list's part-full last node. 3000 lists of 1000
    /// 16-byte elements: 35 KB each either way, 18.4 KB in Redis (MEMORY USAGE).
    mutating func makeRoom(_ size: Int, fill: Int) {
        let needed = bytes.count + size
        guard needed > bytes.capacity else { return }
        let bound = fill >= 0 ? listNodeSafetyLimit : listNodeByteLimit(fill)
        bytes.reserveCapacity(Swift.max(needed, Swift.min(2 * bytes.capacity, bound)))
    }

    /// VERIFY: nil when sound.
    func verify() -> String? {
        if isCompressed {
            var scratch = [UInt8](repeating: 0, count: plainLength)
            guard bytes.withUnsafeBytes({ c in scratch.withUnsafeMutableBytes { lzfDecompress(c, into: $0) } }) else {
                return "a compressed node does not decompress to its plain size"
            }
            return plain.verify()
        }
        var p = 0, n = 0
        while p < bytes.count {
            guard let (length, i) = readLEB128Checked(bytes, at: p) else { return "an element runs past its node" }
            let inner = i - p + length, k = varintSize(inner)
            guard i + length + k <= bytes.count,
                  (0..<k).allSatisfy({ bytes[i + length + $0] == backLengthByte(inner, $0, of: k) }) else {
                return "an element's back length does not lead back to it"
            }
            p = i + length + k
            n += 1
        }
        if n != count { return "a node of \(n) elements says \(count)" }
        if n == 0 { return "an empty node" }
        return nil
    }
}

/// Byte `j` of the `k`-byte back length of an element whose length and bytes take `inner` bytes: most
/// significant group first, so it reads from its last byte backwards; the high bit on all but the first.
@inline(__always)
func backLengthByte(_ inner: Int, _ j: Int, of k: Int) -> UInt8 {
    UInt8((inner >> (7 * (k - 1 - j))) & 0x7F) | (j == 0 ? 0 : 0x80)
}

/// Redis' SIZE_SAFETY_LIMIT: a node bounded by element count still stops at this many bytes.
let listNodeSafetyLimit = 8192

/// The byte bound of a node for a negative `list-max-listpack-size` (-1 ... -5; lower is -5).
func listNodeByteLimit(_ fill: Int) -> Int { 4096 << (min(5, max(1, -fill)) - 1) }

@inline(__always)
func varintSize(_ n: Int) -> Int {
    var n = n >> 7, k = 1
    while n > 0 { n >>= 7; k += 1 }
    return k
}

/// The nodes, in a ring: O(1) at both ends. Keeps the sum of its nodes' heap bytes as they change, so
/// that the map's accounting (which asks on every write) costs O(1), not a walk of the nodes.
struct NodeRing {
    private var slots: [ListNode] = []
    private var head = 0
    private(set) var count = 0
    /// Heap bytes of the nodes' arrays (headers and capacities).
    private(set) var nodeBytes = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private static func cost(_ n: ListNode) -> Int { n.bytes.capacity == 0 ? 0 : 32 + n.bytes.capacity }

    subscript(i: Int) -> ListNode {
        get { slots[(head + i) & (slots.count - 1)] }
        _modify {
            let j = (head + i) & (slots.count - 1)
            let before = Self.cost(slots[j])
            yield &slots[j]
            nodeBytes += Self.cost(slots[j]) - before
        }
    }

    private mutating func growIfFull() {
        guard count == slots.count else { return }
        var bigger = [ListNode](repeating: ListNode(), count: max(4, slots.count * 2))
        for i in 0..<count { bigger[i] = self[i] }
        slots = bigger
        head = 0
    }

    mutating func append(_ n: ListNode) {
        growIfFull()
        slots[(head + count) & (slots.count - 1)] = n
        count += 1
        nodeBytes += Self.cost(n)
    }

    mutating func prepend(_ n: ListNode) {
        growIfFull()
        head = (head - 1) & (slots.count - 1)
        slots[head] = n
        count += 1
        nodeBytes += Self.cost(n)
    }

    mutating func insert(_ n: ListNode, at i: Int) {
        append(ListNode())
        var j = count - 1
        while j > i { self[j] = self[j - 1]; j -= 1 }
        self[i] = n
    }

    mutating func remove(at i: Int) {
        for j in i..<(count - 1) { self[j] = self[j + 1] }
        self[count - 1] = ListNode()
        count -= 1
        if count == 0 { head = 0 }
    }

    mutating func removeFirst() {
        self[0] = ListNode()
        head = (head + 1) & (slots.count - 1)
        count -= 1
    }

    mutating func removeLast() { remove(at: count - 1) }

    /// Re-establishes list-compress-depth after a change at the ends or in the middle: the `depth` nodes
    /// at each end plain, the next one inward compressed (the rest were compressed when they got there).
    /// O(depth). `touched`: nodes rebuilt in the middle, compressed if interior.
    mutating func settle(depth d: Int, touched: Range<Int> = 0..<0) {
        guard d > 0 else { return }
        let n = count
        for i in 0..<min(d, n) where self[i].isCompressed { self[i].decompress() }
        for i in max(0, n - d)..<n where self[i].isCompressed { self[i].decompress() }
        guard n > 2 * d else { return }
        self[d].compress()
        self[n - 1 - d].compress()
        for i in touched where i >= d && i < n - d { self[i].compress() }
    }

    /// The ring's array and the nodes' arrays.
    var memoryBytes: Int { (slots.isEmpty ? 0 : 32 + slots.count * MemoryLayout<ListNode>.stride) + nodeBytes }
}

public final class ListObject: StoredObject, @unchecked Sendable {
    var nodes = NodeRing()
    public private(set) var length = 0

    public override init() { super.init() }

    /// A list of `elements` in order, laid out as `shape` says.
    public convenience init(_ elements: [[UInt8]], shape: ListShape) {
        self.init()
        for e in elements { e.withUnsafeBytes { push($0, front: false, shape: shape) } }
    }

    /// One node's packed elements (an inline value's, Values/InlineValues.swift).
    init(node: ListNode) {
        super.init()
        if node.count > 0 { nodes.append(node) }
        length = node.count
    }

    public override var valueType: ValueType { .list }
    public override var encodingName: String { "quicklist" }
    public override var memoryBytes: Int { 48 + nodes.memoryBytes }
    public override var count: Int { length }
    /// Nodes in the quicklist (STATS).
    public var nodeCount: Int { nodes.count }

    override var inlineSize: InlineSize? {
        nodes.count == 1 && !nodes[0].isCompressed && nodes[0].count <= Int(UInt16.max)
            ? InlineSize(count: 3 + nodes[0].bytes.count, form: .list) : nil
    }

    override func writeInline(to p: UnsafeMutableRawPointer, _ size: InlineSize) {
        p.storeBytes(of: InlineForm.list.rawValue, as: UInt8.self)
        p.storeBytes(of: UInt16(nodes[0].count), toByteOffset: 1, as: UInt16.self)
        nodes[0].bytes.withUnsafeBytes { copyBytes(to: p + 3, from: $0.baseAddress, count: $0.count) }
    }

    // MARK: Ends

    public func push(_ x: UnsafeRawBufferPointer, front: Bool, shape: ListShape) {
        let fill = shape.fill
        let size = ListNode.encodedSize(x.count)
        let end = front ? 0 : nodes.count - 1
        if nodes.isEmpty || !nodes[end].admits(size, fill: fill) {
            // Not reserved at its bound: a list's last node is mostly part full (makeRoom).
            var n = ListNode()
            ListNode.encode(x, into: &n.bytes)
            n.count = 1
            if front { nodes.prepend(n) } else { nodes.append(n) }
            nodes.settle(depth: shape.depth)
        } else if front {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10) { header in
                // The length, then the bytes, then the back length, inserted at once.
                var n = x.count, k = 0
                repeat {
                    header[k] = UInt8(n & 0x7F) | (n >= 0x80 ? 0x80 : 0)
                    n >>= 7
                    k += 1
                } while n > 0
                let inner = k + x.count, b = varintSize(inner)
                for i in 0..<b { header[k + i] = backLengthByte(inner, i, of: b) }
                nodes[0].makeRoom(size, fill: fill)
                nodes[0].bytes.replaceSubrange(0..<0, with: repeatElement(0, count: size))
                nodes[0].bytes.withUnsafeMutableBytes { p in
                    for i in 0..<k { p[i] = header[i] }
                    if x.count > 0 { (p.baseAddress! + k).copyMemory(from: x.baseAddress!, byteCount: x.count) }
                    for i in 0..<b { p[k + x.count + i] = header[k + i] }
                }
            }
            nodes[0].count += 1
        } else {
            nodes[end].makeRoom(size, fill: fill)
            ListNode.encode(x, into: &nodes[end].bytes)
            nodes[end].count += 1
        }
        length += 1
    }

    /// Removes and returns the element at an end; nil when empty.
    public func pop(front: Bool, shape: ListShape) -> [UInt8]? {
        var out: [UInt8]? = nil
        pop(front: front, shape: shape) { out = Array($0) }
        return out
    }

    /// Removes the element at an end, showing `body` its bytes first (no copy); false when empty.
    @discardableResult
    public func pop(front: Bool, shape: ListShape, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard length > 0 else { return false }
        let i = front ? 0 : nodes.count - 1
        nodes[i].decompress()  // only after list-compress-depth was lowered: ends are plain
        if front {
            let e = nodes[0].element(at: 0)
            nodes[0].withBytes(e, body)
            nodes[0].bytes.removeSubrange(0..<e.next)
        } else {
            let end = nodes[i].bytes.count
            let start = nodes[i].start(ofElementEndingAt: end)
            nodes[i].withBytes(nodes[i].element(at: start), body)
            nodes[i].bytes.removeSubrange(start..<end)
        }
        nodes[i].count -= 1
        length -= 1
        if nodes[i].count == 0 {
            if front { nodes.removeFirst() } else { nodes.removeLast() }
            nodes.settle(depth: shape.depth)
        }
        return true
    }

    // MARK: Positions

    /// The node holding element `index` (0 ≤ index < length) and the element's position in it,
    /// walking from the nearer end.
    private func locate(_ index: Int) -> (node: Int, offset: Int) {
        if index < length / 2 {
            var i = 0, before = 0
            while before + nodes[i].count <= index { before += nodes[i].count; i += 1 }
            return (i, index - before)
        }
        var i = nodes.count - 1, after = length
        while after - nodes[i].count > index { after -= nodes[i].count; i -= 1 }
        return (i, index - (after - nodes[i].count))
    }

    /// Calls `body` with the elements from `start` (0-based, in range) forwards until it returns false.
    public func forEach(from start: Int = 0, _ body: (UnsafeRawBufferPointer) throws -> Bool) rethrows {
        guard start < length else { return }
        var (i, skip) = locate(start)
        while i < nodes.count {
            let going = try nodes[i].forEach { _, b in
                if skip > 0 { skip -= 1; return true }
                return try body(b)
            }
            if !going { return }
            i += 1
        }
    }

    /// Calls `body` with the elements from the tail backwards until it returns false.
    public func forEachReversed(_ body: (UnsafeRawBufferPointer) throws -> Bool) rethrows {
        var i = nodes.count - 1
        while i >= 0 {
            let node = nodes[i].plain
            var end = node.bytes.count
            while end > 0 {
                let p = node.start(ofElementEndingAt: end)
                if try !node.withBytes(node.element(at: p), body) { return }
                end = p
            }
            i -= 1
        }
    }

    /// The element at `index` (0-based, in range).
    public func element(at index: Int) -> [UInt8] {
        var out: [UInt8] = []
        forEach(from: index) { out = Array($0); return false }
        return out
    }

    /// The elements, copied.
    public var elements: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(length)
        forEach { out.append(Array($0)); return true }
        return out
    }

    // MARK: Middle edits: the touched node is rebuilt (and split when over its bound).

    /// Replaces node `i` by nodes holding `elements` (none: the node goes).
    private func rebuild(_ i: Int, _ elements: [[UInt8]], shape: ListShape) {
        let fill = shape.fill
        length += elements.count - nodes[i].count
        nodes.remove(at: i)
        var packed: [ListNode] = []
        var n = ListNode()
        for e in elements {
            let size = ListNode.encodedSize(e.count)
            if !n.admits(size, fill: fill) { packed.append(n); n = ListNode() }
            e.withUnsafeBytes { ListNode.encode($0, into: &n.bytes) }
            n.count += 1
        }
        if n.count > 0 { packed.append(n) }
        for (k, node) in packed.enumerated() { nodes.insert(node, at: i + k) }
        nodes.settle(depth: shape.depth, touched: i..<(i + packed.count))
    }

    /// LSET: replaces the element at `index` (in range).
    public func set(at index: Int, _ x: UnsafeRawBufferPointer, shape: ListShape) {
        let (i, offset) = locate(index)
        var elements = nodes[i].elements
        elements[offset] = Array(x)
        rebuild(i, elements, shape: shape)
    }

    /// LINSERT: inserts `x` before or after the first element equal to `pivot`; false when there is none.
    public func insert(_ x: UnsafeRawBufferPointer, pivot: UnsafeRawBufferPointer, before: Bool, shape: ListShape) -> Bool {
        for i in 0..<nodes.count {
            var at: Int? = nil, k = 0
            _ = nodes[i].forEach { _, b in
                if b.elementsEqual(pivot) { at = k; return false }
                k += 1
                return true
            }
            guard let at else { continue }
            var elements = nodes[i].elements
            elements.insert(Array(x), at: before ? at : at + 1)
            rebuild(i, elements, shape: shape)
            return true
        }
        return false
    }

    /// LREM: removes up to |count| elements equal to `x` (from the head when count > 0, the tail when
    /// < 0, all when 0); how many went.
    public func remove(_ x: UnsafeRawBufferPointer, count: Int, shape: ListShape) -> Int {
        var removed = 0
        let limit = count == 0 ? Int.max : abs(count)
        var i = count < 0 ? nodes.count - 1 : 0
        while i >= 0 && i < nodes.count && removed < limit {
            var matches = false
            _ = nodes[i].forEach { _, b in matches = b.elementsEqual(x); return !matches }
            if !matches {
                i += count < 0 ? -1 : 1
                continue
            }
            var elements = nodes[i].elements
            let order = count < 0 ? Array(elements.indices.reversed()) : Array(elements.indices)
            var drop: [Int] = []
            for k in order where removed < limit && elements[k].elementsEqual(x) {
                drop.append(k)
                removed += 1
            }
            for k in drop.sorted(by: >) { elements.remove(at: k) }
            let before = nodes.count
            rebuild(i, elements, shape: shape)
            if count >= 0 { i += 1 - (before - nodes.count) } else { i -= 1 }
        }
        return removed
    }

    /// LTRIM: keeps the elements from `start` through `stop` (both in range, start <= stop).
    public func trim(start: Int, stop: Int, shape: ListShape) {
        var dropTail = length - 1 - stop
        while dropTail > 0 {
            let last = nodes.count - 1
            if nodes[last].count <= dropTail {
                dropTail -= nodes[last].count
                length -= nodes[last].count
                nodes.removeLast()
            } else {
                rebuild(last, Array(nodes[last].elements.dropLast(dropTail)), shape: shape)
                dropTail = 0
            }
        }
        var dropHead = start
        while dropHead > 0 {
            if nodes[0].count <= dropHead {
                dropHead -= nodes[0].count
                length -= nodes[0].count
                nodes.removeFirst()
            } else {
                rebuild(0, Array(nodes[0].elements.dropFirst(dropHead)), shape: shape)
                dropHead = 0
            }
        }
    }

    public override func verify() -> String? {
        var total = 0
        for i in 0..<nodes.count {
            if let problem = nodes[i].verify() { return "node \(i): \(problem)" }
            total += nodes[i].count
        }
        if total != length { return "nodes hold \(total) elements, the list says \(length)" }
        return nil
    }

    public override func duplicate() -> StoredObject {
        let copy = ListObject()
        copy.nodes = nodes
        copy.length = length
        return copy
    }
}
