import RESP

// Finding a call's keys from its command's key specifications, as Redis' getKeysFromCommandWithSpecs
// (db.c): each spec says where its keys begin (an index, or the argument after a keyword) and how to
// find them from there (a range, or a count argument). COMMAND GETKEYS answers from this; transactions
// will lock the shards of exactly these keys.

extension Command {
    /// The positions of the keys in `args` (args[0] is the command's name; for a subcommand, args[1] its
    /// name) with each key's spec flags, in spec order; nil when the arguments do not fit the specs (Redis'
    /// "Invalid arguments specified for command").
    func keyPositions(_ args: [UnsafeRawBufferPointer]) -> [(position: Int, flags: String)]? {
        let argc = args.count
        var found: [(position: Int, flags: String)] = []
        found.reserveCapacity(2)
        for spec in keySpecs {
            var first: Int
            switch spec.begin {
            case .index(let i):
                first = i
            case .keyword(let word, let startFrom):
                let start = startFrom > 0 ? startFrom : argc + startFrom
                let end = startFrom > 0 ? argc - 1 : 1
                var i = start
                var at: Int? = nil
                while i >= 1 && i < argc {
                    if String(decoding: args[i], as: UTF8.self).lowercased() == word.lowercased() {
                        at = i + 1
                        break
                    }
                    if i == end { break }
                    i += start <= end ? 1 : -1
                }
                guard let at else { continue }
                first = at
            case .unknown:
                return nil
            }
            let last: Int
            let step: Int
            switch spec.find {
            case .range(let lastKey, let keyStep, let limit):
                step = keyStep
                if lastKey >= 0 {
                    last = first + lastKey
                } else if limit == 0 {
                    last = argc + lastKey
                } else {
                    last = first + ((argc - first) / limit + lastKey)
                }
            case .keyNumber(let index, let firstKey, let keyStep):
                step = keyStep
                guard index < argc - first, let n = parseInt64(args[first + index]), n >= 0, n <= Int64(argc) else { return nil }
                first += firstKey
                last = first + Int(n) - 1
            case .unknown:
                continue
            }
            if last >= argc || last < first || first >= argc { return nil }
            for i in stride(from: first, through: last, by: step) where i < argc {
                found.append((i, spec.flags))
            }
            if spec.isIncomplete { return nil }
        }
        return found
    }

}

/// Redis' getkeys functions, for the commands whose key specifications cannot say where every key is
/// (a spec of unknown position): COMMAND GETKEYS falls back to them, as Redis' getKeysFromCommandWithSpecs
/// does. Transactions do not: such a command locks its whole database (Transaction.swift), since its
/// keys are not all in its arguments (SORT's BY and GET patterns name keys from the data).
let keysFunctions: [String: @Sendable ([UnsafeRawBufferPointer]) -> [(position: Int, flags: String)]?] = [
    // sortGetKeys: the key, and the last STORE's destination (LIMIT's, GET's and BY's arguments skipped).
    "sort": { args in
        var found = [(position: 1, flags: "RO access")]
        var store: Int? = nil
        var i = 2
        while i < args.count {
            let word = String(decoding: args[i], as: UTF8.self).lowercased()
            switch word {
            case "limit": i += 2
            case "get", "by": i += 1
            case "store" where i + 1 < args.count: store = i + 1
            default: break
            }
            i += 1
        }
        if let store { found.append((store, "OW update")) }
        return found
    },
    // sortROGetKeys: the key.
    "sort_ro": { _ in [(position: 1, flags: "RO access")] },
]
