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

    /// Making and inserting the slices group by group (a budget of a few slices) gives the same accumulator, bit for
    /// bit, as one group holding every slice.
    func testGroupedGradientEqualsOneGroup() throws {
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
        func cells(budget_bytes: Int) throws -> [Int64] {
            let perRank = try LocalCommunicator.run(size: 1) { c in
                let a = try MinibatchGradient.accumulate(volume: volume, batch: images, poses: allPoses, noiseVariance: noise,
                                                         radius_px: 10, grid: grid, threads: 2, communicator: c,
                                                         budget_bytes: budget_bytes)
                return Array(a.cells.buffer)
            }
            return perRank[0]
        }
        let bytesPerSlice = images.complexCount * 12
        let whole = try cells(budget_bytes: 100 * bytesPerSlice)
        XCTAssertTrue(whole.contains { $0 != 0 })
        XCTAssertEqual(try cells(budget_bytes: 3 * bytesPerSlice), whole)
        XCTAssertEqual(try cells(budget_bytes: 1), whole)
    }
}
