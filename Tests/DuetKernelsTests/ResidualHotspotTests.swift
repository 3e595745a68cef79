import DuetCore
@testable import DuetKernels
import XCTest

final class ResidualHotspotTests: XCTestCase {
    /// The half plane of a real `box`² image (plain FFTW transform).
    private func spectrum(_ image: [Float], box: Int) -> AlignedBuffer<SIMD2<Float>> {
        let fft = RealFFT<Float>(imageWidth: box, height: box)
        let out = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        image.withUnsafeBufferPointer { fft.forward($0.baseAddress!, out.baseAddress) }
        return out
    }

    private func gaussian(box: Int, centre: SIMD2<Double>, sigma_px: Double, peak: Double) -> [Float] {
        (0..<(box * box)).map { i in
            let d = SIMD2(Double(i % box), Double(i / box)) - centre
            return Float(peak * exp(-(d * d).sum() / (2 * sigma_px * sigma_px)))
        }
    }

    /// With no model and every coefficient in the band, the residual is the image less its mean: the ratio equals
    /// a brute-force periodic window search over that image.
    func testRatioIsTheLargestWindowMeanOverTheImageMean() {
        let box = 16, window = 5
        var random = SeededGenerator(seed: 7)
        let image = (0..<(box * box)).map { _ in Float.random(in: -1...1, using: &random) }
        let mean = image.reduce(0, +) / Float(box * box)
        let squared = image.map { Double(($0 - mean) * ($0 - mean)) }
        var peak = 0.0
        for y0 in 0..<box {
            for x0 in 0..<box {
                var sum = 0.0
                for dy in 0..<window {
                    for dx in 0..<window { sum += squared[((y0 + dy) % box) * box + (x0 + dx) % box] }
                }
                peak = max(peak, sum / Double(window * window))
            }
        }
        let expected = peak / (squared.reduce(0, +) / Double(box * box))

        let x = spectrum(image, box: box)
        let zero = AlignedBuffer<SIMD2<Float>>(count: x.count)
        let ctf = AlignedBuffer<Float>([Float](repeating: 1, count: x.count))
        let hotspot = ResidualHotspot(box: box, radius_px: box, window_px: window,
                                      noiseVariance: NoiseSpectrum(shells: [Double](repeating: 4, count: box + 1)))
        XCTAssertEqual(hotspot.ratio(image: x.baseAddress, ctf: ctf.baseAddress, projection: zero.baseAddress),
                       expected, accuracy: 1e-5 * expected)
    }

    /// A particle the model explains (at any contrast) leaves noise only; a second blob beside it stands out.
    func testAnUnexplainedNeighbourRaisesTheRatio() {
        let box = 48, centre = SIMD2(24.0, 24.0)
        var random = SeededGenerator(seed: 11)
        let noise = (0..<(box * box)).map { _ in Float.random(in: -1.7...1.7, using: &random) }   // σ ≈ 1
        let particle = gaussian(box: box, centre: centre, sigma_px: 4, peak: 3)
        let neighbour = gaussian(box: box, centre: centre + SIMD2(16, 3), sigma_px: 4, peak: 3)
        let model = spectrum(gaussian(box: box, centre: centre, sigma_px: 4, peak: 1), box: box)
        let ctf = AlignedBuffer<Float>([Float](repeating: 1, count: model.count))
        let sigma2 = Double(box * box) / 2
        let hotspot = ResidualHotspot(box: box, radius_px: 8, window_px: 9,
                                      noiseVariance: NoiseSpectrum(shells: [Double](repeating: sigma2, count: box)))
        func ratio(_ image: [Float]) -> Double {
            let x = spectrum(image, box: box)
            return hotspot.ratio(image: x.baseAddress, ctf: ctf.baseAddress, projection: model.baseAddress)
        }
        let alone = ratio(zip(particle, noise).map { $0 + $1 })
        let brighter = ratio(zip(particle, noise).map { 2.5 * $0 + $1 })
        let overlapped = ratio(zip(zip(particle, neighbour), noise).map { $0.0 + $0.1 + $1 })
        XCTAssertLessThan(alone, 4)   // the noise's own largest window: 2.8 here
        XCTAssertEqual(brighter, alone, accuracy: 1e-3 * alone, "the model's scale is fitted")
        XCTAssertGreaterThan(overlapped, 3 * alone)   // 15.0 here
    }
}
