// The names of STATS' fields (and of INFO hashmap's, the same with `hashmapPrefix`): the server writes
// them, `kvcli stats` reads them. One definition, so that the two cannot drift apart.
//
// STATS is "# Store" name:value lines (the summary, then the histograms as `chain_length_<k>` and
// `slots_used_<k>`), then "# Shards" lines `shard_<i>:` of comma-separated name=value pairs. STATS SHARD n
// is one "# Shard" section of name:value lines. STATS then has an "# Inner maps" section of name:value
// lines on hashes and sets.

public enum StatsField: String, Sendable, CaseIterable {
    case db, shard, shards
    case keys
    case keysWithExpiry = "keys_with_expiry"
    case bucketBits = "bucket_bits"
    case buckets
    case overflowBuckets = "overflow_buckets"
    case loadFactor = "load_factor"
    case loadFactorWorstShard = "load_factor_worst_shard"
    case worstShard = "worst_shard"
    case growth
    case growthsInProgress = "growths_in_progress"
    case oldBuckets = "old_buckets"
    case evacuatedBuckets = "evacuated_buckets"
    case growthSeconds = "growth_seconds"
    case oldOverflowBuckets = "old_overflow_buckets"
    case longestChain = "longest_chain"
    case bucketBytes = "bucket_bytes"
    case entryBytes = "entry_bytes"
    case idleArenaBytes = "idle_arena_bytes"
    case totalBytes = "total_bytes"
    case arenaBytes = "arena_bytes"
    case arenaFill = "arena_fill"
    case arenaResidentBytes = "arena_resident_bytes"
    /// Whether compaction runs (the server's activedefrag), for kvcli's warning on sparse arenas.
    case activedefrag
    case seedFingerprint = "seed_fingerprint"
    // "# Inner maps": hashes and sets (values that are maps inside the map).
    case valuesByEncoding = "values_by_encoding"
    case innerMaps = "inner_maps"
    case innerMapEntries = "inner_map_entries"
    case innerMapBuckets = "inner_map_buckets"
    case innerMapOverflowBuckets = "inner_map_overflow_buckets"
    case innerMapLoadFactor = "inner_map_load_factor"
    case innerMapGrowthsInProgress = "inner_map_growths_in_progress"
    case innerBytes = "inner_bytes"
    case listElements = "list_elements"
    case listNodes = "list_nodes"
    case zsetElements = "zset_elements"
    case zsetTreeLeaves = "zset_tree_leaves"

    /// Histogram rows: the prefix and the row's index (`chain_length_0`: buckets with no overflow bucket).
    public static let chainLengthPrefix = "chain_length_"
    public static let slotsUsedPrefix = "slots_used_"
    /// A shard's line in STATS: the prefix and the shard's index.
    public static let shardLinePrefix = "shard_"
    /// The largest values: `largest_<i>:<type>:<elements>:<key>` (the key last: it may hold colons).
    public static let largestValuePrefix = "largest_"
    /// INFO hashmap's fields are the summary's, with this prefix.
    public static let hashmapPrefix = "hashmap_"
}
