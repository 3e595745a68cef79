import DuetCore

/// A back-projection accumulator whose sums do not depend on the order of insertion: every sample is converted to
/// 64-bit fixed point (`round(value · scale)`, `scale` a power of two) before it is added, and integer addition is
/// associative. The same slices therefore give bit-identical sums whatever the thread count, and the cells of
/// several ranks can be summed with an integer allreduce in any order (docs/design.md §4: the same seed gives the same
/// maps at any rank count).
///
/// Geometry is `BackProjector`'s (same kernel, same adjoint of `FourierVolume.project`), but only the cells that
/// image radius `radius_px` reaches are stored: `x ∈ 0…R`, `y, z ∈ H−R…H+R` in `FourierGrid` storage
/// coordinates, `R = ⌊scale_pad · radius_px⌋ + 1`, so memory and the size of a reduction follow the resolution.
/// `cells` holds the region's numerators (real, imaginary interleaved, `2 · regionCount`) followed by its weights
/// (`regionCount`), x fastest.
public final class ExactBackProjector: @unchecked Sendable {
    public let grid: FourierGrid
    public let radius_px: Int
    /// Fixed-point units per unit of value: a power of two.
    public private(set) var scale: Double
    /// Numerators then weights of the region, in fixed point.
    public let cells: AlignedBuffer<Int64>
    /// Cells in the region.
    public let regionCount: Int
    let reach: Int, rx: Int, ry: Int
    /// Per row `(y, z)` of the region (`y + ry·z`), the cells a sample can reach: `x < reachedWidth` (see
    /// `ExactBackProjector+Planes`).
    let reachedWidths: [Int]
    /// Reached cells before each z-plane, and after the last one (`ry + 1` entries).
    let reachedBefore: [Int]

    /// An empty accumulator for slices of image radius ≤ `radius_px` on `grid`, with fixed-point `scale`
    /// (see `scale(maxAbsoluteValue:sliceCount:)`).
    public init(grid: FourierGrid, radius_px: Int, scale: Double) {
        precondition(radius_px >= 0 && radius_px <= grid.maxRadius_px, "ExactBackProjector: radius \(radius_px)")
        self.grid = grid
        self.radius_px = radius_px
        self.scale = scale
        reach = min(grid.halfExtent - 1, Int((grid.scale * Double(radius_px)).rounded(.down)) + 1)
        rx = reach + 1
        ry = 2 * reach + 1
        regionCount = rx * ry * ry
        cells = AlignedBuffer(count: 3 * regionCount)
        (reachedWidths, reachedBefore) = Self.reachedRows(reach: reach, maxRadius: grid.scale * Double(radius_px))
    }

    /// Empties the accumulator for another sum at fixed-point `scale`, keeping its memory (no new pages to fault
    /// in: the region is hundreds of megabytes at high resolution).
    public func reset(scale: Double) {
        cells.zero()
        self.scale = scale
    }

    /// The largest power-of-two scale (at most 2^100) for which `sliceCount` slices whose values and weights are
    /// all at most `maxAbsoluteValue` in magnitude cannot overflow a cell: a slice adds at most 16 × its largest
    /// value to one cell (trilinear weights of the samples within one cell's reach, Friedel copies included).
    public static func scale(maxAbsoluteValue: Double, sliceCount: Int) -> Double {
        let bound = maxAbsoluteValue * Double(max(1, sliceCount)) * 16
        guard bound > 0, bound.isFinite else { return 1 }
        return Double(sign: .plus, exponent: min(100, 62 - Int(bound.exponent) - 1), significand: 1)
    }

    /// Adds `rotations.count` slices on `threads` workers (default: all cores), with the meaning of
    /// `BackProjector.insert(slices:…)`, the slices in `layout` (default: the image's). The workers share the
    /// region by z-planes (`slabs`): each goes through every slice but adds only to its own planes, so there is one
    /// accumulator whatever the thread count and nothing to reduce; the sums are exact, so the same in any order.
    public func insert(slices: UnsafePointer<SIMD2<Float>>, sliceStride: Int, sliceWeights: UnsafePointer<Float>,
                       weightStride: Int, rotations: [Rotation], translations_px: [SIMD2<Double>],
                       layout: SliceLayout? = nil, threads: Int? = nil) {
        let layoutBox = (layout ?? SliceLayout(box: grid.box)).box
        precondition(layoutBox == grid.box || 2 * radius_px < layoutBox, "ExactBackProjector: layout too small")
        let count = rotations.count
        precondition(translations_px.count == count, "ExactBackProjector: one translation per rotation")
        guard count > 0 else { return }
        let slabs = Self.slabs(planes: ry, count: min(ry, max(1, threads ?? ParallelFor.defaultThreads)))
        nonisolated(unsafe) let slices = slices, sliceWeights = sliceWeights
        withExtendedLifetime(self) {
            ParallelFor.runPerWorker(count: slabs.count, workers: slabs.count) { _, mine in
                for slab in mine {
                    let target = self.scatter(planes: slabs[slab])
                    for i in 0..<count {
                        let geometry = SliceGeometry(rotation: rotations[i], scale: self.grid.scale)
                        TranslationPhases.with(translation: translations_px[i], box: self.grid.box,
                                               layoutBox: layoutBox) { px, py in
                            insertSlice(into: target, grid: self.grid, geometry: geometry, radius: self.radius_px,
                                        layoutBox: layoutBox, phaseX: px, phaseY: py, slice: slices + i * sliceStride,
                                        sliceWeights: sliceWeights + i * weightStride)
                        }
                    }
                }
            }
        }
    }

    /// `count` consecutive ranges of the region's `planes` z-planes holding about equal numbers of samples: over
    /// random orientations, a slice's samples fall at height `z` with density `∝ reach − |z|` (each shell's samples
    /// spread evenly over its sphere, whose heights are uniform), so the boundaries are that triangle's quantiles.
    static func slabs(planes: Int, count: Int) -> [Range<Int>] {
        let half = Double(planes) / 2
        let boundaries = [0] + (1..<count).map { w -> Int in
            let q = Double(w) / Double(count)
            let height = q <= 0.5 ? -half + half * (2 * q).squareRoot() : half - half * (2 * (1 - q)).squareRoot()
            return Int((half + height).rounded())
        } + [planes]
        return (0..<count).map { boundaries[$0]..<max(boundaries[$0], boundaries[$0 + 1]) }
    }

    /// Calls `body(gridIndex, numerator, weight)` for every cell of the region with a nonzero weight, in storage
    /// order, with the values converted back from fixed point.
    public func forEachCell(_ body: (_ gridIndex: Int, _ numerator: SIMD2<Double>, _ weight: Double) -> Void) {
        for z in 0..<ry { forEachCell(inPlane: z, body) }
    }

    /// `forEachCell` over the z-planes `planes` (default: all), split by plane over `threads` workers (default: all
    /// cores), each plane's cells in storage order: `body` gets the plane's index (`0..<planeCount`) and must write
    /// only what belongs to that cell or plane.
    public func forEachCellInParallel(planes: Range<Int>? = nil, threads: Int? = nil,
                                      _ body: @Sendable (_ plane: Int, _ gridIndex: Int, _ numerator: SIMD2<Double>,
                                                         _ weight: Double) -> Void) {
        let planes = planes ?? 0..<ry
        ParallelFor.run(count: planes.count, threads: threads) { range in
            for z in (range.lowerBound + planes.lowerBound)..<(range.upperBound + planes.lowerBound) {
                self.forEachCell(inPlane: z) { body(z, $0, $1, $2) }
            }
        }
    }

    /// Number of z-planes of the region (`forEachCellInParallel`'s plane indices).
    public var planeCount: Int { ry }

    /// The plane's cells with a nonzero weight; only each row's reached cells are looked at (no sample reaches the
    /// others: `ExactBackProjector+Planes`).
    private func forEachCell(inPlane z: Int,
                             _ body: (_ gridIndex: Int, _ numerator: SIMD2<Double>, _ weight: Double) -> Void) {
        let unit = 1 / scale
        let numerators = cells.baseAddress, weights = cells.baseAddress + 2 * regionCount
        for y in 0..<ry {
            for x in 0..<reachedWidths[y + ry * z] {
                let c = x + rx * (y + ry * z)
                guard weights[c] != 0 else { continue }
                let gridIndex = grid.index(x: x, y: y - reach, z: z - reach)
                body(gridIndex, SIMD2(Double(numerators[2 * c]), Double(numerators[2 * c + 1])) * unit,
                     Double(weights[c]) * unit)
            }
        }
    }

    /// Fixed-point accumulation into the region's z-planes `planes` only.
    private func scatter(planes: Range<Int>) -> FixedPointScatter {
        let origin = grid.halfExtent - reach
        return FixedPointScatter(numerators: cells.baseAddress, weights: cells.baseAddress + 2 * regionCount, rx: rx,
                                 rxy: rx * ry, origin: origin, scale: Float(scale),
                                 zLow: origin + planes.lowerBound, zHigh: origin + planes.upperBound)
    }
}

/// Fixed-point accumulation into an `ExactBackProjector` region whose storage coordinates start at
/// `(0, origin, origin)`, into the storage z-planes `zLow..<zHigh` only (a worker's slab).
struct FixedPointScatter: TrilinearScatter {
    let numerators: UnsafeMutablePointer<Int64>
    let weights: UnsafeMutablePointer<Int64>
    let rx: Int, rxy: Int, origin: Int
    let scale: Float
    let zLow: Int, zHigh: Int

    @inline(__always) func reaches(z0: Int) -> Bool { z0 + 1 >= zLow && z0 < zHigh }
    @inline(__always) func reaches(anyOf planes: ClosedRange<Int>) -> Bool {
        planes.upperBound + 1 >= zLow && planes.lowerBound < zHigh
    }

    @inline(__always) func add(x0: Int, y0: Int, z0: Int, value v: SIMD2<Float>, weight w: Float, _ t: TrilinearWeights) {
        let c = x0 + rx * (y0 - origin) + rxy * (z0 - origin)
        let vs = v * scale, ws = w * scale
        let offsets = SIMD8<Int>(0, 1, rx, rx + 1, rxy, rxy + 1, rxy + rx, rxy + rx + 1)
        // Cells 0–3 lie in plane z0, cells 4–7 in plane z0 + 1.
        let first = z0 >= zLow ? 0 : 4, last = z0 + 1 < zHigh ? 8 : 4
        for j in first..<last {
            let cell = c + offsets[j]
            numerators[2 * cell] &+= Int64((vs.x * t[j]).rounded(.toNearestOrEven))
            numerators[2 * cell + 1] &+= Int64((vs.y * t[j]).rounded(.toNearestOrEven))
            weights[cell] &+= Int64((ws * t[j]).rounded(.toNearestOrEven))
        }
    }
}
