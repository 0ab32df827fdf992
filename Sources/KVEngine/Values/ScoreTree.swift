// The order of a large sorted set: a counted B+tree of (score, member) elements, sorted by score, then by
// member bytes (Redis' order). With the set's HashMap (member -> score, SortedSetObject.swift) it gives
// O(1) ZSCORE and O(log n) insert, delete, rank and the start of any range.
//
// Why a B+tree and not Redis' skip list: memory, measured. A skip-list node costs a pointer and a span per
// level, a backward pointer, the score and an allocation of its own per member (about 48 bytes on top of
// the member in Redis); here a leaf packs its elements back to back in one buffer of at most
// `leafMaxBytes` — per element only its score (8 bytes), a length byte and the member — and the nodes above
// the leaves are one per ~60 elements. Ranges walk a leaf's bytes in order, which the cache likes.
//
// Leaves: `bytes` holds the elements, each [score: 8 bytes, the Double's bits little-endian][member length:
// LEB128][member]. A leaf is rebuilt at its exact size on every change (as Listpack.swift's buffers) and
// split in two when it grows past `leafMaxBytes`.
// Inner nodes: for each child, its element count (ranks are sums of the counts left of the path) and its
// largest element (descents binary-search these, without touching the children). At most `fanout`
// children; an inner node above that splits.
// Deletes remove emptied nodes and merge a node that fell below a quarter of its bound into a neighbour
// when the two fit in three quarters; a root with one child is replaced by the child.
//
// Invariants (`verify`): every leaf is at the same depth; elements strictly increase in the order across
// the whole tree; each node's `count` is its elements; each inner node's `counts` and largest elements
// match its children; no node is empty but a root leaf; the byte and node totals match the nodes.

import CKVSupport
import Glibc

/// The order of a sorted set: by score, then by member bytes.
@inline(__always)
func scoreOrderLess(_ s1: Double, _ m1: UnsafeRawBufferPointer, _ s2: Double, _ m2: UnsafeRawBufferPointer) -> Bool {
    if s1 != s2 { return s1 < s2 }
    return compareBytes(m1, m2) < 0
}

/// Lexicographic order of byte strings (memcmp, then the shorter first).
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

final class ScoreNode {
    let isLeaf: Bool
    /// Elements under the node.
    var count = 0
    /// A leaf's elements: `size` bytes at `base`, block `ref` of the tree's arena (0: a malloc block, for a
    /// leaf larger than the arena's largest block; or none, for an empty leaf).
    var base: UnsafeMutableRawPointer?
    var ref: UInt32 = 0
    var size = 0
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
    /// The arena units a block of the leaf's size takes.
    var units: Int { (size + 7) >> arenaUnitShift }
    /// An inner node's children, their counts and largest elements.
    var children: [ScoreNode] = []
    var counts: [Int] = []
    var maxScores: [Double] = []
    var maxMembers: [[UInt8]] = []

    init(leaf: Bool) { isLeaf = leaf }

    /// The element at byte offset `p` of a leaf's bytes: its score, its member's byte range and the next
    /// offset.
    @inline(__always)
    static func element(_ raw: UnsafeRawBufferPointer, at p: Int) -> (score: Double, member: Range<Int>, next: Int) {
        let score = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
        var length = 0, shift = 0, i = p + 8
        while true {
            let b = raw[i]
            length |= Int(b & 0x7F) << shift
            i += 1
            if b < 0x80 { break }
            shift += 7
        }
        return (score, i..<(i + length), i + length)
    }

    func element(at p: Int) -> (score: Double, member: Range<Int>, next: Int) {
        Self.element(bytes, at: p)
    }

    /// Calls `body` with each leaf element from byte offset `p` until it returns false.
    @inline(__always)
    func forEachElement(from p: Int = 0, _ body: (Double, UnsafeRawBufferPointer, _ offset: Int) -> Bool) {
        do {
            let raw = bytes
            var p = p
            while p < raw.count {
                let (score, member, next) = Self.element(raw, at: p)
                if !body(score, UnsafeRawBufferPointer(rebasing: raw[member]), p) { return }
                p = next
            }
        }
    }

    /// The byte offset of a leaf's first element not less than (s, m) (`size` when there is none), and
    /// whether that element is (s, m). Inserts and removes start here. Elements with a smaller score and
    /// a member under 128 bytes (a one-byte length) are stepped over on their score alone, without
    /// decoding them: a ZADD scans half a leaf, dozens of elements (callgrind, TESTS=zadd:16
    /// scripts/instructions-per-request: the leaf insert 1,230 instructions a ZADD decoding each element
    /// through `forEachElement`, 870 with this).
    @inline(__always)
    func seek(_ s: Double, _ m: UnsafeRawBufferPointer) -> (offset: Int, equal: Bool) {
        let raw = bytes
        guard let base = raw.baseAddress else { return (0, false) }
        var p = 0
        while p < raw.count {
            let es = Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
            let length = base.load(fromByteOffset: p + 8, as: UInt8.self)
            if es < s && length < 0x80 {
                p += 9 + Int(length)
                continue
            }
            if es > s { return (p, false) }
            let (_, member, next) = Self.element(raw, at: p)
            if es == s {
                let c = compareBytes(UnsafeRawBufferPointer(rebasing: raw[member]), m)
                if c >= 0 { return (p, c == 0) }
            }
            p = next
        }
        return (raw.count, false)
    }

    /// Whether (s, m) is the largest element of child `i`.
    @inline(__always)
    func isMax(_ i: Int, _ s: Double, _ m: UnsafeRawBufferPointer) -> Bool {
        maxScores[i] == s && maxMembers[i].withUnsafeBytes { compareBytes($0, m) == 0 }
    }

    /// The largest element under the node: (score, member).
    var maxElement: (Double, [UInt8]) {
        if !isLeaf { return (maxScores.last!, maxMembers.last!) }
        var last = 0
        forEachElement { _, _, p in last = p; return true }
        let (s, member, _) = element(at: last)
        return (s, Array(bytes[member]))
    }

    /// The child index of the first child whose largest element satisfies the monotone `pred`; nil when none.
    func firstChild(where pred: (Double, UnsafeRawBufferPointer) -> Bool) -> Int? {
        var lo = 0, hi = children.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if maxMembers[mid].withUnsafeBytes({ pred(maxScores[mid], $0) }) { hi = mid } else { lo = mid + 1 }
        }
        return lo < children.count ? lo : nil
    }

    func refreshMax(_ i: Int) {
        (maxScores[i], maxMembers[i]) = children[i].maxElement
    }
}

final class ScoreTree {
    static let leafMaxBytes = 2048
    static let fanout = 64

    private(set) var root = ScoreNode(leaf: true)
    /// The leaves' blocks (ScoreTree+Compaction.swift moves them off its sparse pages), and the usable
    /// bytes of the malloc blocks of leaves too large for it.
    var arena = Arena()
    private var externalLeafBytes = 0
    /// The rank the running compaction's walk has reached (ScoreTree+Compaction.swift).
    var compactionCursor = 0
    /// Bytes in leaves, and the nodes of each kind (the heap estimate; checked by `verify`).
    private(set) var leafBytes = 0
    private(set) var leaves = 1
    private(set) var inners = 0

    var count: Int { root.count }

    /// About the heap bytes held: the leaves' arena pages and malloc blocks, a leaf object and its parent's
    /// entry for it, and the inner nodes' arrays.
    var heapBytes: Int { arena.reservedBytes + externalLeafBytes + leaves * 96 + inners * (Self.fanout * 72 + 160) }

    deinit {
        if externalLeafBytes > 0 { forEachLeaf(root) { if $0.ref == 0, let b = $0.base { Glibc.free(b) } } }
        arena.destroy()
    }

    // MARK: Leaf blocks

    /// Gives leaf `n` a new block of `size` bytes, written by `fill` (the old block is still in place while
    /// it runs), and frees the old one. A leaf is rebuilt on every change, so it never has spare capacity.
    @inline(__always)
    private func rebuild(_ n: ScoreNode, size: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        let units = (size + 7) >> arenaUnitShift
        var ref: UInt32 = 0
        var base: UnsafeMutableRawPointer? = nil
        if units > maxSmallUnits {
            guard let p = malloc(size) else { fatalError("out of memory allocating a \(size)-byte sorted set leaf") }
            base = p
            externalLeafBytes += malloc_usable_size(p)
        } else if units > 0 {
            ref = arena.allocate(units: units)
            base = arena.pointer(ref)
        }
        if let base { fill(base) }
        leafBytes += size
        release(n)
        (n.ref, n.base, n.size) = (ref, base, size)
    }

    /// Frees leaf `n`'s block.
    private func release(_ n: ScoreNode) {
        if n.ref != 0 {
            arena.free(n.ref, units: n.units)
        } else if let b = n.base {
            externalLeafBytes -= malloc_usable_size(b)
            Glibc.free(b)
        }
        leafBytes -= n.size
        (n.ref, n.base, n.size) = (0, nil, 0)
    }

    private func forEachLeaf(_ n: ScoreNode, _ body: (ScoreNode) -> Void) {
        if n.isLeaf { return body(n) }
        for c in n.children { forEachLeaf(c, body) }
    }

    // MARK: Changes

    /// Inserts an element that is not in the tree.
    func insert(_ s: Double, _ m: UnsafeRawBufferPointer) {
        if let right = insert(into: root, s, m) {
            let top = ScoreNode(leaf: false)
            for c in [root, right] { append(c, to: top) }
            root = top
            inners += 1
        }
    }

    private func append(_ c: ScoreNode, to n: ScoreNode) {
        let (s, m) = c.maxElement
        n.children.append(c)
        n.counts.append(c.count)
        n.maxScores.append(s)
        n.maxMembers.append(m)
        n.count += c.count
    }

    /// Inserts under `n`; a new right sibling when `n` split.
    private func insert(into n: ScoreNode, _ s: Double, _ m: UnsafeRawBufferPointer) -> ScoreNode? {
        n.count += 1
        if n.isLeaf {
            let old = n.bytes
            let at = n.seek(s, m).offset
            let added = 8 + varintSize(m.count) + m.count
            rebuild(n, size: old.count + added) { out in
                copyBytes(to: out, from: UnsafeRawBufferPointer(rebasing: old[..<at]))
                let e = out + at
                e.storeBytes(of: s.bitPattern.littleEndian, toByteOffset: 0, as: UInt64.self)
                storeLengthPrefixed(m, at: e + 8)
                copyBytes(to: e + added, from: UnsafeRawBufferPointer(rebasing: old[at...]))
            }
            let appended = at == old.count
            return n.size > Self.leafMaxBytes && n.count > 1 ? splitLeaf(n, appended: appended) : nil
        }
        let i = n.firstChild { es, em in !scoreOrderLess(es, em, s, m) } ?? n.children.count - 1
        let child = n.children[i]
        // The child's largest element changes only when the new one is larger (the last child) or it split.
        let larger = n.maxMembers[i].withUnsafeBytes { scoreOrderLess(n.maxScores[i], $0, s, m) }
        let right = insert(into: child, s, m)
        n.counts[i] = child.count
        if larger || right != nil { n.refreshMax(i) }
        if let right {
            let (rs, rm) = right.maxElement
            n.children.insert(right, at: i + 1)
            n.counts.insert(right.count, at: i + 1)
            n.maxScores.insert(rs, at: i + 1)
            n.maxMembers.insert(rm, at: i + 1)
        }
        return n.children.count > Self.fanout ? splitInner(n, appended: right != nil && i + 2 == n.children.count) : nil
    }

    /// Splits a leaf in halves; after an append at its end, only its last element moves to the new leaf,
    /// so that elements inserted in order fill their leaves instead of leaving each half empty.
    private func splitLeaf(_ n: ScoreNode, appended: Bool) -> ScoreNode {
        // The first element boundary at or past half the bytes, else (or after an append) the last one: both
        // leaves keep an element.
        var cut = 0, kept = 0, halved = false
        n.forEachElement { _, _, p in
            cut = p
            if kept > 0 && !appended && p >= n.size / 2 { halved = true; return false }
            kept += 1
            return true
        }
        if !halved { kept -= 1 }
        let right = ScoreNode(leaf: true)
        let old = n.bytes
        rebuild(right, size: old.count - cut) { copyBytes(to: $0, from: UnsafeRawBufferPointer(rebasing: old[cut...])) }
        right.count = n.count - kept
        rebuild(n, size: cut) { copyBytes(to: $0, from: UnsafeRawBufferPointer(rebasing: old[..<cut])) }
        n.count = kept
        leaves += 1
        return right
    }

    private func splitInner(_ n: ScoreNode, appended: Bool) -> ScoreNode {
        let half = appended ? n.children.count - 1 : n.children.count / 2
        let right = ScoreNode(leaf: false)
        right.children = Array(n.children[half...])
        right.counts = Array(n.counts[half...])
        right.maxScores = Array(n.maxScores[half...])
        right.maxMembers = Array(n.maxMembers[half...])
        right.count = right.counts.reduce(0, +)
        n.children.removeSubrange(half...)
        n.counts.removeSubrange(half...)
        n.maxScores.removeSubrange(half...)
        n.maxMembers.removeSubrange(half...)
        n.count -= right.count
        inners += 1
        return right
    }

    /// Removes the element (s, m); false when it is not in the tree.
    @discardableResult
    func remove(_ s: Double, _ m: UnsafeRawBufferPointer) -> Bool {
        guard remove(from: root, s, m) else { return false }
        collapseRoot()
        return true
    }

    /// Removes the lowest element (or, `max`, the highest), showing `body` its score and member first (the
    /// leaf's bytes: valid only during the call); false when the tree is empty. ZPOPMIN/ZPOPMAX: one walk
    /// down the first (last) children, where `remove` would find the element again by comparisons.
    /// Afterwards `upcoming` is shown the members the next two pops at this end will take, as far as the
    /// leaf holds them (for prefetching: pops come in runs).
    @discardableResult
    func popEnd(max: Bool, _ body: (Double, UnsafeRawBufferPointer) -> Void,
                upcoming: (_ next: UnsafeRawBufferPointer, _ afterNext: UnsafeRawBufferPointer?) -> Void = { _, _ in }) -> Bool {
        guard count > 0 else { return false }
        popEnd(from: root, max: max, body, upcoming)
        collapseRoot()
        return true
    }

    /// Returns, for a leaf popped at its end, where its new last element starts (-1 when none is left), so
    /// that its parent need not scan it again for its largest element.
    @discardableResult
    private func popEnd(from n: ScoreNode, max: Bool, _ body: (Double, UnsafeRawBufferPointer) -> Void,
                        _ upcoming: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) -> Int {
        if n.isLeaf {
            // The popped element's offset and, from the top, the two before it (-1: none).
            var from = 0, previous = -1, beforePrevious = -1
            if max {
                from = -1
                n.forEachElement { _, _, p in (beforePrevious, previous, from) = (previous, from, p); return true }
            }
            let (s, member, to) = n.element(at: from)
            body(s, UnsafeRawBufferPointer(rebasing: n.bytes[member]))
            removeElement(n, from, to)
            // The next two at this end: from the bottom the leaf's new first two, from the top the two
            // before the popped one (their offsets did not move).
            let (next, afterNext) = max ? (previous, beforePrevious) : (n.count > 0 ? 0 : -1, n.count > 1 ? n.element(at: 0).next : -1)
            assert(next >= 0 || n.count == 0)
            if next >= 0 {
                let bytes = n.bytes
                upcoming(UnsafeRawBufferPointer(rebasing: bytes[n.element(at: next).member]),
                         afterNext >= 0 ? UnsafeRawBufferPointer(rebasing: bytes[n.element(at: afterNext).member]) : nil)
            }
            return from == 0 ? -1 : previous
        }
        let i = max ? n.children.count - 1 : 0
        let child = n.children[i]
        let newLast = popEnd(from: child, max: max, body, upcoming)
        // From the top, the child's largest is now the element before the popped one; from the bottom it
        // changes only when the child empties (and goes).
        if max && child.count > 0 {
            if child.isLeaf {
                let (s, member, _) = child.element(at: newLast)
                n.maxScores[i] = s
                n.maxMembers[i].replaceSubrange(0..., with: child.bytes[member])  // in place: no allocation a pop
            } else {
                n.refreshMax(i)  // an inner child keeps its largest at hand
            }
        }
        childShrank(n, i, maxChanged: false)
        return -1
    }

    /// Removes the leaf element at bytes from..<to.
    private func removeElement(_ n: ScoreNode, _ from: Int, _ to: Int) {
        let old = n.bytes
        rebuild(n, size: old.count - (to - from)) { out in
            copyBytes(to: out, from: UnsafeRawBufferPointer(rebasing: old[..<from]))
            copyBytes(to: out + from, from: UnsafeRawBufferPointer(rebasing: old[to...]))
        }
        n.count -= 1
    }

    /// After one element left child `i` of `n`: the counts, the child's largest element, an empty child
    /// dropped or a sparse one merged.
    private func childShrank(_ n: ScoreNode, _ i: Int, maxChanged: Bool) {
        let child = n.children[i]
        n.count -= 1
        if child.count == 0 {
            removeChild(n, i)
            if child.isLeaf { leaves -= 1 } else { inners -= 1 }
        } else {
            n.counts[i] = child.count
            if maxChanged { n.refreshMax(i) }
            mergeIfSparse(n, i)
        }
    }

    /// A root left with one child (or none) after removals gives way to it.
    private func collapseRoot() {
        while !root.isLeaf && root.children.count == 1 {
            root = root.children[0]
            inners -= 1
        }
        if !root.isLeaf && root.children.isEmpty {
            root = ScoreNode(leaf: true)
            inners -= 1
            leaves += 1
        }
    }

    private func remove(from n: ScoreNode, _ s: Double, _ m: UnsafeRawBufferPointer) -> Bool {
        if n.isLeaf {
            let (from, equal) = n.seek(s, m)
            guard equal else { return false }
            removeElement(n, from, n.element(at: from).next)
            return true
        }
        guard let i = n.firstChild(where: { es, em in !scoreOrderLess(es, em, s, m) }) else { return false }
        let wasMax = n.isMax(i, s, m)
        guard remove(from: n.children[i], s, m) else { return false }
        childShrank(n, i, maxChanged: wasMax)
        return true
    }

    private func removeChild(_ n: ScoreNode, _ i: Int) {
        n.children.remove(at: i)
        n.counts.remove(at: i)
        n.maxScores.remove(at: i)
        n.maxMembers.remove(at: i)
    }

    /// Merges child `i` of `n` into a neighbour when it fell below a quarter of its bound and the two fit
    /// in three quarters.
    private func mergeIfSparse(_ n: ScoreNode, _ i: Int) {
        guard n.children.count > 1 else { return }
        let j = i + 1 < n.children.count ? i + 1 : i - 1
        let (a, b) = (min(i, j), max(i, j))
        let left = n.children[a], right = n.children[b]
        if left.isLeaf {
            let size = n.children[i].size
            guard size < Self.leafMaxBytes / 4, left.size + right.size <= Self.leafMaxBytes * 3 / 4 else { return }
            let (a, b) = (left.bytes, right.bytes)
            rebuild(left, size: a.count + b.count) { out in
                copyBytes(to: out, from: a)
                copyBytes(to: out + a.count, from: b)
            }
            release(right)
            leaves -= 1
        } else {
            let size = n.children[i].children.count
            guard size < Self.fanout / 4, left.children.count + right.children.count <= Self.fanout * 3 / 4 else { return }
            left.children += right.children
            left.counts += right.counts
            left.maxScores += right.maxScores
            left.maxMembers += right.maxMembers
            inners -= 1
        }
        left.count += right.count
        n.counts[a] = left.count
        n.maxScores[a] = n.maxScores[b]
        n.maxMembers[a] = n.maxMembers[b]
        removeChild(n, b)
    }

    // MARK: Reads

    /// The rank of the first element satisfying `pred` (monotone: false for a prefix of the order, true
    /// after); `count` when none does.
    func rank(ofFirst pred: (Double, UnsafeRawBufferPointer) -> Bool) -> Int {
        var n = root, rank = 0
        while !n.isLeaf {
            guard let i = n.firstChild(where: pred) else { return rank + n.count }
            for k in 0..<i { rank += n.counts[k] }
            n = n.children[i]
        }
        var index = 0
        var found = false
        n.forEachElement { s, m, _ in
            if pred(s, m) { found = true; return false }
            index += 1
            return true
        }
        return rank + (found ? index : n.count)
    }

    /// The leaf holding rank `r` (0 ..< count) and the index of the element in it.
    func locate(_ r: Int) -> (ScoreNode, Int) {
        var n = root, r = r
        while !n.isLeaf {
            var i = 0
            while r >= n.counts[i] {
                r -= n.counts[i]
                i += 1
            }
            n = n.children[i]
        }
        return (n, r)
    }

    /// Calls `body` with the elements from rank `rank`, ascending or (`reverse`) descending, until it
    /// returns false or the elements end.
    func forEach(fromRank rank: Int, reverse: Bool, _ body: (Double, UnsafeRawBufferPointer) -> Bool) {
        var r = rank
        while r >= 0 && r < count {
            let (leaf, index) = locate(r)
            var stop = false
            if reverse {
                var offsets: [Int] = []
                offsets.reserveCapacity(index + 1)
                leaf.forEachElement { _, _, p in offsets.append(p); return offsets.count <= index }
                do {
                    let raw = leaf.bytes
                    for p in offsets.reversed() where !stop {
                        let (s, member, _) = leaf.element(at: p)
                        stop = !body(s, UnsafeRawBufferPointer(rebasing: raw[member]))
                        r -= 1
                    }
                }
            } else {
                var k = 0
                leaf.forEachElement { s, m, _ in
                    defer { k += 1 }
                    guard k >= index else { return true }
                    r += 1
                    if !body(s, m) { stop = true; return false }
                    return true
                }
            }
            if stop { return }
        }
    }

    // MARK: Verify

    func verify() -> String? {
        var previous: (Double, [UInt8])? = nil
        var leafDepth: Int? = nil
        var bytes = 0, leafCount = 0, innerCount = 0
        var blocks: [(UInt32, Int)] = [], external = 0
        func walk(_ n: ScoreNode, depth: Int, isRoot: Bool) -> String? {
            if n.isLeaf {
                leafCount += 1
                bytes += n.size
                let units = n.units
                if units > maxSmallUnits {
                    if n.ref != 0 || n.base == nil { return "a leaf of \(n.size) bytes in the arena" }
                    external += malloc_usable_size(n.base)
                } else if units > 0 {
                    if n.base != arena.pointer(n.ref) { return "a leaf's address is not its block's" }
                    blocks.append((n.ref, units))
                } else if n.ref != 0 || n.base != nil {
                    return "an empty leaf holds a block"
                }
                if let d = leafDepth, d != depth { return "leaves at depths \(d) and \(depth)" }
                leafDepth = depth
                var p = 0, elements = 0
                let leafBytes = Array(n.bytes)
                while p < leafBytes.count {
                    guard p + 8 < leafBytes.count, let (length, i) = readLEB128Checked(leafBytes, at: p + 8) else {
                        return "a leaf element runs past its leaf"
                    }
                    let s = n.element(at: p).score
                    if s.isNaN { return "a NaN score" }
                    let m = Array(leafBytes[i..<(i + length)])
                    if let (ps, pm) = previous {
                        let ordered = pm.withUnsafeBytes { a in m.withUnsafeBytes { b in scoreOrderLess(ps, a, s, b) } }
                        if !ordered { return "elements out of order at '\(String(decoding: m, as: UTF8.self))'" }
                    }
                    previous = (s, m)
                    elements += 1
                    p = i + length
                }
                if elements != n.count { return "a leaf of \(elements) elements says \(n.count)" }
                if elements == 0 && !isRoot { return "an empty leaf" }
                if n.size > Self.leafMaxBytes && elements > 1 { return "a leaf of \(n.size) bytes" }
                return nil
            }
            innerCount += 1
            if n.children.isEmpty { return "an inner node without children" }
            if n.children.count > Self.fanout { return "an inner node of \(n.children.count) children" }
            guard n.counts.count == n.children.count, n.maxScores.count == n.children.count, n.maxMembers.count == n.children.count else {
                return "an inner node's arrays disagree"
            }
            for (i, c) in n.children.enumerated() {
                if let problem = walk(c, depth: depth + 1, isRoot: false) { return problem }
                if n.counts[i] != c.count { return "a child counted \(n.counts[i]) holds \(c.count)" }
                let (s, m) = c.maxElement
                if n.maxScores[i] != s || n.maxMembers[i] != m { return "a child's largest element is stale" }
            }
            if n.counts.reduce(0, +) != n.count { return "an inner node's count is not its children's" }
            return nil
        }
        if let problem = walk(root, depth: 0, isRoot: true) { return "its order: \(problem)" }
        if bytes != leafBytes || leafCount != leaves || innerCount != inners {
            return "its order: totals \(leafBytes) bytes, \(leaves) leaves, \(inners) inner nodes; found \(bytes), \(leafCount), \(innerCount)"
        }
        if external != externalLeafBytes { return "its order: \(externalLeafBytes) bytes of large leaves counted, \(external) held" }
        if let fault = arena.verify(blocks: blocks) { return "its order's arena: \(fault)" }
        return nil
    }
}
