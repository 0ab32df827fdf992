import RESP

// Lists in snapshots, DUMP and RDB files.
//
// Capture: a list of one node is copied under the shard's lock (form byte, count, each element length-
// prefixed). A longer list is not copied: the snapshot holds a duplicate that shares its nodes
// (ListObject.duplicate: copy-on-write node arrays), so the writer about to change the live list copies
// only the node it changes, and the save's stall is the ring's copy, a few bytes per 8 KiB of elements.
// The payload then holds the duplicate's address, kept alive by the save (NestedCaptures.hold).
//
// Written as Redis 7.0 writes a list: RDB_TYPE_LIST_QUICKLIST_2 (18), the node count, then per node the
// container 2 (packed) and the node as Redis' listpack blob: our nodes are cut by Redis' rule, so a
// DUMP of a list is Redis' byte for byte where the elements are short strings (or the bound is a count).
//
// Read: quicklist 2 (18: packed and plain nodes), quicklist (14: ziplist nodes, Redis 3.2-6.2), ziplist
// (10) and linked list (1), the encodings of every Redis since 2.x.

private enum ListForm: UInt8 { case copied = 0, shared = 1 }

extension RDB {
    static let typeList: UInt8 = 1
    static let typeListZiplist: UInt8 = 10
    static let typeListQuicklist: UInt8 = 14
    static let typeListQuicklist2: UInt8 = 18
}

enum ListCodec: ValueCodec {
    static let valueType = ValueType.list
    static let rdbTypes = [RDB.typeList, RDB.typeListZiplist, RDB.typeListQuicklist, RDB.typeListQuicklist2]

    static func capture(_ value: StoredValue, into out: ByteBuffer, nested: NestedCaptures?) {
        let l = value.object as! ListObject
        if let nested, l.nodes.count > 1 {
            out.append(ListForm.shared.rawValue)
            withUnsafeBytes(of: nested.hold(l.duplicate())) { out.append($0) }
            return
        }
        out.append(ListForm.copied.rawValue)
        withUnsafeBytes(of: UInt64(l.nodes.count)) { out.append($0) }
        for i in 0..<l.nodes.count {
            withUnsafeBytes(of: UInt64(l.nodes[i].count)) { out.append($0) }
            _ = l.nodes[i].forEach { _, e in
                withUnsafeBytes(of: UInt32(e.count)) { out.append($0) }
                out.append(e)
                return true
            }
        }
    }

    static func rdbType(of payload: UnsafeRawBufferPointer) -> UInt8 { RDB.typeListQuicklist2 }

    static func writeValue(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) throws {
        if payload[0] == ListForm.shared.rawValue {
            let address = payload.loadUnaligned(fromByteOffset: 1, as: UInt.self)
            let l = Unmanaged<ListObject>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
            writer.appendLength(l.nodes.count)
            for i in 0..<l.nodes.count {
                var elements: [UnsafeRawBufferPointer] = []
                let node = l.nodes[i].plain
                node.bytes.withUnsafeBytes { raw in
                    _ = node.forEach { e, _ in
                        elements.append(UnsafeRawBufferPointer(rebasing: raw[e.start..<(e.start + e.length)]))
                        return true
                    }
                    writeNode(elements, to: writer)
                }
                try writer.flushIfFull()
            }
            return
        }
        // Copied: the nodes as they were, so a DUMP is laid out as Redis lays out the same list.
        var p = 9
        let nodes = Int(payload.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        writer.appendLength(nodes)
        for _ in 0..<nodes {
            let count = Int(payload.loadUnaligned(fromByteOffset: p, as: UInt64.self))
            p += 8
            var elements: [UnsafeRawBufferPointer] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                let n = Int(payload.loadUnaligned(fromByteOffset: p, as: UInt32.self))
                elements.append(UnsafeRawBufferPointer(rebasing: payload[(p + 4)..<(p + 4 + n)]))
                p += 4 + n
            }
            writeNode(elements, to: writer)
        }
    }

    private static func writeNode(_ elements: [UnsafeRawBufferPointer], to writer: RDBWriter) {
        writer.appendLength(2)  // QUICKLIST_NODE_CONTAINER_PACKED
        writer.appendString(listpackBlob(elements))
    }

    static func read(rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> LoadedValue {
        let l = ListObject()
        let shape = ListShape()
        let start = reader.pos
        let what = "the value of key '\(printable(key))'"
        func blob(_ decode: (UnsafeRawBufferPointer) throws -> [[UInt8]]) throws {
            let at = reader.pos
            let b = try reader.string(what, slot: 1)
            let elements: [[UInt8]]
            do { elements = try decode(b) } catch let e as CompactBlobError { throw reader.error("\(what): \(e.reason)", at: at) }
            if elements.isEmpty { throw reader.error("\(what): an empty list node", at: at) }
            for e in elements { e.withUnsafeBytes { l.push($0, front: false, shape: shape) } }
        }
        switch rdbType {
        case RDB.typeListQuicklist2:
            let n = try reader.plainLength("the node count of key '\(printable(key))'")
            for _ in 0..<n {
                let container = try reader.plainLength("a node container of key '\(printable(key))'")
                switch container {
                case 2: try blob(listpackElements)
                case 1: l.push(try reader.string(what, slot: 1), front: false, shape: shape)
                default: throw reader.error("\(what): node container \(container)", at: start)
                }
            }
        case RDB.typeListQuicklist:
            let n = try reader.plainLength("the node count of key '\(printable(key))'")
            for _ in 0..<n { try blob(ziplistElements) }
        case RDB.typeListZiplist:
            try blob(ziplistElements)
        default:
            let n = try reader.plainLength("the element count of key '\(printable(key))'")
            for _ in 0..<n { l.push(try reader.string(what, slot: 1), front: false, shape: shape) }
        }
        if l.isEmpty { throw reader.error("empty list '\(printable(key))'", at: start) }
        return .object(l)
    }
}
