import Testing
import KVEngine
import RESP
import Glibc

@Suite struct GlobAndNumberTests {
    @Test(arguments: [
        ("*", "anything", true), ("*", "", false), ("**", "", false), ("?", "", false), ("h?llo", "hello", true), ("h?llo", "hllo", false),
        ("h*llo", "heeeello", true), ("h*llo", "hello world", false), ("h[ae]llo", "hallo", true),
        ("h[ae]llo", "hillo", false), ("h[^e]llo", "hallo", true), ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true), ("h[b-a]llo", "hallo", true), ("h[a-b]llo", "hcllo", false),
        ("\\*", "*", true), ("\\*", "a", false), ("a\\?b", "a?b", true), ("user:*:name", "user:42:name", true),
        ("*a*b*c*", "xxaxxbxxcxx", true), ("*a*b*c*", "xxaxxcxxbxx", false), ("[abc", "b", true),
        ("", "", true), ("", "a", false), ("a*", "a", true), ("**", "x", true),
    ])
    func globMatchesLikeRedis(pattern: String, subject: String, expected: Bool) {
        #expect(GlobPattern(bytes(pattern)).matches(bytes(subject)) == expected)
    }

    @Test func globIsBinarySafe() {
        #expect(GlobPattern([0, UInt8(ascii: "*")]).matches([0, 1, 2]))
        #expect(!GlobPattern([0, UInt8(ascii: "*")]).matches([1, 0]))
    }

    @Test func globDoesNotBlowUp() {
        let pattern = GlobPattern(bytes(String(repeating: "a*", count: 30) + "b"))
        #expect(!pattern.matches(bytes(String(repeating: "a", count: 5000))))
    }

    @Test func integerParsingIsStrict() {
        #expect(parseInt64(bytes("9223372036854775807")) == Int64.max)
        #expect(parseInt64(bytes("-9223372036854775808")) == Int64.min)
        #expect(parseInt64(bytes("9223372036854775808")) == nil)
        #expect(parseInt64(bytes("0")) == 0)
        for bad in ["", "-", "+5", "05", "-0", " 5", "5 ", "5a", "1e3", "0x10"] { #expect(parseInt64(bytes(bad)) == nil, "\(bad)") }
    }

    /// parseDouble reads small integers without strtod; every result must still be strtod's.
    @Test func scoresParseAsStrtodDoes() {
        func strtodValue(_ s: String) -> Double? {
            var end: UnsafeMutablePointer<CChar>? = nil
            return s.withCString { p in
                let v = strtod(p, &end)
                return end == UnsafeMutablePointer(mutating: p) + s.utf8.count && !s.isEmpty ? v : nil
            }
        }
        var texts = ["0", "-0", "007", "-007", "1", "-1", "999999999999999", "-999999999999999", "1000000000000000",
                     "9007199254740993", "-9007199254740993", "12345678901234567890", "-", "--1", "1-", "+5", "1.5", "1e3",
                     "inf", "-inf", "0x10", "5a", ""]
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let digits = Int(rng.next() % 18) + 1
            texts.append((rng.next() % 2 == 0 ? "-" : "") + String((0..<digits).map { _ in Character(String(rng.next() % 10)) }))
        }
        for t in texts {
            let ours = parseDouble(bytes(t)), theirs = strtodValue(t)
            #expect(ours?.bitPattern == theirs?.bitPattern, "\(t)")
        }
    }

    @Test func floatsFormatAsRedisDoes() {
        func fmt(_ v: LongDouble) -> String { String(decoding: formatLongDouble(v)!, as: UTF8.self) }
        #expect(fmt(10.5) == "10.5")
        #expect(fmt(3) == "3")
        #expect(fmt(-0.0) == "0")
        #expect(fmt(5200) == "5200")
        #expect(parseLongDouble(bytes("5.0e3")) == 5000)
        #expect(parseLongDouble(bytes(" 1")) == nil)
        #expect(parseLongDouble(bytes("nan")) == nil)
        #expect(parseLongDouble(bytes("1x")) == nil)
        #expect(parseLongDouble(bytes("")) == nil)
    }
}
