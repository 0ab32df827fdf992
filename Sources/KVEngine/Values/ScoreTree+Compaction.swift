// Compaction of a sorted set's order: its leaves are blocks of the tree's own arena, moved off the pages
// deletes have left sparse by the same steps as a map's entries (HashMap+Compaction.swift): the arena marks
// the sparse pages draining and filters its free lists, the walk visits the leaves in rank order and moves
// each one on a draining page, repointing the one leaf that refers to it, and the emptied pages go back.
// Writes between steps rebuild leaves elsewhere (never on a draining page) and shift ranks, so a walk may
// pass a leaf twice or miss one; a walk that ends with something still on a draining page walks again.
// Leaves too large for the arena (one element over 2 KiB) are malloc blocks and are not moved.

extension ScoreTree: Compactable {
    var isCompacting: Bool { arena.isCompacting }
    var isGrowing: Bool { false }

    func worthCompacting(minBytes: Int, minFraction: Double) -> Bool {
        arena.worthCompacting(minBytes: minBytes, minFraction: minFraction)
    }

    func takeRetiredPages() -> RetiredPages? { arena.takeRetired() }

    /// One step of at most about `budget` units of work (a leaf visited, a free block filtered; a leaf
    /// moved counts 8, its copy being up to 2 KiB).
    func compactStep(budget: Int, maxFill: Double) -> CompactionStep {
        compactionStepAroundWalk(budget: budget, maxFill: maxFill)
    }

    /// The walk: the leaves in rank order (writes shift ranks, so it may miss a leaf: walked again).
    func compactionWalk(budget: Int) -> Bool {
        var work = 0
        while work < budget && compactionCursor < count {
            let (leaf, index) = locate(compactionCursor)
            if leaf.ref != 0 && arena.isDraining(leaf.ref) {
                leaf.ref = arena.move(leaf.ref, units: leaf.units)
                leaf.base = arena.pointer(leaf.ref)
                work += 8
            }
            compactionCursor += leaf.count - index
            work += 1
        }
        return compactionCursor >= count
    }
}
