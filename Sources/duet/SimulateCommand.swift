import ArgumentParser
import DuetEngine

/// `duet simulate MAP --out DIR` (or `--model MODEL --box N --pixel-size P`): particles with known truth from a
/// map or from an atomic model's potential.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a particle stack with CTF, shifts and noise from a map or an atomic model (writes particles.star/.mrcs and truth.star).")

    @Argument(help: "Map (MRC, cubic); or give --model.")
    var map: String?

    @Option(help: "Atomic model (PDB, or mmCIF as .cif) to simulate from instead of a map: its potential, band-limited at Nyquist, on a --box grid at --pixel-size, centred on the model (written as model_map.mrc).")
    var model: String?

    @Option(help: "Box of the model's map, pixels, even, ≥ 16 (with --model).")
    var box: Int?

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "Number of particles with uniformly random poses (with --poses-from: use at most this many).")
    var count: Int?

    @Option(help: "Take poses and CTF from this STAR or .cs file instead of random ones.")
    var posesFrom: String?

    @Option(help: "Signal-to-noise ratio (mean clean-image variance over the whole box / noise variance), > 0.")
    var snr: Double = 0.1

    @Flag(help: "Write noiseless images.")
    var noNoise = false

    @Flag(help: "Do not apply the CTF.")
    var noCtf = false

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, > 0; replaces the map header's.")
    var pixelSize_A: Double?

    @Option(name: .customLong("defocus-min"), help: "Smallest random defocus, Å, ≥ 0.")
    var defocusMin_A: Double = 10_000

    @Option(name: .customLong("defocus-max"), help: "Largest random defocus, Å, ≥ --defocus-min.")
    var defocusMax_A: Double = 25_000

    @Option(name: .customLong("max-shift"), help: "Random shifts are uniform in ± this many pixels on each axis, ≥ 0 (pixels, as refine's --max-shift).")
    var maxShift: Double = 3

    @Flag(help: "Write into --out even when it holds another run's outputs (never over an input file).")
    var overwrite = false

    func validate() throws {
        guard (map == nil) != (model == nil) else { throw ValidationError("give a MAP or --model MODEL, not both") }
        if box != nil && model == nil { throw ValidationError("--box goes with --model") }
    }

    func run() throws {
        let source: SimulateJob.Source = if let model { .model(path: model, box: box ?? 0) } else { .map(path: map!) }
        var configuration = SimulateJob.Configuration(source: source, outputDirectory: out)
        configuration.count = count
        configuration.posesFrom = posesFrom
        configuration.snr = noNoise ? nil : snr
        configuration.applyCTF = !noCtf
        configuration.seed = seed
        configuration.pixelSize_A = pixelSize_A
        configuration.defocusMin_A = defocusMin_A
        configuration.defocusMax_A = defocusMax_A
        configuration.maxShift_px = maxShift
        configuration.overwrite = overwrite
        print(try SimulateJob.run(configuration))
    }
}
