import Foundation

/// Real-space correction for trilinear interpolation on the oversampled Fourier grid, as RELION applies it for
/// `TRILINEAR`: interpolating in Fourier space convolves with a triangle kernel one padded sample wide, which
/// multiplies real space by `sinc²(r / paddedBox)` (`sinc(t) = sin(πt)/(πt)`), with `r` the distance in voxels from
/// the map centre. RELION uses this radial form (not the separable product over x, y, z); so does Duet.
public enum GriddingCorrection {
    /// `sinc²(r / paddedBox)`, the factor to divide the map by at distance `r` (voxels) from its centre.
    public static func factor(radius r: Double, paddedBox: Int) -> Double {
        guard r > 0 else { return 1 }
        let t = Double.pi * r / Double(paddedBox)
        let s = sin(t) / t
        return s * s
    }

    /// Divides a cubic map of edge `box` (origin at `box/2`, x fastest) in place by `factor`.
    public static func divide(_ map: UnsafeMutablePointer<Float>, box: Int, paddedBox: Int) {
        let c = box / 2
        for z in 0..<box {
            for y in 0..<box {
                for x in 0..<box {
                    let dx = Double(x - c), dy = Double(y - c), dz = Double(z - c)
                    let r = (dx * dx + dy * dy + dz * dz).squareRoot()
                    map[x + box * (y + box * z)] /= Float(factor(radius: r, paddedBox: paddedBox))
                }
            }
        }
    }
}
