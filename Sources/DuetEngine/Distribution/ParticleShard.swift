/// Which rank of a communicator owns which particle of a set: particle `i` belongs to rank `i mod size`, at slot
/// `i / size` of that rank's shard. Round-robin keeps every rank's share of a random minibatch even.
struct ParticleShard: Sendable, Equatable {
    /// Particles in the whole set.
    let particleCount: Int
    let rank: Int
    let size: Int

    /// Whether this rank owns particle `index`.
    func owns(_ index: Int) -> Bool { index % size == rank }

    /// The slot of particle `index` in its owner's shard.
    func slot(of index: Int) -> Int { index / size }

    /// The particle at `slot` of this rank's shard.
    func index(ofSlot slot: Int) -> Int { slot * size + rank }

    /// The particles this rank owns, in slot order.
    var indices: [Int] { Array(stride(from: rank, to: particleCount, by: size)) }
}
