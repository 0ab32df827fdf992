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
