import ArgumentParser
import DuetEngine

/// `duet align MAP_A MAP_B --out ALIGNED_B.mrc`: rigid alignment of one map onto another.
struct AlignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Align map B onto map A (rotation, translation and hand) and write the aligned B.",
        discussion: """
            A never moves. The transform T(x) = R·M·x + t acts about the box centre (M mirrors z when the hand \
            differs): the aligned map is B′(x) = B(T⁻¹x). Printed: R as RELION Euler angles, t in Å, the hand, and \
            the correlation (mean FSC over the shells used).
            """)

    @Argument(help: "Map A, the reference (MRC).")
    var mapA: String

    @Argument(help: "Map B, moved onto A (MRC), same box.")
    var mapB: String

    @Option(help: "Where to write the aligned B (MRC).")
    var out: String

    @Option(name: .customLong("resolution-A"),
            help: "Highest resolution used, Å: 2–3× coarser than the maps' (default: Fourier radius min(box/4, 24)).")
    var resolution_A: Double?

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, when the maps' headers lack it.")
    var pixelSize_A: Double?

    @Flag(name: .customLong("no-mirror"), help: "Do not consider a mirrored B (keep B's hand).")
    var noMirror = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        print(try AlignJob.run(.init(reference: mapA, moving: mapB, output: out, resolution_A: resolution_A,
                                     pixelSize_A: pixelSize_A, searchMirror: !noMirror, threads: threads)))
    }
}
