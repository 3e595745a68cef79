import DuetComm
import DuetCore

/// This rank's place in the half-set split of the world (`HalfSetPlan`): the halves it serves and the communicator
/// of its half (the world itself when one rank serves both).
struct HalfSetRanks {
    /// The halves this rank runs, in the order A, B.
    let halves: [HalfSet]
    /// The communicator of this rank's half (the world when one rank runs both).
    let communicator: Communicator
    /// World rank of half B's rank 0.
    let halfBRoot: Int

    /// Splits `world` by `HalfSetPlan` (collective).
    static func split(_ world: Communicator) throws -> HalfSetRanks {
        let plan = HalfSetPlan(worldSize: world.size)
        let halves = plan.halves(ofWorldRank: world.rank)
        let communicator = halves.count == 2 ? world : try world.split(color: halves[0].rawValue, key: world.rank)
        return HalfSetRanks(halves: halves, communicator: communicator, halfBRoot: plan.halfBRoot)
    }
}
