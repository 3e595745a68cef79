/// The region's z-planes divided among ranks: each rank sums and steps its own planes only (`cells` is plane-major
/// within the numerators and within the weights), then the ranks exchange the volume's updated planes.
extension ExactBackProjector {
    /// Cells in one z-plane of the region.
    public var cellsPerPlane: Int { rx * ry }

    /// `count` consecutive shares of the region's z-planes, as even as whole planes allow (every plane has the
    /// same number of cells); shares may be empty when there are more ranks than planes.
    public func planeShares(count: Int) -> [Range<Int>] {
        (0..<count).map { ($0 * planeCount / count)..<(($0 + 1) * planeCount / count) }
    }

    /// `forEachCellInParallel` over the z-planes `planes` only.
    public func forEachCellInParallel(planes: Range<Int>, threads: Int? = nil,
                                      _ body: @Sendable (_ plane: Int, _ gridIndex: Int, _ numerator: SIMD2<Double>,
                                                         _ weight: Double) -> Void) {
        ParallelFor.run(count: planes.count, threads: threads) { range in
            for z in range { self.forEachCell(inPlane: planes.lowerBound + z) { body(planes.lowerBound + z, $0, $1, $2) } }
        }
    }

    /// Calls `body` with the cells' memory as `regionCount` complex floats (region layout, x fastest), for use once
    /// the sums have been read: the cells hold nothing meaningful afterwards, until `reset`.
    public func withSpentCells<Result>(_ body: (UnsafeMutablePointer<SIMD2<Float>>) throws -> Result) rethrows -> Result {
        try cells.baseAddress.withMemoryRebound(to: SIMD2<Float>.self, capacity: regionCount) { try body($0) }
    }

    /// Copies the coefficients of `volume` (storage of `grid`) in the region's z-planes `planes` to `region`
    /// (region layout, x fastest), or back with `toVolume`.
    public func copy(planes: Range<Int>, volume: UnsafeMutablePointer<SIMD2<Float>>,
                     region: UnsafeMutablePointer<SIMD2<Float>>, toVolume: Bool) {
        for z in planes {
            for y in 0..<ry {
                let v = volume + grid.index(x: 0, y: y - reach, z: z - reach), r = region + rx * (y + ry * z)
                if toVolume { v.update(from: r, count: rx) } else { r.update(from: v, count: rx) }
            }
        }
    }
}
