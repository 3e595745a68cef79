import DuetComm
import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet reconstruct` (CryoSPARC "Homogeneous Reconstruction Only", `relion_reconstruct`): direct Fourier
/// reconstruction of each half-set from particles at their given poses, with CTF correction (Σ CTF·image /
/// Σ CTF²). Writes the unfiltered half maps `half_A.mrc`, `half_B.mrc`, the full map `map.mrc`, the FSC between the
/// halves (`fsc.star`, `fsc.svg`) and the particles with the half-set split used (`particles.star`).
///
/// Distributed: every rank reads the metadata, takes every `size`-th particle (rank `r` those with index ≡ r),
/// reads only its own images and back-projects them; the numerators and weights are summed over the communicator
/// and rank 0 reconstructs and writes. Halves are kept from the input or drawn 50/50 from the seed.
public enum ReconstructJob {
    public struct Configuration: Sendable {
        public var particlesPath: String
        public var outputDirectory: String
        public var pixelSize_A: Double?
        public var applyCTF = true
        /// Random split seed, used when the input has no half-set split (or `resplit` is set).
        public var seed: UInt64 = 1
        public var resplit = false
        /// The particle's point group, RELION's name (`SymmetryGroup`): every image goes in at its |G| equivalent
        /// rotations, as `relion_reconstruct --sym` does.
        public var symmetry = "C1"
        /// Write into an output directory that holds another run's outputs (never over an input).
        public var overwrite = false

        public init(particlesPath: String, outputDirectory: String) {
            self.particlesPath = particlesPath
            self.outputDirectory = outputDirectory
        }
    }

    /// Runs the reconstruction (collective over `world`); returns the summary on rank 0, nil elsewhere. `progress`
    /// receives notes about the input on rank 0.
    public static func run(_ c: Configuration, world communicator: Communicator,
                           progress: @escaping (String) -> Void = { _ in }) throws -> String? {
        // Every check that can fail on bad input, agreed over the ranks: one error line and a clean exit.
        let (symmetry, job) = try communicator.agreeing {
            (try SymmetryGroup(option: c.symmetry),
             try JobInput.read(c.particlesPath, pixelSizeOption: c.pixelSize_A, requirePoses: true,
                               outputDirectory: c.outputDirectory, overwrite: c.overwrite))
        }
        var set = job.particles
        let box = job.box, pixelSize_A = job.pixelSize_A
        if communicator.isRoot, c.applyCTF, let note = set.noteWithoutCTF { progress(note) }
        set.assignHalves(seed: c.seed, resplit: c.resplit)

        let grid = FourierGrid(box: box)
        let backProjection = HalfSetBackProjection(box: box, pixelSize_A: pixelSize_A, applyCTF: c.applyCTF,
                                                   symmetry: symmetry)
        var sums: [BackProjector] = []
        for half in HalfSet.allCases {
            let mine = set.particles.enumerated().filter { $0.offset % communicator.size == communicator.rank && $0.element.halfSet == half }
            let backProjector = BackProjector(grid: grid)
            // Reading this rank's images can fail on one rank only (a bad pixel): agreed over the ranks.
            try communicator.agreeing { try backProjection.accumulate(mine.map(\.element), from: set, into: backProjector) }
            try communicator.allreduceSum(backProjector.numerator.buffer)
            try communicator.allreduceSum(backProjector.weight.buffer)
            sums.append(backProjector)
        }
        let directory = c.outputDirectory
        try OutputDirectory.create(directory, on: communicator)
        guard communicator.isRoot else { return nil }

        let halfA = sums[0].reconstruct(), halfB = sums[1].reconstruct()
        let full = BackProjector(grid: grid)
        for i in 0..<grid.count {
            full.numerator[i] = sums[0].numerator[i] + sums[1].numerator[i]
            full.weight[i] = sums[0].weight[i] + sums[1].weight[i]
        }
        let map = full.reconstruct()
        for (name, data) in [("half_A", halfA), ("half_B", halfB), ("map", map)] {
            try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: data, pixelSize_A: Float(pixelSize_A),
                                      to: "\(directory)/\(name).mrc")
        }
        let fsc = FSCReport(unmasked: FourierShellCorrelation.curve(halfA, halfB, box: box, pixelSize_A: pixelSize_A),
                            masked: nil)
        try StarWriter.write(fsc.starDocument(), to: directory + "/fsc.star")
        try AtomicFile.write(fsc.plot(title: "half A vs half B").render(), to: directory + "/fsc.svg")
        try ParticleFile.write(set, to: directory + "/particles.star")
        let counts = HalfSet.allCases.map { half in set.particles.filter { $0.halfSet == half }.count }
        return "reconstructed \(counts[0]) + \(counts[1]) particles (box \(box), \(String(format: "%g", pixelSize_A)) Å/px) "
            + "on \(communicator.size) rank(s); \(fsc.summary); maps in \(directory)/"
    }
}
