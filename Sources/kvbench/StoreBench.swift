struct StoreBench { init(count: Int, threads: [Int]) {}; func run() -> [Row] { [] } }
