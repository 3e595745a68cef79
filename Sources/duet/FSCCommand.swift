import ArgumentParser
import DuetEngine

/// `duet fsc A B [--mask M]`: Fourier shell correlation between two maps.
struct FSCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsc",
        abstract: "Fourier shell correlation between two maps (masked with phase-randomisation correction when a mask is given).")

    @Argument(help: "First map (MRC).")
    var mapA: String

    @Argument(help: "Second map (MRC), same box.")
    var mapB: String

    @Option(help: "Soft mask (MRC), same box: adds the masked and corrected curves.")
    var mask: String?

    @Option(help: "Output prefix: writes PREFIX.star (RELION data_fsc table) and PREFIX.svg (plot).")
    var out: String = "fsc"

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, when the maps' headers lack it.")
    var pixelSize_A: Double?

    @Option(help: "Seed of the phase randomisation.")
    var seed: UInt64 = 1

    func run() throws {
        print(try FSCJob.run(.init(mapA: mapA, mapB: mapB, mask: mask, outputPrefix: out, pixelSize_A: pixelSize_A,
                                   seed: seed)))
    }
}
