// Statistics of the values that are maps inside the map (hashes, sets and sorted sets in their hash-table
// form, and the compact ones beside them), of the lists' nodes and of the sorted sets' trees, for STATS, kvcli stats and /metrics. Gathered by walking the keyspace,
// a shard at a time under its read lock: O(keys), for a person's question, not for every request.

public struct InnerMapStatistics: Sendable {
    /// Values by OBJECT ENCODING ("listpack", "intset", "hashtable").
    public var byEncoding: [String: Int] = [:]
    /// Values in the hash-table form (each its own HashMap).
    public var maps = 0
    public var entries = 0
    public var buckets = 0
    public var overflowBuckets = 0
    public var growing = 0
    public var bytes = 0
    /// Lists: their elements and the quicklist nodes holding them.
    public var listElements = 0
    public var listNodes = 0
    /// Sorted sets: their elements, and the leaves of the large ones' trees (ScoreTree.swift).
    public var zsetElements = 0
    public var zsetTreeLeaves = 0
    /// The largest values: key, type, element count (at most 5, largest first).
    public var largest: [(key: [UInt8], type: String, count: Int)] = []
}

extension Store {
    public func innerMapStatistics() -> InnerMapStatistics {
        var st = InnerMapStatistics()
        for s in shards {
            s.lock.withReadLock {
                s.map.forEachEntry { k, v, _ in
                    guard v.type != .string else { return }
                    let o = v.object
                    st.byEncoding[o.encodingName, default: 0] += 1
                    st.bytes += v.isInline ? v.bytes.count : o.memoryBytes
                    let n = o.count
                    if let l = o as? ListObject {
                        st.listElements += n
                        st.listNodes += l.nodeCount
                    }
                    if let z = o as? SortedSetObject {
                        st.zsetElements += n
                        st.zsetTreeLeaves += z.tree?.leaves ?? 0
                    }
                    if let table = o.innerMap {
                        let m = table.summary()
                        st.maps += 1
                        st.entries += m.count
                        st.buckets += m.buckets + m.oldBuckets
                        st.overflowBuckets += m.overflowBuckets
                        if m.growth != .none { st.growing += 1 }
                    }
                    if st.largest.count < 5 || n > st.largest[st.largest.count - 1].count {
                        st.largest.append((Array(k), v.type.name, n))
                        st.largest.sort { $0.count > $1.count }
                        if st.largest.count > 5 { st.largest.removeLast() }
                    }
                }
            }
        }
        return st
    }
}
