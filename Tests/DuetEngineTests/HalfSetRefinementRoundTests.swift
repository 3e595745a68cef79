@testable import DuetEngine
import XCTest

final class HalfSetRefinementRoundTests: XCTestCase {
    /// The Wiener weight of a whole half is `2f / (1 + f)` of its sub-halves' FSC `f`, and nothing from the first
    /// shell where that falls below the search floor (0.5) on, even where `f` rises again: `f` = 0.2 gives 0.33.
    func testWienerWeightsFromTheSubHalfFSC() {
        XCTAssertEqual(HalfSetRefinementRound.searchWeightFloor, 0.5)
        let weights = HalfSetRefinementRound.wienerWeights(chainFSC: [1, 0.9, 0.5, 0.2, 0.6, -0.2])
        XCTAssertEqual(weights[0], 1)
        XCTAssertEqual(weights[1], 1.8 / 1.9, accuracy: 1e-12)
        XCTAssertEqual(weights[2], 1.0 / 1.5, accuracy: 1e-12)
        XCTAssertEqual(Array(weights[3...]), [0, 0, 0])
    }
}

final class NoiseModelTests: XCTestCase {
    /// The symmetric model keeps one σ² per shell, the white one their mean over the coefficients; an update weighs
    /// the previous estimate as `priorWeight` coefficients against the residuals' coefficients.
    func testWhiteAndSymmetricModelsAndThePriorWeight() {
        let box = 8
        let start = (0..<box).map { 1 + Double($0) }
        XCTAssertEqual(NoiseModel(variance: start, priorWeight: 50, kind: .symmetric).variance, start)
        let white = NoiseModel(variance: start, priorWeight: 50, kind: .white).variance
        XCTAssertEqual(Set(white).count, 1)
        XCTAssertGreaterThan(white[0], start[0])
        XCTAssertLessThan(white[0], start[box - 1])

        var model = NoiseModel(variance: [Double](repeating: 1, count: box), priorWeight: 100, kind: .symmetric)
        var counts = [Double](repeating: 0, count: box)
        NoiseModel.forEachCoefficient(box: box, radius_px: 3) { _, shell in counts[shell] += 150 }
        model.update(residualPower: counts.map { 3 * $0 }, counts: counts)   // residual σ² = 3
        for s in 0..<box {
            let expected = counts[s] > 0 ? (100 + 3 * counts[s]) / (100 + counts[s]) : 1
            XCTAssertEqual(model.variance[s], expected, accuracy: 1e-12, "shell \(s)")
        }
    }
}
