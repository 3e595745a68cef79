import DuetCore
import DuetFormats
import Foundation

/// Settings of `duet refine` (gold-standard ab-initio refinement, docs/design.md §3): the SGD schedule of each half
/// (`AbinitConfiguration`; half B uses a different random stream of the same seed), the half-set split, how often
/// half B is aligned onto half A, and how often a checkpoint is written. Stored with each checkpoint so that
/// `duet refine --resume DIR` continues with exactly the same settings.
public struct RefineConfiguration: Sendable, Codable, Equatable {
    public var particlesPath: String
    public var outputDirectory: String
    /// The directory the run started in, where relative image paths are looked for first (RELION's project
    /// directory); set when the run starts, so that `--resume` from elsewhere finds the same images.
    public var workingDirectory: String?
    public var pixelSize_A: Double?
    public var sgd = AbinitConfiguration()
    /// Split into halves at random from the seed even when the input has a split.
    public var resplit = false
    /// Align half B onto half A every this many iterations (and at the end).
    public var alignmentInterval = 50
    /// Write a checkpoint every this many iterations (0: only on SIGTERM, SIGINT or SIGHUP).
    public var checkpointInterval = 50
    /// Rounds of `HalfSetRefinementRound` after the SGD: each half reconstructed from its particles at their
    /// poses as two chains, filtered by the chains' FSC, and every pose searched again against its chain's map
    /// (the first round over all poses, later ones near the current pose).
    public var refinementRounds = 4

    public init(particlesPath: String, outputDirectory: String) {
        self.particlesPath = particlesPath
        self.outputDirectory = outputDirectory
    }

    /// Throws a one-line error naming the first option that is out of range.
    public func validate() throws {
        try sgd.validate()
        try ParticleSet.validatePixelSizeOption(pixelSize_A)
        guard alignmentInterval >= 1 else { throw DuetError("--align-every must be at least 1") }
        guard checkpointInterval >= 0 else { throw DuetError("--checkpoint-every must be ≥ 0") }
        guard refinementRounds >= 0 else { throw DuetError("--refinement-rounds must be ≥ 0") }
    }

    /// Resolution of the half-map alignment at iteration resolution `current_A`: well below the current
    /// resolution (twice as coarse), so that alignment does not lean on the noise the halves must not share.
    func alignmentResolution_A(current_A: Double) -> Double { 2 * current_A }
}
