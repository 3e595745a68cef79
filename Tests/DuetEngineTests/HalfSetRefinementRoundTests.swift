@testable import DuetEngine
import XCTest

final class HalfSetRefinementRoundTests: XCTestCase {
    /// The Wiener weight of a whole half is `2f / (1 + f)` of its sub-halves' FSC `f`, and nothing from the first
    /// shell where that falls below 0.143 on, even where `f` rises again.
    func testWienerWeightsFromTheSubHalfFSC() {
        let weights = HalfSetRefinementRound.wienerWeights(chainFSC: [1, 0.9, 0.5, 0.05, 0.3, -0.2])
        XCTAssertEqual(weights[0], 1)
        XCTAssertEqual(weights[1], 1.8 / 1.9, accuracy: 1e-12)
        XCTAssertEqual(weights[2], 1.0 / 1.5, accuracy: 1e-12)
        XCTAssertEqual(Array(weights[3...]), [0, 0, 0])
    }
}

final class NoiseModelTests: XCTestCase {
    /// The symmetric model keeps one σ² per shell; the white one their mean over the coefficients. An update with
    /// the previous estimate weighing `priorw` images against `n` images' residuals moves σ² by `n / (n + priorw)`
    /// of the way to the residual power, in every shell alike.
    func testWhiteAndSymmetricModelsAndThePriorWeightInImages() {
        let box = 8
        let start = (0..<box).map { 1 + Double($0) }
        XCTAssertEqual(NoiseModel(variance: start, priorWeight_images: 50, kind: .symmetric).variance, start)
        let white = NoiseModel(variance: start, priorWeight_images: 50, kind: .white).variance
        XCTAssertEqual(Set(white).count, 1)
        XCTAssertGreaterThan(white[0], start[0])
        XCTAssertLessThan(white[0], start[box - 1])

        var model = NoiseModel(variance: [Double](repeating: 1, count: box), priorWeight_images: 50, kind: .symmetric)
        let images = 150
        var counts = [Double](repeating: 0, count: box)
        NoiseModel.forEachCoefficient(box: box, radius_px: 3) { _, shell in counts[shell] += Double(images) }
        model.update(residualPower: counts.map { 3 * $0 }, counts: counts, imageCount: images)   // residual σ² = 3
        for s in 0..<box {
            XCTAssertEqual(model.variance[s], counts[s] > 0 ? 1 + 2 * 150.0 / 200 : 1, accuracy: 1e-12, "shell \(s)")
        }
    }
}
