import ArgumentParser
import DuetComm
import DuetEngine

/// `duet reconstruct PARTICLES --out DIR`: half maps, full map and FSC from particles at their poses.
struct ReconstructCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Direct Fourier reconstruction of each half-set from particles with poses (runs under mpirun too).")

    @Argument(help: "Particles with poses (.star or .cs).")
    var particles: String

    @Option(help: "Output directory.")
    var out: String

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, > 0; replaces the particle file's own.")
    var pixelSize_A: Double?

    @Flag(help: "Do not correct for the CTF.")
    var noCtf = false

    @Option(help: "Seed of the random half-set split (used when the input has none).")
    var seed: UInt64 = 1

    @Flag(help: "Split into halves at random even if the input has a split.")
    var resplit = false

    @Option(help: "Point group of the particle, RELION's names and axes: C1, Cn, Dn, T, O or I.")
    var symmetry = "C1"

    @Flag(help: "Write into --out even when it holds another run's outputs (never over an input file).")
    var overwrite = false

    func run() throws {
        var configuration = ReconstructJob.Configuration(particlesPath: particles, outputDirectory: out)
        configuration.pixelSize_A = pixelSize_A
        configuration.applyCTF = !noCtf
        configuration.seed = seed
        configuration.resplit = resplit
        configuration.symmetry = symmetry
        configuration.overwrite = overwrite
        let progress = ProgressDisplay()
        let summary = try ReconstructJob.run(configuration, world: MPICommunicator.world(), progress: progress.show)
        progress.finish()
        if let summary { print(summary) }
    }
}
