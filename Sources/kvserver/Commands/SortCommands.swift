import KVEngine

// SORT and SORT_RO (the store side: KVEngine's Store+Sort.swift), with Redis 7.0's option parsing
// (sort.c): options in any order, each error as soon as it is met, before the key is looked up.

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]
func sortCommand(_ c: Call) throws { try sort(c, readOnly: false) }

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]
func sort_roCommand(_ c: Call) throws { try sort(c, readOnly: true) }

private func sort(_ c: Call, readOnly: Bool) throws {
    var r = SortRequest()
    var j = 2
    while j < c.count {
        let left = c.count - j - 1
        if c.argument(j, is: "asc") {
            r.descending = false
        } else if c.argument(j, is: "desc") {
            r.descending = true
        } else if c.argument(j, is: "alpha") {
            r.alpha = true
        } else if c.argument(j, is: "limit") && left >= 2 {
            r.offset = Int(try c.integer(j + 1))
            r.count = Int(try c.integer(j + 2))
            j += 2
        } else if c.argument(j, is: "store") && left >= 1 && !readOnly {
            r.store = c.bytes(j + 1)
            j += 1
        } else if c.argument(j, is: "by") && left >= 1 {
            r.addBy(c.bytes(j + 1))
            j += 1
        } else if c.argument(j, is: "get") && left >= 1 {
            r.gets.append(c.bytes(j + 1))
            j += 1
        } else {
            throw CommandError.syntax
        }
        j += 1
    }
    switch try c.db.sort(c[1], r) {
    case .stored(let n): c.reply.integer(n)
    case .elements(let values):
        c.reply.arrayHeader(values.count)
        for v in values { c.reply.bulk(v) }
    }
}
