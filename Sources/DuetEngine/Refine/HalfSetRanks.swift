import DuetComm
import DuetCore

/// How the world's ranks serve the two half-sets (docs/design.md §4): with one rank, that rank runs both halves, one
/// after the other, each on the world communicator; otherwise ranks `0..<⌈size/2⌉` form half A's communicator and
/// the rest half B's, so world rank 0 is half A's rank 0 and half B never computes on A's ranks.
struct HalfSetRanks {
    /// The halves this rank runs.
    let halves: [HalfSet]
    /// The communicator of this rank's half (the world when one rank runs both).
    let communicator: Communicator
    /// World rank of half B's rank 0.
    let halfBRoot: Int

    /// Splits `world` (collective).
    static func split(_ world: Communicator) throws -> HalfSetRanks {
        if world.size == 1 { return HalfSetRanks(halves: [.a, .b], communicator: world, halfBRoot: 0) }
        let countA = (world.size + 1) / 2
        let half: HalfSet = world.rank < countA ? .a : .b
        return HalfSetRanks(halves: [half], communicator: try world.split(color: half.rawValue, key: world.rank),
                            halfBRoot: countA)
    }
}
