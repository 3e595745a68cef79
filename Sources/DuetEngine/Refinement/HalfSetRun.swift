import DuetComm
import DuetCore
import DuetFormats

/// One half-set as this rank runs it: its particles (in input order), this rank's shard of them and the engine.
final class HalfSetRun {
    let half: HalfSet
    /// The half's particles, a subset of the input in input order; `inputIndices[i]` is particle `i`'s input row.
    let particles: ParticleSet
    let inputIndices: [Int]
    let engine: AbinitEngine

    /// The half's particles and this rank's images of them, their stacks checked before any collective call (the
    /// pixels are read in the background, `PreparedParticles`).
    struct Data {
        let half: HalfSet
        let particles: ParticleSet
        let inputIndices: [Int]
        let shard: ParticleShard
        let prepared: PreparedParticles

        init(half: HalfSet, set: ParticleSet, box: Int, pixelSize_A: Double, configuration: AbinitConfiguration,
             communicator: Communicator) throws {
            self.half = half
            inputIndices = set.particles.indices.filter { set.particles[$0].halfSet == half }
            var particles = set
            particles.particles = inputIndices.map { set.particles[$0] }
            self.particles = particles
            shard = ParticleShard(particleCount: inputIndices.count, rank: communicator.rank, size: communicator.size)
            prepared = try PreparedParticles(set: particles, indices: shard.indices, box: box, pixelSize_A: pixelSize_A,
                                             backgroundRadius_px: configuration.particleDiameter_px(box: box, pixelSize_A: pixelSize_A) / 2)
        }
    }

    /// `world` agrees on an image that cannot be read (each of its ranks runs the halves it serves in the same order).
    init(_ data: Data, configuration: AbinitConfiguration, communicator: Communicator, world: Communicator,
         times: StageTimes) throws {
        half = data.half
        particles = data.particles
        inputIndices = data.inputIndices
        // Half A uses the stream `duet abinit` uses; half B its own.
        engine = try AbinitEngine(configuration: configuration, data: data.prepared, shard: data.shard,
                                  stream: 0xAB1 + UInt64(half.rawValue), communicator: communicator, agreement: world,
                                  times: times)
    }

    /// This rank's particles of the half that have been seen, posed at their current assignments, each with its
    /// contrast scale and its index in the half.
    func posedShard() -> [(index: Int, particle: Particle, scale: Double)] {
        engine.assignments.indices.compactMap { slot in
            let assignment = engine.assignments[slot]
            guard let pose = assignment.pose else { return nil }
            let index = engine.shard.index(ofSlot: slot)
            var particle = particles.particles[index]
            particle.pose = pose
            return (index, particle, assignment.scale)
        }
    }
}
