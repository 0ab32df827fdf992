import Glibc
import KVEngine

// kvbench cache: a cache-aside workload against a server with a memory limit (ours or redis-server:
// scripts/cache-bench runs both side by side). Keys are drawn from a universe of `keys` 16-byte keys with a
// Zipf distribution of exponent `alpha` (rank r with probability proportional to r^-alpha, the ranks
// shuffled over the keys); each request GETs its key and SETs a 16-byte value on a miss. Requests go in
// pipelined batches: a batch's GETs, then the SETs of its misses. The first `warmup` requests warm the
// cache; the miss ratio is that of the rest. The trace is the same for a given seed, whatever the server.
//
// Harder variants: `oneHit` is the share of requests for keys never seen before and never seen again;
// `scan` is the share of the universe read in one sequential pass (GET, SET on a miss) every million
// requests. The floor is the share of measured requests whose key had never been requested before: no
// policy can hit those.

struct CacheBench {
    let port: Int
    let keys: Int
    let alpha: Double
    let warmup: Int
    let measured: Int
    let oneHit: Double
    let scan: Double
    let seed: UInt64

    /// The key of id `i`: "key:" and 12 digits, 16 bytes.
    static func key(_ i: Int) -> [UInt8] {
        var k = Array("key:000000000000".utf8)
        var v = i
        var p = 15
        while v > 0 && p >= 4 {
            k[p] = UInt8(48 + v % 10)
            v /= 10
            p -= 1
        }
        return k
    }

    /// The request stream: key ids, `warmup + measured` of them plus the scans' requests.
    func trace() -> [Int] {
        var rng = SplitMix64(seed: seed)
        var cdf = [Double](repeating: 0, count: keys)
        var sum = 0.0
        for r in 0..<keys {
            sum += pow(Double(r + 1), -alpha)
            cdf[r] = sum
        }
        var permutation = Array(0..<keys)
        for i in stride(from: keys - 1, to: 0, by: -1) { permutation.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var out: [Int] = []
        out.reserveCapacity(warmup + measured + Int(scan * Double(keys)) * ((warmup + measured) / 1_000_000 + 1))
        var fresh = keys
        var scanStart = 0
        let scanLength = Int(scan * Double(keys))
        for i in 0..<(warmup + measured) {
            if i > 0 && i % 1_000_000 == 0 && scanLength > 0 {
                for j in 0..<scanLength { out.append((scanStart + j) % keys) }
                scanStart = (scanStart + scanLength) % keys
            }
            if oneHit > 0 && Double(rng.next() >> 11) * 0x1.0p-53 < oneHit {
                out.append(fresh)
                fresh += 1
                continue
            }
            let u = Double(rng.next() >> 11) * 0x1.0p-53 * sum
            var lo = 0, hi = keys - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            out.append(permutation[lo])
        }
        return out
    }

    func run() {
        let requests = trace()
        let measuredFrom = requests.count - measured
        guard let c = PipelineConnection(port: port) else { print("cache: cannot connect to port \(port)"); exit(1) }
        var seen = Set<Int>()
        var misses = 0, compulsory = 0
        let batch = 512
        let value = Array("vvvvvvvvvvvvvvvv".utf8)
        let start = monotonicSeconds()
        var i = 0
        while i < requests.count {
            let end = min(i + batch, requests.count)
            for j in i..<end { c.append(["GET".utf8.map { $0 }, CacheBench.key(requests[j])]) }
            c.flush()
            var missed: [Int] = []
            for j in i..<end {
                guard let hit = c.readBulkPresence() else { print("cache: connection lost"); exit(1) }
                if !hit {
                    missed.append(requests[j])
                    if j >= measuredFrom { misses += 1 }
                }
                if j >= measuredFrom && !seen.contains(requests[j]) { compulsory += 1 }
                seen.insert(requests[j])
            }
            for k in missed { c.append(["SET".utf8.map { $0 }, CacheBench.key(k), value]) }
            c.flush()
            for _ in missed { guard c.skipReply() else { print("cache: connection lost"); exit(1) } }
            i = end
        }
        let seconds = monotonicSeconds() - start
        print(String(format: "cache: alpha %.2f one-hit %.2f scan %.3f: %d measured requests, miss ratio %.4f (floor %.4f), %.0f requests/s",
                     alpha, oneHit, scan, measured, Double(misses) / Double(measured), Double(compulsory) / Double(measured),
                     Double(requests.count) / seconds))
    }

    /// SETs keys 0..<n (pipelined), to calibrate a memory limit that holds n keys.
    static func fill(port: Int, count: Int) {
        guard let c = PipelineConnection(port: port) else { print("cache: cannot connect to port \(port)"); exit(1) }
        let value = Array("vvvvvvvvvvvvvvvv".utf8)
        var i = 0
        while i < count {
            let end = min(i + 256, count)
            for k in i..<end { c.append(["SET".utf8.map { $0 }, key(k), value]) }
            c.flush()
            for _ in i..<end { guard c.skipReply() else { exit(1) } }
            i = end
        }
    }
}

private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A pipelining client: requests are appended to one buffer and sent together; replies are read in order.
/// Knows only the replies a cache sees (bulk strings, nulls, status and error lines).
final class PipelineConnection {
    private let fd: Int32
    private var out: [UInt8] = []
    private var input: [UInt8] = []
    private var position = 0

    init?(port: Int) {
        guard let fd = connectLoopback(port: port) else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    func append(_ args: [[UInt8]]) {
        out += Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
    }

    func flush() {
        var off = 0
        while off < out.count {
            let n = out[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
        out.removeAll(keepingCapacity: true)
    }

    /// Reads one reply: true for a bulk string, false for a null; nil when the connection ends or the reply
    /// is an error.
    func readBulkPresence() -> Bool? {
        guard let line = readLine() else { return nil }
        switch line.first {
        case UInt8(ascii: "$"):
            let n = Int(String(decoding: line.dropFirst(), as: UTF8.self)) ?? -1
            if n < 0 { return false }
            guard need(n + 2) else { return nil }
            position += n + 2
            return true
        case UInt8(ascii: "_"): return false
        default: return nil
        }
    }

    /// Reads one status, integer or error reply; false when the connection ends.
    func skipReply() -> Bool { readLine() != nil }

    private func need(_ n: Int) -> Bool {
        while input.count - position < n {
            if position > 0 {
                input.removeFirst(position)
                position = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return false }
            input += chunk[0..<got]
        }
        return true
    }

    private func readLine() -> ArraySlice<UInt8>? {
        var i = position
        while true {
            while i + 1 < input.count {
                if input[i] == 13 && input[i + 1] == 10 {
                    let line = input[position..<i]
                    position = i + 2
                    return line
                }
                i += 1
            }
            let scanned = i - position
            guard need(input.count - position + 1) else { return nil }
            i = position + scanned
        }
    }
}
