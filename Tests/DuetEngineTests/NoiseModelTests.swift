import DuetKernels
import XCTest
@testable import DuetEngine

final class NoiseModelTests: XCTestCase {
    /// The symmetric model keeps one σ² per shell, the white one their mean over the coefficients, the coloured one
    /// a σ² per coefficient (each its shell's at the start); an update weighs the previous estimate as `priorWeight`
    /// coefficients per shell against the residuals' coefficients.
    func testWhiteSymmetricAndColouredModelsAndThePriorWeight() {
        let box = 8
        let start = (0..<box).map { 1 + Double($0) }
        XCTAssertEqual(NoiseModel(shells: start, priorWeight: 50, kind: .symmetric).variance, NoiseSpectrum(shells: start))
        let white = NoiseModel(shells: start, priorWeight: 50, kind: .white).variance.values
        XCTAssertEqual(Set(white).count, 1)
        XCTAssertGreaterThan(white[0], start[0])
        XCTAssertLessThan(white[0], start[box - 1])
        let coloured = NoiseModel(shells: start, priorWeight: 50, kind: .coloured).variance
        XCTAssertEqual(coloured.layout, .coefficients(box: box))
        NoiseModel.forEachCoefficient(box: box, radius_px: box) { k, shell in
            XCTAssertEqual(coloured.variance(halfPlaneIndex: k, shell: shell), start[shell])
        }

        var model = NoiseModel(shells: [Double](repeating: 1, count: box), priorWeight: 100, kind: .symmetric)
        var counts = [Double](repeating: 0, count: box)
        NoiseModel.forEachCoefficient(box: box, radius_px: 3) { _, shell in counts[shell] += 150 }
        model.update(residualPower: counts.map { 3 * $0 }, counts: counts)   // residual σ² = 3
        for s in 0..<box {
            let expected = counts[s] > 0 ? (100 + 3 * counts[s]) / (100 + counts[s]) : 1
            XCTAssertEqual(model.variance.values[s], expected, accuracy: 1e-12, "shell \(s)")
        }
    }

    /// The coloured model follows each coefficient's own residual power (a direction-dependent noise, stronger
    /// along x than along y, is learnt as such), each coefficient weighing its share of its shell's prior weight;
    /// its fixed-point sums are exact, so ranks may add them in any order.
    func testColouredModelLearnsDirectionDependentNoise() {
        let box = 8, images = 150, prior = 100.0
        var model = NoiseModel(shells: [Double](repeating: 1, count: box), priorWeight: prior, kind: .coloured)
        let perShell = NoiseModel.coefficientCounts(box: box)
        var sums = [Int64](repeating: 0, count: box * (box / 2 + 1))
        var truth = [Double](repeating: 1, count: sums.count)
        let hx = box / 2 + 1
        NoiseModel.forEachCoefficient(box: box, radius_px: 3) { k, _ in
            let kx = k % hx, row = k / hx, ky = row <= box / 2 ? row : row - box
            truth[k] = kx * kx >= ky * ky ? 4 : 2     // more noise power towards the x axis
            for _ in 0..<images { sums[k] += NoiseModel.fixedPoint(truth[k], unit: 1) }
        }
        model.update(residualSums: sums, imageCount: images, radius_px: 3)
        NoiseModel.forEachCoefficient(box: box, radius_px: box) { k, shell in
            let r2 = { let kx = k % hx, row = k / hx, ky = row <= box / 2 ? row : row - box; return kx * kx + ky * ky }()
            let w = prior / perShell[shell]
            let expected = r2 <= 9 ? (w + Double(images) * truth[k]) / (w + Double(images)) : 1
            XCTAssertEqual(model.variance.variance(halfPlaneIndex: k, shell: shell), expected, accuracy: 1e-9,
                           "coefficient \(k)")
        }
        XCTAssertEqual(NoiseModel.value(NoiseModel.fixedPoint(0.3, unit: 2) * 1000, unit: 2), 300, accuracy: 1e-6)
    }
}
