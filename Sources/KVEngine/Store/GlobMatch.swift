// Redis' glob patterns (util.c stringmatchlen), for KEYS and SCAN MATCH:
//   *  any run of bytes       ?  any one byte        \x  x itself
//   [abc] one of, [^abc] none of, [a-z] a range (reversed ranges work), \ escapes inside brackets;
//   a bracket left open runs to the end of the pattern.
// Matching is by bytes (binary-safe). '*' backtracks only to the most recent star, so the cost is
// O(pattern x string) at worst, never exponential.
//
// As stringmatchlen, the empty string matches only the empty pattern ("*" does not match it: Redis'
// loop never runs), so PUBLISH to "" reaches no pattern subscriber. KEYS and SCAN treat a lone "*" as
// every key before matching (`matchesEverything`), as Redis does, so they list the key "".

public struct GlobPattern: Sendable {
    let pattern: [UInt8]
    public let matchesEverything: Bool

    public init(_ pattern: [UInt8]) {
        self.pattern = pattern
        matchesEverything = pattern == [UInt8(ascii: "*")]
    }

    public func matches(_ s: UnsafeRawBufferPointer) -> Bool {
        if s.isEmpty { return pattern.isEmpty }
        if matchesEverything { return true }
        return pattern.withUnsafeBufferPointer { p in
            var pi = 0
            var si = 0
            var starP = -1
            var starS = 0
            while si < s.count || pi < p.count {
                if pi < p.count {
                    let c = p[pi]
                    if c == UInt8(ascii: "*") {
                        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
                        if pi == p.count { return true }
                        starP = pi
                        starS = si
                        continue
                    }
                    if si < s.count, let next = Self.matchOne(p, pi, s[si]) {
                        pi = next
                        si += 1
                        continue
                    }
                }
                // Mismatch: let the last star swallow one more byte, or fail.
                guard starP >= 0, starS < s.count else { return false }
                starS += 1
                si = starS
                pi = starP
            }
            return true
        }
    }

    public func matches(_ s: [UInt8]) -> Bool { s.withUnsafeBytes { matches($0) } }

    /// If the pattern element at `pi` matches byte `b`, the index after that element.
    private static func matchOne(_ p: UnsafeBufferPointer<UInt8>, _ pi: Int, _ b: UInt8) -> Int? {
        let c = p[pi]
        switch c {
        case UInt8(ascii: "?"):
            return pi + 1
        case UInt8(ascii: "\\") where pi + 1 < p.count:
            return p[pi + 1] == b ? pi + 2 : nil
        case UInt8(ascii: "["):
            var i = pi + 1
            let negate = i < p.count && p[i] == UInt8(ascii: "^")
            if negate { i += 1 }
            var matched = false
            while i < p.count && p[i] != UInt8(ascii: "]") {
                if p[i] == UInt8(ascii: "\\") && i + 1 < p.count {
                    i += 1
                    if p[i] == b { matched = true }
                } else if i + 2 < p.count && p[i + 1] == UInt8(ascii: "-") {
                    var lo = p[i]
                    var hi = p[i + 2]
                    if lo > hi { swap(&lo, &hi) }
                    if b >= lo && b <= hi { matched = true }
                    i += 2
                } else if p[i] == b {
                    matched = true
                }
                i += 1
            }
            // i is at ']' or past the end (an open bracket runs to the end, as in Redis).
            return matched != negate ? Swift.min(i + 1, p.count) : nil
        default:
            return c == b ? pi + 1 : nil
        }
    }
}
