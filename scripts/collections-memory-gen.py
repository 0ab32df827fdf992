# RESP streams for the memory figures: argv[1] = which, writes to stdout.
import sys
def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
w = sys.stdout.buffer
which = sys.argv[1]
if which == "hashes":      # 1M hashes of 10 fields, 16-byte fields and values
    for i in range(1_000_000):
        args = ["HSET", "hash:%011d" % i]
        for j in range(10): args += ["field:%010d" % j, "value:%010d" % (i + j)]
        w.write(cmd(*args))
elif which == "hashes-random":  # the same with fields and values of 16 random hex digits: nothing to front-code
                                # (but digits: packed two to a byte, Values/SymbolPacking.swift)
    import random
    r = random.Random(1)
    for i in range(1_000_000):
        args = ["HSET", "hash:%011d" % i]
        for j in range(10): args += ["%016x" % r.getrandbits(64), "%016x" % r.getrandbits(64)]
        w.write(cmd(*args))
elif which == "bighash":   # 1 hash of 10M fields
    for i in range(0, 10_000_000, 1000):
        args = ["HSET", "bighash"]
        for j in range(i, i + 1000): args += ["field:%010d" % j, "value:%010d" % j]
        w.write(cmd(*args))
elif which == "sets":      # 1M sets of 10 small integers
    for i in range(1_000_000):
        w.write(cmd("SADD", "set:%011d" % i, *[(i + j) % 1000 for j in range(10)]))
elif which == "bigset":    # 1 set of 10M members (16-byte strings)
    for i in range(0, 10_000_000, 1000):
        w.write(cmd("SADD", "bigset", *["member:%09d" % j for j in range(i, i + 1000)]))
elif which == "lists":     # 1M lists of 10 16-byte elements
    for i in range(1_000_000):
        w.write(cmd("RPUSH", "list:%011d" % i, *["element:%08d" % ((i + j) % 100_000_000) for j in range(10)]))
elif which == "biglist":   # 1 list of 10M 16-byte elements
    for i in range(0, 10_000_000, 1000):
        w.write(cmd("RPUSH", "biglist", *["element:%08d" % j for j in range(i, i + 1000)]))
elif which == "zsets":     # 1M sorted sets of 10 16-byte members, integer scores
    for i in range(1_000_000):
        args = ["ZADD", "zset:%011d" % i]
        for j in range(10): args += [(i * 31 + j * 7) % 100_000, "member:%09d" % ((i + j) % 1_000_000_000)]
        w.write(cmd(*args))
elif which == "zsets-random":  # the same with members of 16 random hex digits
    import random
    r = random.Random(2)
    for i in range(1_000_000):
        args = ["ZADD", "zset:%011d" % i]
        for j in range(10): args += [(i * 31 + j * 7) % 100_000, "%016x" % r.getrandbits(64)]
        w.write(cmd(*args))
elif which in ("hashes-alnum", "zsets-alnum"):  # the same with 16 random letters and digits: packed 6 bits each
    import random, string
    r = random.Random(3)
    alnum = string.ascii_letters + string.digits
    name = lambda: "".join(r.choice(alnum) for _ in range(16))
    for i in range(1_000_000):
        if which == "hashes-alnum":
            args = ["HSET", "hash:%011d" % i]
            for j in range(10): args += [name(), name()]
        else:
            args = ["ZADD", "zset:%011d" % i]
            for j in range(10): args += [(i * 31 + j * 7) % 100_000, name()]
        w.write(cmd(*args))
elif which == "bigzset":   # 1 sorted set of 10M 16-byte members, integer scores in no particular order
    for i in range(0, 10_000_000, 1000):
        args = ["ZADD", "bigzset"]
        for j in range(i, i + 1000): args += [(j * 7919) % 1_000_003, "member:%09d" % j]
        w.write(cmd(*args))
