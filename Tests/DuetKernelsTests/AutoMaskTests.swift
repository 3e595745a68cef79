import DuetCore
import DuetKernels
import Foundation
import XCTest

/// `AutoMask` and its pieces: the low-pass filter, the Euclidean distance transform (against brute force), the
/// connected components, and the mask itself on synthetic blob maps.
final class AutoMaskTests: XCTestCase {
    private static func noisy(_ map: [Float], sigma: Double, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return map.map { $0 + Float(sigma * rng.nextGaussian()) }
    }

    private static func position(_ i: Int, box: Int) -> SIMD3<Double> {
        SIMD3(Double(i % box), Double((i / box) % box), Double(i / (box * box)))
    }

    // MARK: pieces

    func testLowPassRemovesPowerBeyondTheCutOffAndKeepsItBelow() {
        let box = 32, pixel = 2.0, resolution = 8.0          // cut-off at Fourier radius 8, edge 7…9
        var rng = SeededGenerator(seed: 7)
        let volume = (0..<(box * box * box)).map { _ in Float(rng.nextGaussian()) }
        var filtered = volume
        LowPassFilter.apply(&filtered, box: box, pixelSize_A: pixel, resolution_A: resolution)
        let before = FourierShellCorrelation.shellPowerSpectrum(volume, box: box)
        let after = FourierShellCorrelation.shellPowerSpectrum(filtered, box: box)
        for s in 0...6 { XCTAssertEqual(after[s] / before[s], 1, accuracy: 1e-4, "shell \(s) is in the pass band") }
        for s in 10...(box / 2) { XCTAssertLessThan(after[s] / before[s], 1e-8, "shell \(s) is beyond the edge") }
        XCTAssertLessThan(after[8], before[8])
    }

    func testDistanceTransformMatchesBruteForce() {
        for (box, density) in [(12, 0.02), (11, 0.005), (9, 0.3)] {
            var rng = SeededGenerator(seed: UInt64(box))
            let inSet = (0..<(box * box * box)).map { _ in rng.nextUnit() < density }
            let points = inSet.indices.filter { inSet[$0] }.map { Self.position($0, box: box) }
            XCTAssertFalse(points.isEmpty)
            let distance = DistanceTransform.euclidean(inSet, box: box)
            for i in inSet.indices {
                let p = Self.position(i, box: box)
                let exact = points.map { (($0 - p) * ($0 - p)).sum() }.min()!.squareRoot()
                XCTAssertEqual(Double(distance[i]), exact, accuracy: 1e-5, "box \(box) voxel \(i)")
            }
        }
    }

    func testConnectedComponentsUseFaceNeighbours() {
        let box = 6
        var inSet = [Bool](repeating: false, count: box * box * box)
        let index = { (x: Int, y: Int, z: Int) in x + box * (y + box * z) }
        for x in 0..<3 { inSet[index(x, 1, 1)] = true }      // a rod of 3
        inSet[index(4, 4, 4)] = true                         // a single voxel …
        inSet[index(5, 5, 5)] = true                         // … and one touching it only at a corner
        let components = ConnectedComponents(inSet, box: box)
        XCTAssertEqual(components.sizes, [3, 1, 1])
        XCTAssertEqual(components.keeping(atLeast: 1).filter { $0 }.count, 3)
        XCTAssertEqual(components.keeping(atLeast: 0).filter { $0 }.count, 5)
    }

    // MARK: the mask

    /// Three overlapping blobs near the centre plus a separate one; two noisy halves.
    private let box = 64, pixel = 2.0
    private var blobList: [(SIMD3<Double>, Double, Double)] {
        let c = Double(box / 2)
        return [(SIMD3(c, c, c), 3, 1.0), (SIMD3(c + 5, c - 2, c + 1), 2.5, 0.7),
                (SIMD3(c - 4, c + 3, c - 2), 2, 0.5), (SIMD3(c - 2, c - 9, c + 8), 2, 0.6)]
    }

    func testMaskCoversTheDensityIsZeroFarAwayAndStaysInZeroOne() {
        let map = RealSpaceTests.blobs(box: box, blobList)
        let peak = map.max()!
        let result = AutoMask.make(halfA: Self.noisy(map, sigma: 0.05, seed: 1),
                                   halfB: Self.noisy(map, sigma: 0.05, seed: 2), box: box, pixelSize_A: pixel)
        XCTAssertGreaterThan(result.coreVoxelCount, 0)
        XCTAssertTrue(result.mask.allSatisfy { $0 >= 0 && $0 <= 1 }, "mask values in [0, 1]")
        var covered = 0, far = 0, lowestOnDensity: Float = 1, highestFarAway: Float = 0
        for i in map.indices {
            if map[i] > 0.1 * peak {
                lowestOnDensity = min(lowestOnDensity, result.mask[i])
                covered += 1
            }
            let p = Self.position(i, box: box)
            let nearest = blobList.map { ((($0.0 - p) * ($0.0 - p)).sum()).squareRoot() }.min()!
            if nearest > 24 {
                highestFarAway = max(highestFarAway, result.mask[i])
                far += 1
            }
        }
        XCTAssertGreaterThanOrEqual(lowestOnDensity, 0.99, "mask on the voxels above 10 % of the peak density")
        XCTAssertEqual(highestFarAway, 0, "mask farther than 24 px from every blob")
        XCTAssertGreaterThan(covered, 500)
        XCTAssertGreaterThan(far, box * box * box / 2)
        XCTAssertGreaterThan(result.threshold, result.solventMean + 3 * result.solventSigma - 1e-9)
        XCTAssertLessThan(result.volumeFraction, 0.2)
        print(String(format: "auto mask: threshold %.4f (peak %.4f, solvent %.4f ± %.4f), %d core voxels, %.1f %% of "
                     + "box, lowest on density %.4f", result.threshold, result.peak, result.solventMean,
                     result.solventSigma, result.coreVoxelCount, 100 * result.volumeFraction, lowestOnDensity))
    }

    func testSoftEdgeHasTheRequestedWidth() {
        let c = box / 2
        let map = RealSpaceTests.blobs(box: box, [(SIMD3(repeating: Double(c)), 3, 1.0)])
        /// The mask along the +x axis from the centre, the last voxel where it is 1 and the first where it is 0.
        func ray(dilation: Double, edge: Double) -> (values: [Float], lastOne: Int, firstZero: Int) {
            let parameters = AutoMaskParameters(dilation_px: dilation, softEdge_px: edge)
            let mask = AutoMask.make(halfA: map, halfB: map, box: box, pixelSize_A: pixel, parameters: parameters).mask
            let values = (0..<(box - c)).map { mask[(c + $0) + box * (c + box * c)] }
            return (values, values.lastIndex { $0 >= 1 }!, values.firstIndex { $0 == 0 }!)
        }
        let core = ray(dilation: 0, edge: 0)
        XCTAssertEqual(core.firstZero, core.lastOne + 1, "binary mask")
        for (dilation, edge) in [(3.0, 6.0), (2.0, 10.0), (5.0, 3.0)] {
            let (values, lastOne, firstZero) = ray(dilation: dilation, edge: edge)
            for r in 1..<values.count { XCTAssertLessThanOrEqual(values[r], values[r - 1], "mask falls monotonically") }
            // On a grid the distance along the axis is within a voxel of the continuous one.
            XCTAssertEqual(Double(lastOne - core.lastOne), dilation, accuracy: 1, "dilation \(dilation)")
            XCTAssertEqual(Double(firstZero - lastOne), edge, accuracy: 1, "soft edge \(edge)")
            let midway = values[lastOne + Int(edge / 2)]
            XCTAssertEqual(Double(midway), 0.5, accuracy: 0.5 * .pi / edge + 0.01, "cosine edge passes ½ midway")
        }
    }

    func testComponentFilterDropsASmallDistantBlob() {
        let c = Double(box / 2)
        let map = RealSpaceTests.blobs(box: box, [(SIMD3(c, c, c), 4, 1.0), (SIMD3(c + 22, c, c), 1.5, 1.0)])
        let small = Int(c + 22) + box * (Int(c) + box * Int(c))
        let all = AutoMask.make(halfA: map, halfB: map, box: box, pixelSize_A: pixel,
                                parameters: AutoMaskParameters(minimumComponentFraction: 0))
        let largest = AutoMask.make(halfA: map, halfB: map, box: box, pixelSize_A: pixel,
                                    parameters: AutoMaskParameters(minimumComponentFraction: 1))
        XCTAssertEqual(all.mask[small], 1)
        XCTAssertEqual(largest.mask[small], 0)
        XCTAssertLessThan(largest.coreVoxelCount, all.coreVoxelCount)
    }

    func testFlatMapGivesAMaskOfOnes() {
        let flat = [Float](repeating: 0.25, count: 16 * 16 * 16)
        let result = AutoMask.make(halfA: flat, halfB: flat, box: 16, pixelSize_A: 3)
        XCTAssertEqual(result.coreVoxelCount, 0)
        XCTAssertTrue(result.mask.allSatisfy { $0 == 1 })
    }
}
