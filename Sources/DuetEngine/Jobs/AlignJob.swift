import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet align MAP_A MAP_B --out ALIGNED_B.mrc`: aligns map B onto map A (`MapAlignment`, rotation + translation +
/// hand; A never moves), writes the aligned B (`MapTransform.apply`, atomically) and returns a one-line report.
public enum AlignJob {
    public struct Configuration: Sendable {
        /// Map A, the reference frame.
        public var reference: String
        /// Map B, the map moved onto A.
        public var moving: String
        /// Where the aligned B is written (MRC).
        public var output: String
        /// Highest resolution used, Å; nil: `defaultResolution_A`.
        public var resolution_A: Double?
        /// Overrides the maps' header pixel size.
        public var pixelSize_A: Double?
        /// Whether to consider a mirrored B.
        public var searchMirror: Bool
        /// Worker threads (default: all cores).
        public var threads: Int?

        public init(reference: String, moving: String, output: String, resolution_A: Double? = nil,
                    pixelSize_A: Double? = nil, searchMirror: Bool = true, threads: Int? = nil) {
            self.reference = reference
            self.moving = moving
            self.output = output
            self.resolution_A = resolution_A
            self.pixelSize_A = pixelSize_A
            self.searchMirror = searchMirror
            self.threads = threads
        }
    }

    /// The resolution used when none is given: Fourier radius `min(box/4, 24)` (cycles per box), i.e. at most half
    /// Nyquist, and coarse enough that a large box stays fast.
    public static func defaultResolution_A(box: Int, pixelSize_A: Double) -> Double {
        Double(box) * pixelSize_A / Double(max(2, min(box / 4, 24)))
    }

    /// Aligns, writes the moved map and returns one line: RELION Euler angles of the rotation (degrees),
    /// translation (Å), hand, and the score.
    public static func run(_ configuration: Configuration) throws -> String {
        let a = try MRCVolume.readFinite(path: configuration.reference)
        let b = try MRCVolume.readFinite(path: configuration.moving)
        guard a.nx == a.ny && a.ny == a.nz else {
            throw DuetError("\(configuration.reference) is \(a.nx)×\(a.ny)×\(a.nz): alignment needs a cubic map")
        }
        let box = a.nx
        guard (b.nx, b.ny, b.nz) == (a.nx, a.ny, a.nz) else {
            throw DuetError("\(configuration.moving) is \(b.nx)×\(b.ny)×\(b.nz) but \(configuration.reference) is "
                                + "\(box)³")
        }
        guard box >= 8 else { throw DuetError("\(configuration.reference) is \(box)³: too small to align") }
        let headerPixelSize_A = (a.pixelSize_A ?? b.pixelSize_A).map(Double.init)
        guard let pixelSize_A = configuration.pixelSize_A ?? headerPixelSize_A, pixelSize_A > 0
        else { throw DuetError("\(configuration.reference) has no pixel size in its header: pass --pixel-size") }
        let resolution_A = configuration.resolution_A ?? defaultResolution_A(box: box, pixelSize_A: pixelSize_A)
        guard resolution_A >= 2 * pixelSize_A else {
            throw DuetError(String(format: "--resolution-A %.2f is finer than Nyquist (%.2f Å)", resolution_A,
                                   2 * pixelSize_A))
        }

        let options = MapAlignmentOptions(searchMirror: configuration.searchMirror)
        let result = MapAlignment.align(reference: a.data, moving: b.data, box: box, pixelSize_A: pixelSize_A,
                                        resolution_A: resolution_A, options: options, threads: configuration.threads)
        let aligned = result.transform.apply(to: b.data, box: box, threads: configuration.threads)
        let name = { (path: String) in URL(fileURLWithPath: path).lastPathComponent }
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: aligned, pixelSize_A: Float(pixelSize_A),
                                  to: configuration.output,
                                  label: "Duet align: \(name(configuration.moving)) onto \(name(configuration.reference))")
        return summary(result, pixelSize_A: pixelSize_A,
                       resolution_A: Double(box) * pixelSize_A / Double(result.radius_px))
    }

    /// The line `run` returns; `resolution_A` is the resolution the alignment used (`box · pixel / radius_px`).
    private static func summary(_ result: MapAlignmentResult, pixelSize_A: Double, resolution_A: Double) -> String {
        let t = result.transform
        let angles = t.rotation.relionEulerAngles
        let shift_A = t.translation_px * pixelSize_A
        var line = String(format: "rotation (rot, tilt, psi) = (%.2f, %.2f, %.2f)°, "
                              + "translation = (%.2f, %.2f, %.2f) Å, mirrored = %@, correlation = %.4f "
                              + "(mean FSC to %.1f Å",
                          angles.rot_deg, angles.tilt_deg, angles.psi_deg, shift_A.x, shift_A.y, shift_A.z,
                          t.mirrored ? "yes" : "no", result.score, resolution_A)
        if let other = result.otherHandScore { line += String(format: "; other hand %.4f", other) }
        return line + ")"
    }
}
