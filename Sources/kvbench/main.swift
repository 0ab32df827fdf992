import Glibc

// kvbench: the engine's benchmarks. Figures, not pass/fail: see README.md.
//   kvbench map   [--keys N[,N...]] [--csv] [--ours-only]  HashMap vs Dictionary<[UInt8], [UInt8]> (--ours-only: no
//                                                          Dictionary side, for profiling the map alone)
//   kvbench store [--keys N[,N...]] [--threads 1,2] [--shards 16] [--csv]   Store vs Dictionary behind one lock
//   kvbench encodings [--sizes N[,N...]]                  hashes' and sets' compact forms vs their map form
//   kvbench queue --port P [--producers 50] [--consumers 50] [--messages 200000]   LPUSH/BRPOP job queue
//   kvbench cache --port P [--alpha 1.0] [--one-hit 0] [--scan 0] ...   cache-aside miss ratio (CacheBench.swift)
//   kvbench flood --port P [--clients 50] [--seconds 10] [--maxmemory 256mb] [--lower-to 64mb]   the limit under load
//   kvbench hints                                          what a pipeline's look ahead buys (HintBench.swift)

let usage = """
    usage: kvbench map   [--keys N[,N...]] [--csv] [--ours-only]
           kvbench store [--keys N[,N...]] [--threads T[,T...]] [--shards S] [--csv]
           kvbench encodings [--sizes N[,N...]]
           kvbench queue --port P [--producers N] [--consumers N] [--messages N]
           kvbench cache --port P [--alpha A] [--one-hit F] [--scan F] [--keys N] [--warmup N] [--requests N] [--seed N]
           kvbench cache --port P --fill N
           kvbench flood --port P [--clients N] [--seconds S] [--maxmemory BYTES] [--lower-to BYTES] [--policy P]
           kvbench hints
    Keys are 16 random bytes, values 16 bytes. Defaults: --keys 1000000, --threads 1,2, --shards 16.
    """

var args = Array(CommandLine.arguments.dropFirst())
guard let mode = args.first, ["map", "store", "encodings", "queue", "cache", "flood", "hints"].contains(mode) else {
    print(usage)
    exit(2)
}
args.removeFirst()
if mode == "hints" { HintBench().run(); exit(0) }
if mode == "flood" {
    var options = ["--clients": "50", "--seconds": "10", "--maxmemory": "268435456", "--lower-to": "67108864",
                   "--policy": "allkeys-lru", "--port": "0"]
    while args.count >= 2, options[args[0]] != nil {
        options[args[0]] = args[1]
        args.removeFirst(2)
    }
    guard args.isEmpty, let port = Int(options["--port"]!), port > 0, let clients = Int(options["--clients"]!),
          let seconds = Double(options["--seconds"]!), let limit = Int(options["--maxmemory"]!),
          let lowered = Int(options["--lower-to"]!) else { print(usage); exit(2) }
    FloodBench(port: port, clients: clients, seconds: seconds, maxMemory: limit, lowered: lowered, policy: options["--policy"]!).run()
    exit(0)
}
if mode == "cache" {
    var options: [String: Double] = ["--alpha": 1.0, "--one-hit": 0, "--scan": 0, "--keys": 1_000_000,
                                     "--warmup": 1_000_000, "--requests": 3_000_000, "--seed": 1, "--port": 0, "--fill": 0]
    while args.count >= 2, options[args[0]] != nil, let v = Double(args[1]) {
        options[args[0]] = v
        args.removeFirst(2)
    }
    let port = Int(options["--port"]!)
    guard args.isEmpty, port > 0 else { print(usage); exit(2) }
    if options["--fill"]! > 0 {
        CacheBench.fill(port: port, count: Int(options["--fill"]!))
        exit(0)
    }
    CacheBench(port: port, keys: Int(options["--keys"]!), alpha: options["--alpha"]!, warmup: Int(options["--warmup"]!),
               measured: Int(options["--requests"]!), oneHit: options["--one-hit"]!, scan: options["--scan"]!,
               seed: UInt64(options["--seed"]!)).run()
    exit(0)
}
var keyCounts = [1_000_000]
var threadCounts = [1, 2]
var shardCount = 16
var csv = false
var oursOnly = false
var sizes = [16, 64, 128, 256, 512, 1024, 2048]
var port = 0, producers = 50, consumers = 50, messages = 200_000
while !args.isEmpty {
    let a = args.removeFirst()
    func list() -> [Int] {
        guard !args.isEmpty else { print(usage); exit(2) }
        let v = args.removeFirst().split(separator: ",").compactMap { Int($0) }
        guard !v.isEmpty, v.allSatisfy({ $0 > 0 }) else { print(usage); exit(2) }
        return v
    }
    switch a {
    case "--keys": keyCounts = list()
    case "--threads": threadCounts = list()
    case "--shards":
        shardCount = list()[0]
        guard shardCount & (shardCount - 1) == 0 else { print("--shards takes a power of two"); exit(2) }
    case "--csv": csv = true
    case "--ours-only": oursOnly = true
    case "--sizes": sizes = list()
    case "--port": port = list()[0]
    case "--producers": producers = list()[0]
    case "--consumers": consumers = list()[0]
    case "--messages": messages = list()[0]
    default:
        print(usage)
        exit(2)
    }
}

if mode == "queue" {
    guard port > 0 else { print(usage); exit(2) }
    QueueBench(port: port, producers: producers, consumers: consumers, messages: messages).run()
    exit(0)
}
if mode == "encodings" {
    EncodingBench(sizes: sizes).run()
    exit(0)
}
if csv {
    print(mode == "map"
        ? "op,keys,ours_ns_per_op,dictionary_ns_per_op,ours_bytes_per_entry,dictionary_bytes_per_entry"
        : "op,threads,keys,ours_ns_per_op,dictionary_ns_per_op,ours_bytes_per_entry,dictionary_bytes_per_entry")
}
for n in keyCounts {
    if mode == "map" {
        printTable("HashMap vs Dictionary<[UInt8], [UInt8]>, \(n) keys (16-byte keys and values)", "Dictionary",
                   MapBench(data: BenchKeys(count: n), oursOnly: oursOnly).run(), csv: csv, withThreads: false)
    } else {
        printTable("Store (\(shardCount) shards, rwlocks) vs Dictionary behind one rwlock, \(n) keys", "Dictionary",
                   StoreBench(data: BenchKeys(count: n), threadCounts: threadCounts, shardCount: shardCount).run(), csv: csv, withThreads: true)
    }
}
