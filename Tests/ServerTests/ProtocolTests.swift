import Foundation
import Glibc
import RESP
import Testing

@Suite("Protocol", .serialized)
struct ProtocolTests {
    @Test("inline commands: telnet line endings, Redis' quoting, blank lines ignored")
    func inline() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        c.send("  set  k  \"hello world\"  \r\n")
        #expect(c.read() == "+OK\r\n")
        c.send("get k\n")
        #expect(c.read() == "$11\r\nhello world\r\n")
        c.send("\r\n\r\nPING\r\n")
        #expect(c.read() == "+PONG\r\n")
        c.send("set k 'a b\\'c'\r\nget k\r\n")
        #expect(c.read() == "+OK\r\n")
        #expect(c.read() == "$5\r\na b'c\r\n")
        c.send("set k \"a\\x41\\n\"\r\nget k\r\n")
        #expect(c.read() == "+OK\r\n")
        #expect(c.read() == "$3\r\naA\n\r\n")
        c.send("set k ''\r\nstrlen k\r\n")
        #expect(c.read() == "+OK\r\n")
        #expect(c.read() == ":0\r\n")
        c.send("set k 'a\\nb'\r\nstrlen k\r\n")
        #expect(c.read() == "+OK\r\n")
        #expect(c.read() == ":4\r\n")
        // `$3` starts an inline command, not a bulk.
        c.send("$3\r\nfoo\r\n")
        #expect(c.read() == "-ERR unknown command '$3', with args beginning with: \r\n")
        #expect(c.read() == "-ERR unknown command 'foo', with args beginning with: \r\n")
        // Unbalanced quotes: replies to earlier commands, then the error, then the close.
        c.send("PING\r\nset k \"abc\"def\r\nPING\r\n")
        #expect(c.read() == "+PONG\r\n")
        #expect(c.read() == "-ERR Protocol error: unbalanced quotes in request\r\n")
        #expect(c.isClosedByServer())
    }

    /// Each malformed request gets Redis' exact words and the connection closes; replies to the commands
    /// before it still arrive; the server and other clients carry on.
    @Test("protocol errors", arguments: [
        ("*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        ("*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        ("*1\r\nPING\r\n", "-ERR Protocol error: expected '$', got 'P'\r\n"),
        ("*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        ("*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        ("*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        ("set a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
        ("set a 'b'c\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ])
    func protocolErrors(request: String, expected: String) throws {
        let server = try TestServer()
        defer { server.stop() }
        let other = try server.client()
        #expect(other.call("SET", "keep", "1") == "+OK\r\n")
        let c = try server.client()
        c.send("PING\r\n*1\r\n$4\r\nPING\r\n" + request + "PING\r\n")
        #expect(c.read() == "+PONG\r\n")
        #expect(c.read() == "+PONG\r\n")
        #expect(c.read() == expected)
        #expect(c.isClosedByServer())
        #expect(other.call("GET", "keep") == "$1\r\n1\r\n")
    }

    @Test("requests Redis ignores: *0, *-1, and the two bytes after a bulk are not checked")
    func ignoredRequests() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        c.send("*0\r\n*-1\r\n*1\r\n$4\r\nPINGXX\r\n")
        #expect(c.read() == "+PONG\r\n")
        #expect(c.call("PING") == "+PONG\r\n")
    }

    @Test("an HTTP request is dropped without a reply (cross-protocol guard)")
    func crossProtocol() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        c.send("POST / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.readUntilClosed() == "")
        #expect(c.eof)
        #expect(server.log.contains("Possible SECURITY ATTACK detected"))
    }

    /// The same pipeline split at every byte boundary gives the same replies: the parser keeps its
    /// progress across reads, whatever the split.
    @Test("every request split at every byte boundary", arguments: allBackends)
    func splitRequests(backend: String) throws {
        let server = try TestServer(backend: backend)
        defer { server.stop() }
        let pipeline = encodeCommand(["SET", "split", "va\r\nlue"]) + Array("GET split\r\n".utf8)
            + encodeCommand(["MSET", "a", "1", "b", "22"]) + Array("\r\n".utf8) + encodeCommand(["MGET", "a", "b", "split"])
            + Array("PING \"x y\"\r\n".utf8)
        let expected = "+OK\r\n$7\r\nva\r\nlue\r\n+OK\r\n*3\r\n$1\r\n1\r\n$2\r\n22\r\n$7\r\nva\r\nlue\r\n$3\r\nx y\r\n"
        let c = try server.client()
        for cut in 1..<pipeline.count {
            c.send(Array(pipeline[0..<cut]))
            usleep(200)
            c.send(Array(pipeline[cut...]))
            var got = ""
            for _ in 0..<5 { got += c.read() }
            #expect(got == expected, "split at \(cut)")
        }
    }

    @Test("10,000 pipelined commands in one write, replies in order")
    func pipelining() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        var batch: [UInt8] = []
        for i in 0..<10_000 {
            batch += encodeCommand(i % 2 == 0 ? ["INCR", "counter"] : ["SET", "k\(i)", "v\(i)"])
        }
        c.send(batch)
        var incr = 0
        for i in 0..<10_000 {
            let r = c.read()
            if i % 2 == 0 {
                incr += 1
                #expect(r == ":\(incr)\r\n")
                if r != ":\(incr)\r\n" { return }
            } else {
                #expect(r == "+OK\r\n")
            }
        }
        #expect(c.call("DBSIZE") == ":5001\r\n")
        #expect(c.call("GET", "k9999") == "$5\r\nv9999\r\n")
    }

    /// Pipelines of one command on one key take the look ahead's same-key path (the next two requests' fields
    /// or members prefetched in the value's inner map): the values grow past their compact forms, the ZADDs mix
    /// options in (which shift the member's position: the hint then names something else), and every reply,
    /// the contents and VERIFY come out as without a pipeline.
    @Test("same-key pipelines of HSET, SADD and ZADD (with options) give the same replies and contents")
    func sameKeyPipelines() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        let n = 3000
        var batch: [UInt8] = []
        var expected: [String] = []
        for i in 0..<n {
            batch += encodeCommand(["HSET", "h", "f\(i % 2000)", "v\(i)"])
            expected.append(i < 2000 ? ":1\r\n" : ":0\r\n")
        }
        for i in 0..<n {
            batch += encodeCommand(["SADD", "s", "m\(i % 2000)"])
            expected.append(i < 2000 ? ":1\r\n" : ":0\r\n")
        }
        for i in 0..<n {
            switch i % 3 {
            case 0:
                batch += encodeCommand(["ZADD", "z", "\(i)", "m\(i)"])
                expected.append(":1\r\n")
            case 1:
                batch += encodeCommand(["ZADD", "z", "NX", "CH", "\(i)", "m\(i - 1)"])  // present: NX skips it
                expected.append(":0\r\n")
            default:
                batch += encodeCommand(["ZADD", "z", "XX", "CH", "-\(i)", "m\(i - 2)"])  // present: score changes
                expected.append(":1\r\n")
            }
        }
        c.send(batch)
        for (i, e) in expected.enumerated() {
            let r = c.read()
            #expect(r == e, "reply \(i)")
            if r != e { return }
        }
        #expect(c.call("HLEN", "h") == ":2000\r\n")
        #expect(c.call("HGET", "h", "f5") == "$5\r\nv2005\r\n")
        #expect(c.call("SCARD", "s") == ":2000\r\n")
        #expect(c.call("ZCARD", "z") == ":1000\r\n")
        #expect(c.call("ZSCORE", "z", "m0") == "$2\r\n-2\r\n")
        #expect(c.call("ZRANGE", "z", "0", "0") == "*1\r\n$5\r\nm2997\r\n")
        #expect(c.call("OBJECT", "ENCODING", "z") == "$8\r\nskiplist\r\n")
        #expect(c.call("VERIFY") == "+OK\r\n")
    }

    @Test("binary-safe keys and values, large values")
    func binarySafe() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        let key: [UInt8] = [0, 1, 2, 13, 10, 255]
        let value = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        c.send(encodeCommand([key, value]))  // unknown command with binary name
        // CR and LF inside the arguments become spaces: the error stays one line.
        let unknown = c.read()
        #expect(unknown.hasPrefix("-ERR unknown command '") && unknown.utf8.filter { $0 == 10 }.count == 1)
        c.send(encodeCommand([Array("SET".utf8), key, value]))
        #expect(c.read() == "+OK\r\n")
        c.send(encodeCommand([Array("GET".utf8), key]))
        let reply = c.readRaw()
        #expect(reply == Array("$3000000\r\n".utf8) + value + [13, 10], "GET returned \(reply?.count ?? -1) bytes")
    }

    @Test("protocol garbage: the server stays up and other clients are unaffected")
    func garbage() throws {
        let server = try TestServer()
        defer { server.stop() }
        let good = try server.client()
        #expect(good.call("SET", "safe", "1") == "+OK\r\n")
        var rng = SplitMix64Test(seed: 42)
        for round in 0..<50 {
            let c = try server.client()
            var junk = (0..<Int(rng.next() % 4096)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 3 == 0 { junk.insert(UInt8(ascii: "*"), at: 0) }
            c.send(junk)
            c.close()
        }
        #expect(good.call("GET", "safe") == "$1\r\n1\r\n")
        #expect(good.call("PING") == "+PONG\r\n")
        #expect(server.isRunning)
    }
}

struct SplitMix64Test {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
