import DuetCore
import DuetKernels
import XCTest

/// The SGD data term's gradient (back-projected weighted residuals) against central finite differences of the
/// objective, coefficient by coefficient, on a tiny problem with CTF, shifts and several weighted poses per image.
final class DataTermTests: XCTestCase {
    func testGradientMatchesFiniteDifferences() throws {
        let box = 12, radius = 5
        var random = SeededGenerator(seed: 21)
        let grid = FourierGrid(box: box)
        let volume = FourierVolume(grid: grid)
        for i in 0..<grid.count { volume.data[i] = SIMD2(Float(random.nextGaussian()), Float(random.nextGaussian())) }
        let images = PoseImageBatch(box: box, count: 2)
        for i in 0..<(2 * images.complexCount) {
            images.spectra[i] = SIMD2(Float(random.nextGaussian()), Float(random.nextGaussian()))
            images.ctfs[i] = Float(random.nextUnit() * 2 - 1)
        }
        func randomRotation() -> Rotation {
            Rotation(axisAngle: SIMD3(random.nextGaussian(), random.nextGaussian(), random.nextGaussian()))
        }
        let poses: [[WeightedPose]] = (0..<2).map { _ in
            (0..<3).map { _ in
                WeightedPose(rotation: randomRotation(), shift_px: SIMD2(random.nextGaussian(), random.nextGaussian()),
                             weight: random.nextUnit())
            }
        }
        let noise = NoiseSpectrum(shells: (0...box).map { 0.5 + Double($0) * 0.1 })
        let gradient = BackProjector(grid: grid)
        DataTerm.accumulateGradient(volume: volume, images: images, poses: poses, noiseVariance: noise,
                                    radius_px: radius, into: gradient)
        func objective() -> Double {
            DataTerm.objective(volume: volume, images: images, poses: poses, noiseVariance: noise, radius_px: radius)
        }
        // L is quadratic in V, so central differences are exact up to float rounding of the projections.
        var checked = 0, largest = 0.0
        for index in stride(from: 0, to: grid.count, by: 7) where gradient.weight[index] > 0 {
            for part in 0..<2 {
                let step: Float = 0.5
                let original = volume.data[index]
                var up = original, down = original
                up[part] += step
                down[part] -= step
                volume.data[index] = up
                let plus = objective()
                volume.data[index] = down
                let minus = objective()
                volume.data[index] = original
                let numeric = (plus - minus) / Double(2 * step)
                let analytic = Double(gradient.numerator[index][part])
                largest = max(largest, abs(analytic))
                XCTAssertEqual(analytic, numeric, accuracy: 1e-3 * max(1, abs(numeric)), "coefficient \(index) part \(part)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 40)
        XCTAssertGreaterThan(largest, 0.1, "the check must see a non-trivial gradient")
    }
}
