import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet fsc A B [--mask M]`: the Fourier shell correlation between two maps of the same cubic box, unmasked and,
/// with a mask, masked with the phase-randomisation correction of Chen et al. (2013). Writes `<out>.star` and
/// `<out>.svg` and returns the summary.
public enum FSCJob {
    public struct Configuration: Sendable {
        public var mapA: String
        public var mapB: String
        public var mask: String?
        /// Output prefix: `<prefix>.star` and `<prefix>.svg`.
        public var outputPrefix: String
        /// Overrides the maps' header pixel size.
        public var pixelSize_A: Double?
        public var seed: UInt64

        public init(mapA: String, mapB: String, mask: String?, outputPrefix: String, pixelSize_A: Double?, seed: UInt64) {
            self.mapA = mapA
            self.mapB = mapB
            self.mask = mask
            self.outputPrefix = outputPrefix
            self.pixelSize_A = pixelSize_A
            self.seed = seed
        }
    }

    /// Computes the curves, writes `PREFIX.star` and `PREFIX.svg`, and returns what `duet fsc` prints: the
    /// resolutions and the files written.
    public static func run(_ configuration: Configuration) throws -> String {
        let a = try MRCVolume.readFinite(path: configuration.mapA)
        let b = try MRCVolume.readFinite(path: configuration.mapB)
        let box = try cubicBox(a, configuration.mapA)
        guard (b.nx, b.ny, b.nz) == (a.nx, a.ny, a.nz) else {
            throw DuetError("\(configuration.mapB) is \(b.nx)×\(b.ny)×\(b.nz) but \(configuration.mapA) is \(box)³")
        }
        guard let pixelSize_A = configuration.pixelSize_A ?? a.pixelSize_A.map(Double.init) ?? b.pixelSize_A.map(Double.init)
        else { throw DuetError("\(configuration.mapA) has no pixel size in its header: pass --pixel-size") }

        let unmasked = FourierShellCorrelation.curve(a.data, b.data, box: box, pixelSize_A: pixelSize_A)
        var masked: MaskedFSCResult?
        if let maskPath = configuration.mask {
            let mask = try MRCVolume.readFinite(path: maskPath)
            guard (mask.nx, mask.ny, mask.nz) == (a.nx, a.ny, a.nz) else {
                throw DuetError("mask \(maskPath) is \(mask.nx)×\(mask.ny)×\(mask.nz) but the maps are \(box)³")
            }
            masked = FourierShellCorrelation.maskedCorrected(a.data, b.data, mask: mask.data, box: box,
                                                             pixelSize_A: pixelSize_A, seed: configuration.seed)
        }
        let report = FSCReport(unmasked: unmasked, masked: masked)
        let title = URL(fileURLWithPath: configuration.mapA).lastPathComponent + " vs "
            + URL(fileURLWithPath: configuration.mapB).lastPathComponent
        try report.write(prefix: configuration.outputPrefix, title: title)
        return report.summary + "\nwrote \(configuration.outputPrefix).star and \(configuration.outputPrefix).svg"
    }

    private static func cubicBox(_ volume: MRCVolume, _ path: String) throws -> Int {
        guard volume.nx == volume.ny && volume.ny == volume.nz else {
            throw DuetError("\(path) is \(volume.nx)×\(volume.ny)×\(volume.nz): FSC needs a cubic map")
        }
        return volume.nx
    }
}
