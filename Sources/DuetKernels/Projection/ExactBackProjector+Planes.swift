/// The region's z-planes divided among ranks: each rank sums and steps its own planes only (`cells` is plane-major
/// within the numerators and within the weights), then the ranks exchange the volume's updated planes.
///
/// What travels is the reached part of each plane only: a slice's samples lie within `scale · radius_px` of the
/// origin and their trilinear cells within `√3` more, so each row `(y, z)` of the region holds nonzero cells only
/// at `x < reachedWidth(y, z)`, the cells of the half ball of radius `scale · radius_px + √3` (about half the
/// region's box). `pack` moves those cells of every row together, in place; `unpack` puts a rank's planes back
/// and zeroes the rest of their rows.
extension ExactBackProjector {
    /// `reachedWidths` and `reachedBefore` for a region of `reach` whose samples lie within `maxRadius`.
    static func reachedRows(reach: Int, maxRadius: Double) -> (widths: [Int], before: [Int]) {
        let rx = reach + 1, ry = 2 * reach + 1
        let ball = (maxRadius + 3.0.squareRoot()) * (maxRadius + 3.0.squareRoot())
        var widths = [Int](repeating: 0, count: ry * ry), before = [0]
        for z in 0..<ry {
            for y in 0..<ry {
                let rest = ball - Double((y - reach) * (y - reach) + (z - reach) * (z - reach))
                widths[y + ry * z] = rest < 0 ? 0 : min(rx, Int(rest.squareRoot().rounded(.down)) + 1)
            }
            before.append(before[z] + widths[(ry * z)..<(ry * (z + 1))].reduce(0, +))
        }
        return (widths, before)
    }

    /// Reached cells in the z-planes `planes` (consecutive in the packed layout).
    public func reachedCells(planes: Range<Int>) -> Int {
        reachedBefore[planes.upperBound] - reachedBefore[planes.lowerBound]
    }

    /// Moves the reached cells of every row of `values` (the region's numerators, `valuesPerCell` 2, or weights,
    /// 1) together in row order, in place: plane `z` then starts at `reachedBefore[z] · valuesPerCell`.
    public func pack(_ values: UnsafeMutablePointer<Int64>, valuesPerCell: Int) {
        var next = 0
        for row in 0..<(ry * ry) {
            let width = reachedWidths[row] * valuesPerCell
            // `next` never passes the row's own start, so rows move down only: memmove in row order is safe.
            let start = row * rx * valuesPerCell
            if width > 0 && next != start { Self.move(width, from: values + start, to: values + next) }
            next += width
        }
    }

    /// Puts the packed cells of the z-planes `planes` back in their rows and zeroes the rows' other cells (the
    /// other planes are left undefined).
    public func unpack(_ values: UnsafeMutablePointer<Int64>, valuesPerCell: Int, planes: Range<Int>) {
        var next = reachedBefore[planes.upperBound] * valuesPerCell
        // Last row first: each row moves up over packed cells that have already moved.
        for row in stride(from: ry * planes.upperBound - 1, through: ry * planes.lowerBound, by: -1) {
            let width = reachedWidths[row] * valuesPerCell, start = row * rx * valuesPerCell
            next -= width
            if width > 0 && next != start { Self.move(width, from: values + next, to: values + start) }
            (values + start + width).update(repeating: 0, count: rx * valuesPerCell - width)
        }
    }

    /// Cells in one z-plane of the region.
    public var cellsPerPlane: Int { rx * ry }

    /// `count` consecutive shares of the region's z-planes holding about equal numbers of reached cells (what each
    /// rank receives and steps); shares may be empty when there are more ranks than planes.
    public func planeShares(count: Int) -> [Range<Int>] {
        RankShare.balanced(costs: (0..<planeCount).map { Double(reachedCells(planes: $0..<($0 + 1))) }, count: count)
    }

    /// `memmove` of `count` values (the regions may overlap).
    private static func move(_ count: Int, from source: UnsafePointer<Int64>, to target: UnsafeMutablePointer<Int64>) {
        UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: count * MemoryLayout<Int64>.stride)
    }

    /// Calls `body` with the cells' memory as `regionCount` complex floats, for use once the sums have been read:
    /// the cells hold nothing meaningful afterwards, until `reset`.
    public func withSpentCells<Result>(_ body: (UnsafeMutablePointer<SIMD2<Float>>) throws -> Result) rethrows -> Result {
        try cells.baseAddress.withMemoryRebound(to: SIMD2<Float>.self, capacity: regionCount) { try body($0) }
    }

    /// Copies the reached coefficients of `volume` (storage of `grid`) in the region's z-planes `planes` to
    /// `packed` (the packed layout: plane `z` from `reachedBefore[z]`), or back with `toVolume`.
    public func copyReached(planes: Range<Int>, volume: UnsafeMutablePointer<SIMD2<Float>>,
                            packed: UnsafeMutablePointer<SIMD2<Float>>, toVolume: Bool) {
        var next = reachedBefore[planes.lowerBound]
        for z in planes {
            for y in 0..<ry {
                let width = reachedWidths[y + ry * z]
                let v = volume + grid.index(x: 0, y: y - reach, z: z - reach), p = packed + next
                if toVolume { v.update(from: p, count: width) } else { p.update(from: v, count: width) }
                next += width
            }
        }
    }
}
