import Foundation

/// Centres of the HEALPix pixels (Górski et al. 2005, ring ordering) on the unit sphere: `12·nside²` directions of
/// equal area. Written from the published formulas; used for the viewing directions of `SO3Grid`.
public enum HealpixRing {
    /// Colatitude θ ∈ [0, π] and longitude φ ∈ [0, 2π) in radians of pixel `pixel` (0 ≤ pixel < 12·nside²).
    public static func angles(pixel p: Int, nside n: Int) -> (theta: Double, phi: Double) {
        let npix = 12 * n * n
        let ncap = 2 * n * (n - 1)
        precondition(p >= 0 && p < npix, "HEALPix pixel \(p) out of range")
        let nd = Double(n)
        var z: Double, phi: Double
        if p < ncap {                                        // north polar cap, rings 1..<n
            let i = Int((1 + (1 + 2 * Double(p)).squareRoot()) / 2)
            let j = p - 2 * i * (i - 1) + 1                  // 1...4i
            z = 1 - Double(i * i) / (3 * nd * nd)
            phi = .pi / (2 * Double(i)) * (Double(j) - 0.5)
        } else if p < npix - ncap {                          // equatorial belt, rings n...3n
            let q = p - ncap
            let i = q / (4 * n) + n
            let j = q % (4 * n) + 1
            // Rings with i + n odd start at φ = 0, the others half a pixel further.
            let offset = (i + n) % 2 == 1 ? 1.0 : 0.5
            z = 4.0 / 3 - 2 * Double(i) / (3 * nd)
            phi = .pi / (2 * nd) * (Double(j) - offset)
        } else {                                             // south polar cap
            let q = npix - p
            let i = Int((1 + (2 * Double(q) - 1).squareRoot()) / 2)
            let j = 4 * i + 1 - (q - 2 * i * (i - 1))
            z = -1 + Double(i * i) / (3 * nd * nd)
            phi = .pi / (2 * Double(i)) * (Double(j) - 0.5)
        }
        return (acos(max(-1, min(1, z))), phi)
    }
}
