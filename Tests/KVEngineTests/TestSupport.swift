import KVEngine

/// A small, fast, seedable generator so that every randomized test replays exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

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
