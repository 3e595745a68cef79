import DuetCore
import DuetFormats

extension ParticleSet {
    /// The gold-standard split (docs/design.md §4): keeps the input's halves when every particle has one (and
    /// `resplit` is false); otherwise assigns half A to a random half of the particles and half B to the rest,
    /// from `seed`.
    mutating func assignHalves(seed: UInt64, resplit: Bool) {
        guard resplit || particles.contains(where: { $0.halfSet == nil }) else { return }
        var order = Array(particles.indices)
        var generator = SeededGenerator(seed: seed, stream: 0x5917)
        order.shuffle(using: &generator)
        for (rank, index) in order.enumerated() {
            particles[index].halfSet = rank < order.count / 2 ? .a : .b
        }
    }
}
