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

    /// `gradientBound` is at or above the largest value of the slices it stands for, and not far above it; and
    /// `FourierVolume.maxModulus` is the largest stored modulus.
    func testGradientBoundCoversTheSlices() {
        let box = 16, radius = 7
        var random = SeededGenerator(seed: 22)
        let grid = FourierGrid(box: box)
        let volume = FourierVolume(grid: grid)
        var largestModulus: Float = 0
        for i in 0..<grid.count {
            volume.data[i] = SIMD2(Float(random.nextGaussian()), Float(random.nextGaussian()))
            largestModulus = max(largestModulus, (volume.data[i] * volume.data[i]).sum().squareRoot())
        }
        XCTAssertEqual(volume.maxModulus(threads: 2), Double(largestModulus), accuracy: 1e-6 * Double(largestModulus))
        let images = PoseImageBatch(box: box, count: 3)
        for i in 0..<(3 * images.complexCount) {
            images.spectra[i] = SIMD2(Float(random.nextGaussian()), Float(random.nextGaussian())) * 3
            images.ctfs[i] = Float(random.nextUnit() * 2 - 1)
        }
        let poses: [[WeightedPose]] = (0..<3).map { _ in
            (0..<4).map { _ in
                WeightedPose(rotation: Rotation(axisAngle: SIMD3(random.nextGaussian(), random.nextGaussian(),
                                                                 random.nextGaussian())),
                             shift_px: SIMD2(random.nextGaussian(), random.nextGaussian()), weight: random.nextUnit(),
                             scale: 0.5 + random.nextUnit())
            }
        }
        let noise = NoiseSpectrum(shells: (0...box).map { 0.5 + Double($0) * 0.1 })
        let slices = DataTerm.gradientSlices(volume: volume, images: images, poses: poses, noiseVariance: noise,
                                             radius_px: radius)
        let bound = DataTerm.gradientBound(volume: volume, images: images, poses: poses, noiseVariance: noise,
                                           radius_px: radius)
        XCTAssertGreaterThan(slices.maxAbsoluteValue, 0)
        XCTAssertGreaterThanOrEqual(bound, slices.maxAbsoluteValue)
        XCTAssertLessThan(bound, 20 * slices.maxAbsoluteValue)
    }
}
