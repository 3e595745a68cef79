import Foundation

/// Fast neighbour queries on a set of rotations given as unit quaternions (any sign).
///
/// The quaternions (sign-normalised to w ≥ 0) are bucketed in a uniform 4-D cell grid over [−1, 1]⁴. Two rotations
/// are within angle θ when `min(|q₁ − q₂|, |q₁ + q₂|) ≤ 2 sin(θ/4)`, so a query visits the cells around `q` and around
/// `−q` within that chord. Build cost O(n log n); a query costs the number of points in the visited cells. Built for
/// 10⁵–10⁶ rotations.
public struct SO3NeighbourIndex: Sendable {
    /// The indexed rotations, sign-normalised (w ≥ 0), in the caller's order.
    public let quaternions: [SIMD4<Double>]
    /// Edge of a cell in quaternion (chord) units.
    public let cellSize: Double
    private let cellsPerAxis: Int
    private let sortedIndices: [Int32]
    private let cellRanges: [Int64: Range<Int>]

    /// Indexes `quaternions`; `typicalRadius_rad` (e.g. the grid step) sets the cell size so that a query of that
    /// radius visits 3⁴ cells around each of ±q.
    public init(quaternions: [SIMD4<Double>], typicalRadius_rad: Double) {
        self.quaternions = quaternions.map { q in
            let n = q / (q * q).sum().squareRoot()
            return n[0] < 0 ? -n : n
        }
        let chord = 2 * sin(min(typicalRadius_rad, .pi) / 4)
        let perAxis = max(1, Int((2 / max(chord, 1e-6)).rounded(.up)))
        let size = 2 / Double(perAxis)
        cellsPerAxis = perAxis
        cellSize = size
        let keys = self.quaternions.map { Self.key(Self.cell(of: $0, size: size, count: perAxis), count: perAxis) }
        let order = keys.indices.sorted { keys[$0] < keys[$1] }
        sortedIndices = order.map { Int32($0) }
        var ranges = [Int64: Range<Int>]()
        var start = 0
        while start < order.count {
            let k = keys[order[start]]
            var end = start + 1
            while end < order.count && keys[order[end]] == k { end += 1 }
            ranges[k] = start..<end
            start = end
        }
        cellRanges = ranges
    }

    /// Indexes the rotations of `grid`, with cells sized for queries of about one grid step.
    public init(grid: SO3Grid) {
        self.init(quaternions: grid.quaternions, typicalRadius_rad: grid.step_deg * .pi / 180)
    }

    /// Indices of the indexed rotations within `radius_rad` (geodesic) of quaternion `q`, in increasing order.
    public func neighbours(of q: SIMD4<Double>, within radius_rad: Double) -> [Int] {
        var result = [Int]()
        forEachCandidate(near: q, radius_rad: radius_rad) { index, _ in result.append(index) }
        if radius_rad >= .pi / 2 { result = Array(Set(result)) }   // ±q neighbourhoods can overlap
        return result.sorted()
    }

    /// Indices of the rotations within `radius_rad` of indexed point `index` (itself excluded).
    public func neighbours(ofIndex index: Int, within radius_rad: Double) -> [Int] {
        neighbours(of: quaternions[index], within: radius_rad).filter { $0 != index }
    }

    /// The indexed rotation nearest to `q` and its distance in radians.
    public func nearest(to q: SIMD4<Double>) -> (index: Int, distance_rad: Double) {
        var radius = max(4 * asin(min(1, cellSize / 2)), 1e-3)   // the angle of one cell's chord
        while true {
            var best = (index: -1, distance_rad: Double.infinity)
            forEachCandidate(near: q, radius_rad: radius) { index, distance in
                if distance < best.distance_rad || (distance == best.distance_rad && index < best.index) {
                    best = (index, distance)
                }
            }
            if best.index >= 0 || radius >= .pi { return best }
            radius = min(2 * radius, .pi)
        }
    }

    /// Calls `body(index, distance_rad)` for every indexed rotation within `radius_rad` of `q` (a point may be
    /// reported twice when `radius_rad ≥ π/2`).
    private func forEachCandidate(near q: SIMD4<Double>, radius_rad: Double, _ body: (Int, Double) -> Void) {
        let unit = q / (q * q).sum().squareRoot()
        let chord = 2 * sin(min(radius_rad, .pi) / 4)
        let reach = Int((chord / cellSize).rounded(.up))
        let limit = cellsPerAxis - 1
        for sign in [1.0, -1.0] {
            let center = unit * sign
            let c = Self.cell(of: center, size: cellSize, count: cellsPerAxis)
            // Only cells that can hold w ≥ 0 points: the w cell index of 0 is cellsPerAxis/2 (rounded down).
            let wLow = max(c[0] - reach, cellsPerAxis / 2 - 1, 0), wHigh = min(c[0] + reach, limit)
            if wLow > wHigh { continue }
            for cw in wLow...wHigh {
                for cx in max(c[1] - reach, 0)...min(c[1] + reach, limit) {
                    for cy in max(c[2] - reach, 0)...min(c[2] + reach, limit) {
                        for cz in max(c[3] - reach, 0)...min(c[3] + reach, limit) {
                            guard let range = cellRanges[Self.key(SIMD4(cw, cx, cy, cz), count: cellsPerAxis)]
                            else { continue }
                            for slot in range {
                                let index = Int(sortedIndices[slot])
                                let d = quaternions[index] - center
                                let chord2 = (d * d).sum()
                                guard chord2 <= chord * chord * (1 + 1e-9) else { continue }
                                let distance = 4 * asin(min(1, chord2.squareRoot() / 2))
                                if distance <= radius_rad { body(index, distance) }
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func cell(of q: SIMD4<Double>, size: Double, count: Int) -> SIMD4<Int> {
        var c = SIMD4<Int>()
        for k in 0..<4 { c[k] = min(max(Int(((q[k] + 1) / size).rounded(.down)), 0), count - 1) }
        return c
    }

    @inline(__always)
    private static func key(_ c: SIMD4<Int>, count: Int) -> Int64 {
        Int64(((c[0] * count + c[1]) * count + c[2]) * count + c[3])
    }
}
