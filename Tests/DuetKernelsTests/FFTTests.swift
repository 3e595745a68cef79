import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

final class FFTTests: XCTestCase {
    typealias R = KernelTestSupport.Random

    func testRoundTripFloatAndDouble() {
        var random = R(seed: 1)
        for shape in [[64, 64], [65, 65], [31, 48], [16, 16, 16], [15, 15, 15], [12, 10, 9]] {
            let n = shape.reduce(1, *)
            let x = random.floats(n)
            let fft = RealFFT<Float>(shape: shape)
            let back = fft.inverse(fft.forward(x))
            let err = zip(x, back).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 2e-6, "Float round trip \(shape)")
            let xd = x.map(Double.init)
            let fftd = RealFFT<Double>(shape: shape)
            let backd = fftd.inverse(fftd.forward(xd))
            XCTAssertLessThan(zip(xd, backd).map { abs($0 - $1) }.max()!, 1e-13, "Double round trip \(shape)")
        }
    }

    /// Parseval with FFTW's half spectrum: Σ|x|² = (1/N)·Σ over the full spectrum, where half-axis columns other
    /// than 0 and (for even n) n/2 stand for two coefficients.
    func testParseval() {
        var random = R(seed: 2)
        for shape in [[64, 64], [65, 65], [20, 21, 22], [15, 15, 15]] {
            let n = shape.reduce(1, *), nx = shape.last!, hx = nx / 2 + 1
            let x = random.floats(n).map(Double.init)
            let f = RealFFT<Double>(shape: shape).forward(x)
            var energy = 0.0
            for (i, c) in f.enumerated() {
                let k = i % hx
                let multiplicity = (k == 0 || (nx % 2 == 0 && k == nx / 2)) ? 1.0 : 2.0
                energy += multiplicity * (c * c).sum()
            }
            let direct = x.reduce(0) { $0 + $1 * $1 }
            XCTAssertEqual(energy / Double(n), direct, accuracy: 1e-10 * direct, "Parseval \(shape)")
        }
    }

    func testAgreesWithNumPyEvenAndOdd() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var random = R(seed: 3)
        for shape in [[64, 64], [65, 65], [24, 17], [16, 16, 16], [15, 14, 13]] {
            let n = shape.reduce(1, *)
            let x = random.floats(n)
            let input = dir.appendingPathComponent("in.f32"), output = dir.appendingPathComponent("out.c128")
            try KernelTestSupport.write(x, to: input)
            _ = try KernelTestSupport.python("""
                import numpy as np
                x = np.fromfile('\(input.path)', dtype=np.float32).astype(np.float64).reshape(\(shape))
                np.fft.rfftn(x).astype(np.complex128).tofile('\(output.path)')
                """)
            let fft = RealFFT<Float>(shape: shape)
            let reference = try KernelTestSupport.read(SIMD2<Double>.self, count: fft.complexCount, from: output)
            let ours = fft.forward(x)
            let scale = reference.map { ($0 * $0).sum().squareRoot() }.max()!
            let err = zip(ours, reference).map { (SIMD2<Double>($0) - $1) }.map { ($0 * $0).sum().squareRoot() }.max()!
            XCTAssertLessThan(err / scale, 2e-6, "Float r2c vs numpy rfftn \(shape)")
            let oursD = RealFFT<Double>(shape: shape).forward(x.map(Double.init))
            let errD = zip(oursD, reference).map { $0 - $1 }.map { ($0 * $0).sum().squareRoot() }.max()!
            XCTAssertLessThan(errD / scale, 1e-12, "Double r2c vs numpy rfftn \(shape)")
        }
    }

    func testFrequencyIndexingMatchesNumPy() throws {
        let out = try KernelTestSupport.python("""
            import numpy as np
            for n in (8, 9, 64, 65):
                print(' '.join(str(int(v)) for v in np.fft.fftfreq(n) * n))
            """)
        let lines = out.split(separator: "\n")
        for (line, n) in zip(lines, [8, 9, 64, 65]) {
            let expected = line.split(separator: " ").map { Int($0)! }
            XCTAssertEqual((0..<n).map { FourierIndexing.signedFrequency(index: $0, size: n) }, expected)
            XCTAssertEqual(expected.map { FourierIndexing.index(frequency: $0, size: n) }, Array(0..<n))
        }
        XCTAssertEqual(FourierIndexing.halfCount(size: 64), 33)
        XCTAssertEqual(FourierIndexing.halfCount(size: 65), 33)
    }

    /// A delta at the centre `box/2` has all-ones centred coefficients, for even and odd boxes; a delta one pixel
    /// right of centre has `exp(−2πi kx/n)`. The centred inverse puts it back at `box/2`.
    func testCentringConvention() {
        for n in [8, 9, 64, 65] {
            var x = [Float](repeating: 0, count: n * n)
            x[n / 2 + n * (n / 2)] = 1
            let fft = RealFFT<Float>(imageWidth: n, height: n)
            let g = fft.forwardCentred(x)
            XCTAssertLessThan(g.map { abs($0.x - 1) + abs($0.y) }.max()!, 1e-5, "centred delta, n = \(n)")
            let back = fft.inverseCentred(g)
            XCTAssertLessThan(zip(x, back).map { abs($0 - $1) }.max()!, 1e-6)
            var shifted = [Float](repeating: 0, count: n * n)
            shifted[n / 2 + 1 + n * (n / 2)] = 1
            let h = fft.forwardCentred(shifted)
            for row in [0, 1, n - 1] {
                for kx in 0...(n / 2) {
                    let a = -2 * Double.pi * Double(kx) / Double(n)
                    let v = h[kx + (n / 2 + 1) * row]
                    XCTAssertEqual(Double(v.x), cos(a), accuracy: 1e-5)
                    XCTAssertEqual(Double(v.y), sin(a), accuracy: 1e-5)
                }
            }
        }
    }

    /// Multi-threaded batches (new-array execute) equal one-at-a-time transforms exactly, for aligned strides and
    /// for odd, unaligned strides (which use FFTW's unaligned plan).
    func testBatchesMatchSingleTransforms() {
        var random = R(seed: 4)
        for box in [64, 65] {
            let fft = RealFFT<Float>(imageWidth: box, height: box)
            let count = 9
            for (realStride, complexStride) in [(fft.realCount, fft.complexCount), (fft.realCount + 1, fft.complexCount + 1)] {
                let input = AlignedBuffer<Float>(random.floats(count * realStride))
                let output = AlignedBuffer<SIMD2<Float>>(count: count * complexStride)
                fft.forwardBatch(count: count, input: input.baseAddress, inputStride: realStride,
                                 output: output.baseAddress, outputStride: complexStride, threads: 3)
                for i in 0..<count {
                    let single = fft.forward(Array(input.buffer[(i * realStride)..<(i * realStride + fft.realCount)]))
                    let batch = Array(output.buffer[(i * complexStride)..<(i * complexStride + fft.complexCount)])
                    let diff = zip(single, batch).map { (a: SIMD2<Float>, b: SIMD2<Float>) -> Float in max(abs(a.x - b.x), abs(a.y - b.y)) }.max()!
                    // Same plan (aligned) → bit-identical; FFTW's unaligned plan may pick another algorithm.
                    let aligned = realStride == fft.realCount && box % 2 == 0
                    XCTAssertLessThanOrEqual(diff, aligned ? 0 : 1e-4, "box \(box) image \(i) stride \(realStride)")
                }
                let back = AlignedBuffer<Float>(count: count * realStride)
                fft.inverseBatch(count: count, input: output.baseAddress, inputStride: complexStride,
                                 output: back.baseAddress, outputStride: realStride, threads: 2)
                for i in 0..<count {
                    for j in 0..<fft.realCount {
                        XCTAssertEqual(back[i * realStride + j], input[i * realStride + j], accuracy: 2e-6)
                    }
                }
            }
        }
        XCTAssertGreaterThan(FFTPlanCache.shared.planCount, 0)
    }

    func testAlignedBufferIsAReference() {
        let a = AlignedBuffer<Float>(count: 10)
        let b = a
        b[3] = 7
        XCTAssertEqual(a[3], 7)
        XCTAssertEqual(Int(bitPattern: a.baseAddress) % 16, 0)
        XCTAssertEqual(a.toArray().reduce(0, +), 7)
    }
}
