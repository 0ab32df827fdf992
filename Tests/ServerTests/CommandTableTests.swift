import Foundation
import RESP
import Testing

/// COMMAND, as clients use it: redis-cli (whose hints come from COMMAND DOCS), redis-py's command
/// helpers, and proxies' GETKEYS. kvdifftest compares every named COMMAND INFO/DOCS and GETKEYS reply with
/// redis-server's; these check what real clients get from it.
@Suite("The command table", .serialized)
struct CommandTableTests {
    @Test("redis-cli COMMAND INFO set, COMMAND GETKEYS, COMMAND DOCS and COUNT",
          .enabled(if: clientsRequired || toolExists("redis-cli")))
    func redisCli() throws {
        let server = try TestServer()
        defer { server.stop() }
        let cli = redisCliRunner(server)
        // Redis 7.0.15's own answer, line for line.
        #expect(try cli(["COMMAND", "INFO", "set"]) == """
            set
            -3
            write
            denyoom
            1
            1
            1
            @write
            @string
            @slow

            notes
            RW and ACCESS due to the optional `GET` argument
            flags
            RW
            access
            update
            variable_flags
            begin_search
            type
            index
            spec
            index
            1
            find_keys
            type
            range
            spec
            lastkey
            0
            keystep
            1
            limit
            0
            """)
        #expect(try cli(["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"]) == "a\nb")
        #expect(try cli(["COMMAND", "GETKEYS", "object", "encoding", "k"]) == "k")
        #expect(try cli(["COMMAND", "GETKEYSANDFLAGS", "rename", "from", "to"]) == "from\nRW\naccess\ndelete\nto\nOW\nupdate")
        #expect(try cli(["COMMAND", "GETKEYS", "ping"]).contains("wrong number of arguments for 'command|getkeys'"))
        #expect(try cli(["COMMAND", "GETKEYS", "config", "get"]) == "ERR The command has no key arguments")
        #expect(try cli(["COMMAND", "GETKEYS", "nosuch", "x"]) == "ERR Invalid command specified")
        #expect(try cli(["COMMAND", "GETKEYS", "get", "a", "b"]) == "ERR Invalid number of arguments specified for command")
        #expect(try cli(["COMMAND", "INFO", "nosuch"]) == "")
        // RESP3: DOCS is a map of maps; the summary Redis gives.
        let docs = try cli(["-3", "COMMAND", "DOCS", "get"])
        #expect(docs.contains("summary => \"Get the value of a key\"") || docs.contains("Get the value of a key"), "\(docs)")
        // COUNT is the number of top-level commands COMMAND lists, our own (STATS, VERIFY) included.
        let count = Int(try cli(["COMMAND", "COUNT"])) ?? 0
        let listed = try cli(["COMMAND", "LIST"]).split(separator: "\n").filter { !$0.contains("|") }
        #expect(count == listed.count && count > 60)
        #expect(listed.contains("stats") && listed.contains("verify") && !listed.contains("post"))
        #expect(try cli(["COMMAND", "LIST", "FILTERBY", "PATTERN", "GETE*"]) == "getex")
        #expect(try cli(["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"]).contains("client|setname"))
        #expect(try cli(["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]) == "")
    }

    @Test("redis-py 8: command(), command_getkeys, command_count, command_list", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPy() throws {
        _ = try #require(pythonRedisVersion())
        let server = try TestServer()
        defer { server.stop() }
        let script = """
            import sys, redis
            port = int(sys.argv[1])
            for proto in (3, 2):
                r = redis.Redis(host="127.0.0.1", port=port, protocol=proto)
                cmds = r.command()
                assert cmds["get"]["arity"] == 2, cmds["get"]
                assert set(cmds["set"]["flags"]) >= {"write", "denyoom"}, cmds["set"]
                assert cmds["mset"]["step_count"] == 2 and cmds["mset"]["last_key_pos"] == -1, cmds["mset"]
                assert r.command_count() == len(cmds), (r.command_count(), len(cmds))
                text = lambda xs: [x.decode() if isinstance(x, bytes) else x for x in xs]  # RESP2 replies come decoded
                assert text(r.command_getkeys("MSET", "a", "1", "b", "2")) == ["a", "b"]
                assert text(r.command_getkeys("GETEX", "k", "EX", "10")) == ["k"]
                assert sorted(text(r.command_list(pattern="incr*"))) == ["incr", "incrby", "incrbyfloat"]
                r.close()
            print("ok")
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
        #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
    }

    @Test("a handler's error counts as a failed call, a refused command as rejected")
    func failuresComeFromTheHandlersResult() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("SET", "s", "text") == "+OK\r\n")
        #expect(c.call("INCR", "s") == "-ERR value is not an integer or out of range\r\n")
        #expect(c.call("GETRANGE", "s", "x", "1") == "-ERR value is not an integer or out of range\r\n")
        #expect(c.call("GETRANGE", "s", "0") == "-ERR wrong number of arguments for 'getrange' command\r\n")
        #expect(c.call("COMMAND", "GETKEYS", "nosuch", "x") == "-ERR Invalid command specified\r\n")
        let stats = c.call("INFO", "commandstats")
        #expect(stats.contains("cmdstat_incr:calls=1,"))
        #expect(stats.contains("cmdstat_getrange:calls=1,") && stats.contains("rejected_calls=1,failed_calls=1"), "\(stats)")
        #expect(stats.contains("cmdstat_command|getkeys:calls=1,"), "\(stats)")
        let errors = c.call("INFO", "errorstats")
        #expect(errors.contains("errorstat_ERR:count=4"), "\(errors)")
    }
}
