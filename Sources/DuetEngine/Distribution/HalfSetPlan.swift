import DuetCore

/// Which world ranks serve which half-set (docs/design.md §4), as a pure function of the world's size: one rank
/// serves both halves, one after the other; otherwise world ranks `0..<⌈size/2⌉` serve half A and the rest half B,
/// so world rank 0 is half A's rank 0 and half B never computes on A's ranks. `HalfSetRanks` splits a communicator
/// by this plan, and `duet mpi-selftest` checks that split against it.
struct HalfSetPlan: Sendable, Equatable {
    let worldSize: Int

    init(worldSize: Int) {
        precondition(worldSize >= 1, "a world has at least one rank")
        self.worldSize = worldSize
    }

    /// The world ranks that form `half`'s communicator, in their order within it.
    func worldRanks(of half: HalfSet) -> Range<Int> {
        if worldSize == 1 { return 0..<1 }
        let countA = (worldSize + 1) / 2
        return half == .a ? 0..<countA : countA..<worldSize
    }

    /// The halves world rank `rank` serves, in the order A, B.
    func halves(ofWorldRank rank: Int) -> [HalfSet] {
        HalfSet.allCases.filter { worldRanks(of: $0).contains(rank) }
    }

    /// World rank of half B's rank 0.
    var halfBRoot: Int { worldRanks(of: .b).lowerBound }
}
