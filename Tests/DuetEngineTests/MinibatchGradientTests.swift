import DuetComm
import DuetCore
@testable import DuetEngine
import DuetKernels
import XCTest

final class MinibatchGradientTests: XCTestCase {
    func testImageGroupsKeepWithinTheBudget() {
        XCTAssertEqual(MinibatchGradient.imageGroups(poseCounts: [3, 4, 2, 9, 1, 1], budget: 7), [0..<2, 2..<3, 3..<4, 4..<6])
        XCTAssertEqual(MinibatchGradient.imageGroups(poseCounts: [3, 4], budget: 100), [0..<2])
        XCTAssertEqual(MinibatchGradient.imageGroups(poseCounts: [], budget: 5), [])
    }

    /// When all slices fit one budget, their largest value sets the fixed-point scale; otherwise `DataTerm.gradientBound`
    /// does, and then any grouping and any split of the images over ranks give the same accumulator, bit for bit,
    /// whose values agree with the one-group accumulator's to its fixed-point resolution.
    func testGroupedGradientIsIndependentOfGroupsAndRanks() throws {
        let box = CoarseToFineSearchTests.box
        let grid = FourierGrid(box: box)
        let volume = FourierVolume(map: CoarseToFineSearchTests.blobMap([[3, 1, 0], [-4, 2, 3]]), grid: grid)
        let other = FourierVolume(map: CoarseToFineSearchTests.blobMap([[2, -1, 1], [-3, 3, 2]]), grid: grid)
        let images = PoseImageBatch(box: box, count: 3)
        var poses = [[WeightedPose]]()
        for i in 0..<3 {
            let rotation = Rotation(axisAngle: [0.2 * Double(i), 0.5, -0.1])
            other.project(rotation: rotation, into: images.spectra.baseAddress + i * images.complexCount)
            (images.ctfs.baseAddress + i * images.complexCount).update(repeating: 1, count: images.complexCount)
            poses.append((0..<(2 + i)).map {
                WeightedPose(rotation: Rotation(axisAngle: [0.2 * Double(i), 0.5, -0.1 + 0.05 * Double($0)]),
                             shift_px: [0.5 * Double($0), 0], weight: 1 / Double(2 + i))
            })
        }
        let noise = NoiseSpectrum(shells: [Double](repeating: 1, count: box))
        let allPoses = poses
        /// The accumulator's summed cells (numerators then weights) and scale, the images split over `ranks` ranks
        /// (rank 0 the first image), each rank holding the sums of its own planes.
        func cells(budget_bytes: Int, ranks: Int = 1) throws -> (cells: [Int64], scale: Double) {
            let perRank = try LocalCommunicator.run(size: ranks) { c in
                let mine = ranks == 1 ? Array(0..<3) : (c.rank == 0 ? [0] : [1, 2])
                let summed = try MinibatchGradient(budget_bytes: budget_bytes)
                    .accumulate(volume: volume, batch: images.subset(mine), poses: mine.map { allPoses[$0] },
                                noiseVariance: noise, radius_px: 10, grid: grid, threads: 2, communicator: c)
                let a = summed.accumulator, n = a.regionCount, plane = a.cellsPerPlane, own = summed.ownPlanes
                let cells = a.cells.buffer
                return (numerators: Array(cells[(2 * plane * own.lowerBound)..<(2 * plane * own.upperBound)]),
                        weights: Array(cells[(2 * n + plane * own.lowerBound)..<(2 * n + plane * own.upperBound)]),
                        scale: a.scale, shares: summed.shares)
            }
            XCTAssertTrue(perRank.allSatisfy { $0.scale == perRank[0].scale && $0.shares == perRank[0].shares })
            XCTAssertEqual(perRank[0].shares.map(\.count).reduce(0, +), 2 * Int(grid.scale * 10 + 1) + 1)
            return (cells: perRank.flatMap(\.numerators) + perRank.flatMap(\.weights), scale: perRank[0].scale)
        }
        let bytesPerSlice = images.complexCount * 12
        let whole = try cells(budget_bytes: 100 * bytesPerSlice)
        XCTAssertTrue(whole.cells.contains { $0 != 0 })
        XCTAssertEqual(try cells(budget_bytes: 100 * bytesPerSlice, ranks: 2).cells, whole.cells)
        let grouped = try cells(budget_bytes: 3 * bytesPerSlice)
        XCTAssertEqual(try cells(budget_bytes: 1).cells, grouped.cells)
        XCTAssertEqual(try cells(budget_bytes: 3 * bytesPerSlice, ranks: 2).cells, grouped.cells)
        // The bound is above the largest value, within a small factor of it.
        XCTAssertLessThan(grouped.scale, whole.scale)
        XCTAssertGreaterThanOrEqual(grouped.scale, whole.scale / 64)
        let largest = whole.cells.map { abs(Double($0)) / whole.scale }.max()!
        let difference = zip(whole.cells, grouped.cells).map { abs(Double($0) / whole.scale - Double($1) / grouped.scale) }.max()!
        XCTAssertLessThan(difference, 1e-6 * largest)
    }
}
