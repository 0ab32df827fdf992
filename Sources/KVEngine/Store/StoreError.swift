/// Errors of store operations, each mapping to exactly one Redis error reply.
public enum StoreError: Error, Equatable, Sendable {
    case notAnInteger
    case notAFloat
    case overflow
    case nanOrInfinity
    case stringTooLong
    case noSuchKey
    case wrongType
    /// HINCRBY / HINCRBYFLOAT on a field whose value is not a number.
    case hashValueNotAnInteger
    case hashValueNotAFloat
    /// SORT met a value that is not a number (without ALPHA).
    case sortScoreNotADouble
    /// ZADD INCR / ZINCRBY whose sum is NaN (inf + -inf).
    case scoreIsNaN

    /// The reply text, without the leading "-".
    public var redisMessage: String {
        switch self {
        case .notAnInteger: "ERR value is not an integer or out of range"
        case .notAFloat: "ERR value is not a valid float"
        case .overflow: "ERR increment or decrement would overflow"
        case .nanOrInfinity: "ERR increment would produce NaN or Infinity"
        case .stringTooLong: "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
        case .noSuchKey: "ERR no such key"
        case .wrongType: "WRONGTYPE Operation against a key holding the wrong kind of value"
        case .hashValueNotAnInteger: "ERR hash value is not an integer"
        case .hashValueNotAFloat: "ERR hash value is not a float"
        case .sortScoreNotADouble: "ERR One or more scores can't be converted into double"
        case .scoreIsNaN: "ERR resulting score is not a number (NaN)"
        }
    }
}
