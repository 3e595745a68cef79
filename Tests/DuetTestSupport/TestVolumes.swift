import Foundation

/// Density maps the tests make themselves, so that they need no file from outside the repository.
public enum TestVolumes {
    /// A `box`³ map (x fastest) of six Gaussian blobs of different widths and heights, placed without symmetry
    /// inside a sphere of 30 % of the box: a particle whose projections fix its orientation and hand.
    public static func asymmetricBlobs(box: Int) -> [Float] {
        // (x, y, z) as fractions of the box from the centre, σ as a fraction of the box, height.
        let blobs: [(SIMD3<Double>, Double, Double)] = [
            (SIMD3(0, 0, 0), 0.09, 1.0), (SIMD3(0.18, 0.02, -0.05), 0.05, 0.8),
            (SIMD3(-0.10, 0.16, 0.04), 0.06, 0.7), (SIMD3(0.03, -0.12, 0.15), 0.04, 0.9),
            (SIMD3(-0.14, -0.08, -0.12), 0.05, 0.6), (SIMD3(0.08, 0.10, 0.18), 0.03, 1.0),
        ]
        let n = Double(box), centre = Double(box / 2)
        var map = [Float](repeating: 0, count: box * box * box)
        for z in 0..<box {
            for y in 0..<box {
                for x in 0..<box {
                    let p = SIMD3(Double(x) - centre, Double(y) - centre, Double(z) - centre) / n
                    var value = 0.0
                    for (centre, sigma, height) in blobs {
                        let d = p - centre
                        value += height * exp(-(d * d).sum() / (2 * sigma * sigma))
                    }
                    map[x + box * (y + box * z)] = Float(value)
                }
            }
        }
        return map
    }
}
