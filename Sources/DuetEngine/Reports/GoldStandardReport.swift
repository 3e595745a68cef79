import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// The gold-standard resolution report of a refinement (docs/design.md §3): the FSC between the two half maps, unmasked
/// and with an automatic soft mask, the masked curve corrected by phase randomisation (Chen et al. 2013), and the
/// resolutions where the curves fall below 0.143.
///
/// `write(halfA:halfB:box:pixelSize_A:to:options:)` writes into the output directory (created if missing; every
/// file atomically):
/// - `fsc.txt`: plain-text table (`FSCReport.textTable`): shell, resolution Å, FSC unmasked, FSC masked corrected,
///   then the two 0.143 resolutions as comments;
/// - `fsc.star`: RELION `data_fsc` (and `data_general` with `rlnFinalResolution`, the masked corrected 0.143
///   resolution), as `duet fsc --mask` writes it;
/// - `fsc.svg`: the unmasked, masked, phase-randomised and corrected curves with the 0.143 and 0.5 lines;
/// - `mask.mrc`: the automatic mask (`AutoMask`, values in [0, 1]) with the maps' pixel size;
/// - `slices.png`: central XY, XZ, YZ sections of half A (top row) and half B (bottom row), mean ± 3σ
///   (`SliceMontage`).
public enum GoldStandardReport {
    /// Names of the files `write` creates in the output directory.
    public static let fileNames = ["fsc.txt", "fsc.star", "fsc.svg", "mask.mrc", "slices.png"]

    public struct Options: Sendable {
        /// How the automatic mask is made.
        public var mask: AutoMaskParameters
        /// Seed of the phase randomisation (the same seed gives the same curves).
        public var seed: UInt64
        /// Plot title and first comment of `fsc.txt`.
        public var title: String

        public init(mask: AutoMaskParameters = AutoMaskParameters(), seed: UInt64 = 1,
                    title: String = "half A vs half B") {
            self.mask = mask
            self.seed = seed
            self.title = title
        }
    }

    /// The resolutions at FSC 0.143 and what the mask was.
    public struct Summary: Sendable, Equatable {
        /// Crossing of the unmasked FSC with 0.143 (`resolution_A` in Å).
        public let unmasked: FSCCrossing
        /// Crossing of the masked, phase-randomisation-corrected FSC with 0.143 (the headline resolution).
        public let masked: FSCCrossing
        /// Threshold the mask was cut at (on the low-passed average map) and the fraction of the box inside it.
        public let maskThreshold: Double
        public let maskVolumeFraction: Double
        /// Phases were randomised beyond this shell for the correction.
        public let randomizationShell: Int
        /// `FSCReport.summary`: one line per curve, resolutions at 0.143 and 0.5.
        public let description: String
    }

    /// Computes the report of half maps `halfA` and `halfB` (each `box³` floats, x fastest, voxel `pixelSize_A` Å)
    /// and writes its files into `directory`. Throws `DuetError` on mismatched input or an unwritable directory.
    @discardableResult
    public static func write(halfA: [Float], halfB: [Float], box: Int, pixelSize_A: Double, to directory: String,
                             options: Options = Options()) throws -> Summary {
        let voxels = box * box * box
        guard box > 1, halfA.count == voxels, halfB.count == voxels else {
            throw DuetError("gold-standard FSC: half maps of \(halfA.count) and \(halfB.count) voxels, expected \(box)³")
        }
        guard pixelSize_A > 0 else { throw DuetError("gold-standard FSC: pixel size \(pixelSize_A) Å must be > 0") }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DuetError("cannot create \(directory): \(error.localizedDescription)")
        }

        let mask = AutoMask.make(halfA: halfA, halfB: halfB, box: box, pixelSize_A: pixelSize_A,
                                 parameters: options.mask)
        let fsc = FourierShellCorrelation.maskedCorrected(halfA, halfB, mask: mask.mask, box: box,
                                                          pixelSize_A: pixelSize_A, seed: options.seed)
        let report = FSCReport(unmasked: fsc.unmasked, masked: fsc)

        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        try AtomicFile.write(report.textTable(comments: comments(options, box: box, pixelSize_A: pixelSize_A,
                                                                 mask: mask, fsc: fsc)),
                             to: path("fsc.txt"))
        try report.write(prefix: path("fsc"), title: options.title)
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: mask.mask, pixelSize_A: Float(pixelSize_A),
                                  to: path("mask.mrc"), label: "Duet automatic FSC mask")
        try SliceMontage.write(volumes: [halfA, halfB], box: box, to: path("slices.png"))

        return Summary(unmasked: fsc.unmasked.crossing(threshold: 0.143),
                       masked: fsc.corrected.crossing(threshold: 0.143),
                       maskThreshold: mask.threshold, maskVolumeFraction: mask.volumeFraction,
                       randomizationShell: fsc.randomizationShell, description: report.summary)
    }

    /// The header comments of `fsc.txt`: what was compared and how the mask and correction were made.
    private static func comments(_ options: Options, box: Int, pixelSize_A: Double, mask: AutoMaskResult,
                                 fsc: MaskedFSCResult) -> [String] {
        let p = options.mask
        let maskLine: String
        if mask.coreVoxelCount == 0 {
            maskLine = "mask: automatic; no voxel of the low-passed average passed the threshold, so the mask is "
                + "all ones (masked FSC = unmasked FSC)"
        } else {
            maskLine = String(format: "mask: automatic, average of the halves low-passed to %g A, threshold %.6g "
                              + "= max(solvent mean + %g (peak - solvent mean), solvent mean + %g solvent sigma), "
                              + "dilated %g px, soft edge %g px, %.1f %% of the box",
                              p.lowPassResolution_A, mask.threshold, p.peakFraction, p.solventSigmas,
                              p.dilation_px, p.softEdge_px, 100 * mask.volumeFraction)
        }
        return ["Duet gold-standard FSC: " + options.title,
                String(format: "box %d, pixel size %g A", box, pixelSize_A),
                maskLine,
                "masked FSC corrected by phase randomisation beyond shell \(fsc.randomizationShell) (Chen et al. 2013)"]
    }
}
