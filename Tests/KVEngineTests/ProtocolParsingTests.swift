import KVEngine
import Testing
import RESP

@Suite("RESP parsing and writing")
struct ProtocolParsingTests {
    func split(_ line: String) -> [String]? {
        var storage: [UInt8] = []
        var spans: [Range<Int>] = []
        guard Array(line.utf8).withUnsafeBytes({ splitInlineArguments($0, into: &storage, &spans) }) else { return nil }
        return spans.map { String(decoding: storage[$0], as: UTF8.self) }
    }

    @Test("inline splitting follows Redis' sdssplitargs")
    func inlineSplitting() {
        #expect(split("  set  k  \"hello world\"  ") == ["set", "k", "hello world"])
        #expect(split("set k 'a b\\'c'") == ["set", "k", "a b'c"])
        #expect(split("set k \"a\\x41\\n\"") == ["set", "k", "aA\n"])
        #expect(split("x \"\\x4\"") == ["x", "x4"])
        #expect(split("x 'a\\nb'") == ["x", "a\\nb"])
        #expect(split("x \"\\q\\\"\"") == ["x", "q\""])
        #expect(split("x \"\"") == ["x", ""])
        #expect(split("a\tb") == ["a", "b"])
        #expect(split("") == [])
        #expect(split("   ") == [])
        #expect(split("\"abc\"def") == nil)
        #expect(split("a\"b\"c") == nil)  // a quote inside a token opens a quoted part; "c" after its close is an error
        #expect(split("'a'b") == nil)
        #expect(split("\"unterminated") == nil)
        #expect(split("'unterminated") == nil)
        #expect(split("a \"x\0y\"") == nil)
        #expect(split("a b\0c d") == ["a", "b"])
    }

    /// Feeding a pipeline one byte at a time yields exactly the commands of feeding it whole.
    @Test("the request parser is incremental at every byte")
    func incrementalParsing() {
        let pipeline = Array("*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\nPING\r\n\r\n*0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\necho 'a b'\n".utf8)
        func parse(chunks: Int) -> [[String]] {
            let buffer = ByteBuffer(capacity: 16)
            var parser = RequestParser()
            var out: [[String]] = []
            var i = 0
            while i < pipeline.count {
                let end = min(pipeline.count, i + chunks)
                pipeline[i..<end].withUnsafeBytes { buffer.append($0) }
                i = end
                while parser.next(buffer) == .command {
                    out.append(parser.arguments.map { String(decoding: $0, as: UTF8.self) })
                    parser.commandDone(buffer)
                }
            }
            #expect(buffer.isEmpty)
            return out
        }
        let whole = parse(chunks: pipeline.count)
        #expect(whole == [["GET", "k\r\n"], ["PING"], ["SET", "k", ""], ["echo", "a b"]])
        for n in 1..<8 { #expect(parse(chunks: n) == whole, "chunks of \(n)") }
    }

    @Test("a whole request reads the same through the one-pass path as through the general one")
    func wholeRequests() {
        // 1024 arguments take the one-pass path, 1025 the general one; an empty argument, a 9-digit-long
        // length line's neighbour (10 bytes), binary bytes.
        for count in [1, 2, 1024, 1025] {
            let args = (0..<count).map { i -> [UInt8] in i % 3 == 0 ? [] : i % 3 == 1 ? Array("\(i)\r\n".utf8) : [UInt8](repeating: 0xFF, count: 10) }
            var request = Array("*\(count)\r\n".utf8)
            for a in args { request += Array("$\(a.count)\r\n".utf8) + a + [0x0D, 0x0A] }
            let buffer = ByteBuffer()
            buffer.append(request + Array("*1\r\n$4\r\nPING\r\n".utf8))
            var parser = RequestParser()
            #expect(parser.next(buffer) == .command)
            #expect(parser.arguments.map { Array($0) } == args, "\(count) arguments")
            parser.commandDone(buffer)
            #expect(parser.next(buffer) == .command)
            #expect(parser.arguments.map { Array($0) } == [Array("PING".utf8)])
            parser.commandDone(buffer)
            #expect(buffer.isEmpty)
        }
    }

    /// The look ahead names the next request's command and first argument only when both are whole in the
    /// buffer, never reads past it, and changes nothing the parser does next.
    @Test("peekNext sees the next request's name and first argument, only when they are whole")
    func peekingAhead() {
        let current = Array("*2\r\n$3\r\nGET\r\n$1\r\na\r\n".utf8)
        let next = Array("*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$1\r\nv\r\n".utf8)
        let nameAndKeyEnd = next.count - 9  // through "key:1" (its CRLF is not needed)
        for cut in 0...next.count {
            let buffer = ByteBuffer()
            buffer.append(current + next[..<cut])
            var parser = RequestParser()
            #expect(parser.next(buffer) == .command)
            let peeked = parser.peekNext(buffer).map { [Array($0.name), Array($0.argument)] + ($0.second.map { [Array($0)] } ?? []) }
            let expected = cut >= next.count - 2 ? [Array("SET".utf8), Array("key:1".utf8), Array("v".utf8)]
                : cut >= nameAndKeyEnd ? [Array("SET".utf8), Array("key:1".utf8)] : nil
            #expect(peeked == expected, "cut at \(cut)")
            #expect(parser.peekNext(buffer)?.third == nil)
            #expect(parser.arguments.map { Array($0) } == [Array("GET".utf8), Array("a".utf8)])
            parser.commandDone(buffer)
            #expect(parser.next(buffer) == (cut == next.count ? .command : .needMore))
        }
        // The third argument (ZADD's member after its score) when the request has one.
        let zadd = ByteBuffer()
        zadd.append(current + Array("*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$2\r\nm1\r\n".utf8))
        var zaddParser = RequestParser()
        #expect(zaddParser.next(zadd) == .command)
        #expect(zaddParser.peekNext(zadd).flatMap { $0.third.map { Array($0) } } == Array("m1".utf8))
        // Past the next request to the one after it (`end`), only when the next is whole and has at most
        // four arguments.
        let sadd = { (m: String) in "*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$\(m.utf8.count)\r\n\(m)\r\n" }
        let two = Array((sadd("m1") + sadd("m22")).utf8)
        for cut in 0...two.count {
            let buffer = ByteBuffer()
            buffer.append(current + two[..<cut])
            var parser = RequestParser()
            #expect(parser.next(buffer) == .command)
            let first = parser.peekNext(buffer)
            #expect(first?.end.map { buffer.readable.baseAddress!.distance(to: $0) }
                    == (cut >= sadd("m1").utf8.count ? current.count + sadd("m1").utf8.count : nil), "cut at \(cut)")
            #expect(parser.nextRequestStart(buffer) == buffer.readable.baseAddress! + current.count)
            let after = first?.end.flatMap { parser.peekNext(buffer, at: $0) }
            #expect(after?.second.map { Array($0) } == (cut >= two.count - 2 ? Array("m22".utf8) : nil), "cut at \(cut)")
            #expect(parser.arguments.map { Array($0) } == [Array("GET".utf8), Array("a".utf8)])
        }
        let five = ByteBuffer()
        five.append(current + Array("*5\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n".utf8) + two)
        var fiveParser = RequestParser()
        #expect(fiveParser.next(five) == .command)
        #expect(fiveParser.peekNext(five)?.third != nil && fiveParser.peekNext(five)?.end == nil)
        for other in ["*1\r\n$4\r\nPING\r\n", "PING k\r\n", "*2\r\n:3\r\n", "*2\r\n$03\r\nGET\r\n$1\r\nk\r\n", ""] {
            let buffer = ByteBuffer()
            buffer.append(current + Array(other.utf8))
            var parser = RequestParser()
            #expect(parser.next(buffer) == .command)
            #expect(parser.peekNext(buffer) == nil, "\(other)")
        }
    }

    @Test("parser limits and errors")
    func limits() {
        func first(_ text: String, authenticated: Bool = true, _ adjust: (inout ProtocolLimits) -> Void = { _ in }) -> ParseStatus {
            var limits = ProtocolLimits()
            adjust(&limits)
            var parser = RequestParser(limits: limits)
            let b = ByteBuffer()
            b.append(Array(text.utf8))
            return parser.next(b, authenticated: authenticated)
        }
        #expect(first("*1\r\n$5\r\n", { $0.maxBulkLength = 4 }) == .error("ERR Protocol error: invalid bulk length"))
        #expect(first("*1\r\n$4\r\n", { $0.maxBulkLength = 4 }) == .needMore)
        #expect(first(String(repeating: "a", count: 101), { $0.inlineMax = 100 }) == .error("ERR Protocol error: too big inline request"))
        #expect(first(String(repeating: "a", count: 100), { $0.inlineMax = 100 }) == .needMore)
        #expect(first("*" + String(repeating: "1", count: 101), { $0.inlineMax = 100 }) == .error("ERR Protocol error: too big mbulk count string"))
        #expect(first("*11\r\n", authenticated: false) == .error("ERR Protocol error: unauthenticated multibulk length"))
        #expect(first("*10\r\n", authenticated: false) == .needMore)
        #expect(first("*1\r\n$16385\r\n", authenticated: false) == .error("ERR Protocol error: unauthenticated bulk length"))
        #expect(first("*1\r\n:1\r\n") == .error("ERR Protocol error: expected '$', got ':'"))
        // Length lines at the edges of the one-pass reading of digits: leading zeros, a stray byte, a line
        // cut before or after its CR, no digits, more digits than it reads.
        #expect(first("*01\r\n") == .error("ERR Protocol error: invalid multibulk length"))
        #expect(first("*1\r\n$03\r\n") == .error("ERR Protocol error: invalid bulk length"))
        #expect(first("*1\r\n$3x\r\n") == .error("ERR Protocol error: invalid bulk length"))
        #expect(first("*1\r\n$\r\n") == .error("ERR Protocol error: invalid bulk length"))
        #expect(first("*1\r\n$4") == .needMore && first("*1\r\n$4\r") == .needMore && first("*1") == .needMore)
        #expect(first("*1\r\n$0\r\n\r\n") == .command && first("*1\r\n$10\r\n0123456789\r\n") == .command)
        #expect(first("*1\r\n$1234567890123456789\r\n") == .error("ERR Protocol error: invalid bulk length"))
    }

    @Test("replies in RESP2 and RESP3")
    func replies() throws {
        func bytes(_ resp3: Bool, _ write: (ReplyWriter) -> Void) -> String {
            let b = ByteBuffer()
            write(ReplyWriter(buffer: b, resp3: resp3))
            return String(decoding: b.readable, as: UTF8.self)
        }
        #expect(bytes(false) { $0.null() } == "$-1\r\n")
        #expect(bytes(true) { $0.null() } == "_\r\n")
        #expect(bytes(false) { $0.mapHeader(2) } == "*4\r\n")
        #expect(bytes(true) { $0.mapHeader(2) } == "%2\r\n")
        #expect(bytes(false) { $0.double(Array("1.5".utf8)) } == "$3\r\n1.5\r\n")
        #expect(bytes(true) { $0.double(Array("1.5".utf8)) } == ",1.5\r\n")
        #expect(bytes(false) { $0.boolean(true) } == ":1\r\n")
        #expect(bytes(true) { $0.boolean(false) } == "#f\r\n")
        #expect(bytes(false) { $0.integer(Int64.min) } == ":-9223372036854775808\r\n")
        #expect(bytes(false) { $0.error("ERR a\r\nb") } == "-ERR a  b\r\n")
        #expect(bytes(true) { $0.verbatim("hi") } == "=6\r\ntxt:hi\r\n")
        // And back through the client-side parser.
        let text = Array("%1\r\n$1\r\nk\r\n*2\r\n:1\r\n_\r\n".utf8)
        let parsed = try text.withUnsafeBytes { try parseReply($0) }
        #expect(parsed?.0 == .map([(.bulk(Array("k".utf8)), .array([.integer(1), .null]))]))
        #expect(parsed?.1 == text.count)
        #expect(try text.dropLast().withUnsafeBytes { try parseReply($0) } == nil)
    }
}
