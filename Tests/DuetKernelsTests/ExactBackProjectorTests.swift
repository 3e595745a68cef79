import DuetCore
import DuetKernels
import XCTest

/// `ExactBackProjector` sums the same slices as `BackProjector` (to Float round-off) and its fixed-point sums are
/// bit-identical whatever the thread count and however the slices are split between accumulators (as between ranks).
final class ExactBackProjectorTests: XCTestCase {
    private typealias S = KernelTestSupport

    func testMatchesFloatBackProjectionAndIsOrderIndependent() {
        let box = 32, radius = 12
        let grid = FourierGrid(box: box)
        let volume = FourierVolume(map: S.blobVolume(box: box, blobs: S.testBlobs), grid: grid)
        var random = S.Random(seed: 9)
        let count = 9
        let rotations = (0..<count).map { _ in
            Rotation(relion: RelionEulerAngles(rot_deg: 360 * random.next(), tilt_deg: 180 * random.next(),
                                               psi_deg: 360 * random.next()))
        }
        let shifts = (0..<count).map { _ in SIMD2(2 * random.next() - 1, 2 * random.next() - 1) }
        let stride = grid.imageComplexCount
        let slices = AlignedBuffer<SIMD2<Float>>(count: stride * count)
        volume.project(rotations: rotations, translations_px: shifts, radius_px: radius, into: slices.baseAddress,
                       outputStride: stride, threads: 1)
        // Weights in 0.5…2.5 (`random.next()` is in −1…1): positive, as CTF² weights are.
        let weights = AlignedBuffer<Float>((0..<(stride * count)).map { _ in Float(1.5 + random.next()) })
        var largest = 0.0
        for i in 0..<(stride * count) {
            largest = max(largest, Double(abs(slices[i].x)), Double(abs(slices[i].y)), Double(weights[i]))
        }
        let scale = ExactBackProjector.scale(maxAbsoluteValue: largest, sliceCount: count)

        let reference = BackProjector(grid: grid)
        reference.insert(slices: slices.baseAddress, sliceStride: stride, sliceWeights: weights.baseAddress,
                         weightStride: stride, rotations: rotations, translations_px: shifts, radius_px: radius,
                         threads: 1)
        func exact(threads: Int, range: Range<Int>) -> ExactBackProjector {
            let accumulator = ExactBackProjector(grid: grid, radius_px: radius, scale: scale)
            accumulator.insert(slices: slices.baseAddress + range.lowerBound * stride, sliceStride: stride,
                               sliceWeights: weights.baseAddress + range.lowerBound * stride, weightStride: stride,
                               rotations: Array(rotations[range]), translations_px: Array(shifts[range]),
                               threads: threads)
            return accumulator
        }
        let one = exact(threads: 1, range: 0..<count)
        XCTAssertEqual(one.cells.toArray(), exact(threads: 3, range: 0..<count).cells.toArray(), "thread count")
        // Every nonzero cell lies in the reached rows: packing the numerators and weights in place and unpacking
        // any run of planes gives those planes back (the rest of their rows zero), and packing halves the data.
        let whole = one.cells.toArray(), n = one.regionCount, plane = one.cellsPerPlane
        XCTAssertLessThan(one.reachedCells(planes: 0..<one.planeCount), n * 6 / 10)
        for planes in [0..<one.planeCount, 3..<7, (one.planeCount - 2)..<one.planeCount] {
            let packed = exact(threads: 1, range: 0..<count)
            packed.pack(packed.cells.baseAddress, valuesPerCell: 2)
            packed.pack(packed.cells.baseAddress + 2 * n, valuesPerCell: 1)
            packed.unpack(packed.cells.baseAddress, valuesPerCell: 2, planes: planes)
            packed.unpack(packed.cells.baseAddress + 2 * n, valuesPerCell: 1, planes: planes)
            let cells = packed.cells.toArray()
            XCTAssertEqual(cells[(2 * plane * planes.lowerBound)..<(2 * plane * planes.upperBound)],
                           whole[(2 * plane * planes.lowerBound)..<(2 * plane * planes.upperBound)], "numerators \(planes)")
            XCTAssertEqual(cells[(2 * n + plane * planes.lowerBound)..<(2 * n + plane * planes.upperBound)],
                           whole[(2 * n + plane * planes.lowerBound)..<(2 * n + plane * planes.upperBound)], "weights \(planes)")
        }
        // Two "ranks" holding 4 and 5 slices, summed as an integer allreduce would.
        let first = exact(threads: 2, range: 0..<4), second = exact(threads: 1, range: 4..<count)
        XCTAssertEqual(one.cells.toArray(), zip(first.cells.toArray(), second.cells.toArray()).map { $0 &+ $1 },
                       "split between accumulators")

        var maxN = 0.0, errN = 0.0, maxW = 0.0, errW = 0.0, visited = 0
        one.forEachCell { i, numerator, weight in
            let n = SIMD2<Double>(reference.numerator[i]), w = Double(reference.weight[i])
            errN = max(errN, abs(numerator.x - n.x), abs(numerator.y - n.y))
            errW = max(errW, abs(weight - w))
            maxN = max(maxN, abs(n.x), abs(n.y))
            maxW = max(maxW, w)
            visited += 1
        }
        var referenceCells = 0
        for i in 0..<grid.count where reference.weight[i] > 0 { referenceCells += 1 }
        XCTAssertEqual(visited, referenceCells, "every cell the float back-projection reached, and no other")
        XCTAssertLessThan(errN, 1e-5 * maxN)
        XCTAssertLessThan(errW, 1e-5 * maxW)
    }

    func testScaleLeavesHeadroomForTheWorstCase() {
        let scale = ExactBackProjector.scale(maxAbsoluteValue: 3.7e4, sliceCount: 1_000)
        XCTAssertEqual(scale.significandBitPattern, 0, "a power of two")
        XCTAssertLessThan(3.7e4 * 1_000 * 16 * scale, 0x1p62)
        XCTAssertGreaterThan(3.7e4 * 1_000 * 16 * scale, 0x1p60)
        XCTAssertEqual(ExactBackProjector.scale(maxAbsoluteValue: 0, sliceCount: 5), 1)
    }
}
