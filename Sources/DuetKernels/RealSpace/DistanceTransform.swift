import Foundation

/// Exact Euclidean distance transform of a binary cubic volume (Felzenszwalb & Huttenlocher 2012, "Distance
/// transforms of sampled functions"): for every voxel, the distance in voxels to the nearest voxel of the set.
///
/// Volumes are `box³`, x fastest (`index = x + box·(y + box·z)`), distances between voxel centres (so a set voxel
/// has distance 0 and its face neighbours 1). The squared transform is separable: a 1-D lower envelope of parabolas
/// along x, then y, then z, O(box³) in all. "Far" is a finite sentinel `12·box²` larger than any real squared
/// distance, which keeps every step exact in `Float` for `box ≤ 1024`; with an empty set every distance is ≥
/// `sqrt(12)·box`. Lines of each pass run on `threads` workers (default: all cores).
public enum DistanceTransform {
    /// Euclidean distance (voxels) from each voxel to the nearest voxel where `inSet` is true.
    public static func euclidean(_ inSet: [Bool], box: Int, threads: Int? = nil) -> [Float] {
        precondition(inSet.count == box * box * box, "DistanceTransform: \(inSet.count) voxels, box \(box)")
        let far = Float(12 * box * box)
        var squared = inSet.map { $0 ? Float(0) : far }
        squared.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let d = buffer.baseAddress!
            // Pass `axis` runs along x, y, z in turn; its `box²` lines are indexed by the two other coordinates
            // (a = the slower of them, b = the faster), `step` apart sample to sample.
            for axis in 0..<3 {
                let step = axis == 0 ? 1 : axis == 1 ? box : box * box
                ParallelFor.run(count: box, threads: threads) { outer in
                    var line = [Double](repeating: 0, count: box)
                    var envelope = LowerEnvelope(count: box)
                    for a in outer {
                        for b in 0..<box {
                            // x-lines: (y, z) = (b, a); y-lines: (x, z) = (b, a); z-lines: (x, y) = (b, a).
                            let start = switch axis {
                            case 0: box * (b + box * a)
                            case 1: b + box * box * a
                            default: b + box * a
                            }
                            for i in 0..<box { line[i] = Double(d[start + i * step]) }
                            envelope.transform(&line)
                            for i in 0..<box { d[start + i * step] = Float(line[i]) }
                        }
                    }
                }
            }
        }
        return squared.map { $0.squareRoot() }
    }
}

/// The 1-D squared distance transform `D(q) = min_p ((q − p)² + f(p))` by the lower envelope of the parabolas
/// rooted at every sample (Felzenszwalb & Huttenlocher, algorithm DT1). Scratch space for one line length.
struct LowerEnvelope {
    private var roots: [Int]          // v: sample of each parabola in the envelope
    private var bounds: [Double]      // z: the envelope uses parabola k on [z[k], z[k+1])
    private var values: [Double]

    init(count: Int) {
        roots = [Int](repeating: 0, count: count)
        bounds = [Double](repeating: 0, count: count + 1)
        values = [Double](repeating: 0, count: count)
    }

    /// Replaces `f` by its squared distance transform.
    mutating func transform(_ f: inout [Double]) {
        let n = f.count
        guard n > 1 else { return }
        for i in 0..<n { values[i] = f[i] }
        var k = 0
        roots[0] = 0
        bounds[0] = -.infinity
        bounds[1] = .infinity
        for q in 1..<n {
            var s = intersection(q, roots[k])
            while s <= bounds[k] {
                k -= 1
                s = intersection(q, roots[k])
            }
            k += 1
            roots[k] = q
            bounds[k] = s
            bounds[k + 1] = .infinity
        }
        k = 0
        for q in 0..<n {
            while bounds[k + 1] < Double(q) { k += 1 }
            let p = roots[k]
            f[q] = Double((q - p) * (q - p)) + values[p]
        }
    }

    /// Where the parabolas rooted at `q` and `p` (`q > p`) intersect.
    @inline(__always)
    private func intersection(_ q: Int, _ p: Int) -> Double {
        ((values[q] + Double(q * q)) - (values[p] + Double(p * p))) / Double(2 * (q - p))
    }
}
