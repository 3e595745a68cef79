@testable import DuetKernels
import XCTest

/// `PaddedCubeTransform` against the full padded transform it stands for (`RealFFT.forwardCentred` /
/// `inverseCentred` on the zero-padded `2·box` cube), and its independence of the thread count.
final class PaddedCubeTransformTests: XCTestCase {
    typealias S = KernelTestSupport
    let box = 10, limit = 8

    /// A random map and the full padded cube's centred spectrum.
    private func problem() -> (map: [Float], spectrum: [SIMD2<Float>], fft: RealFFT<Float>) {
        var random = S.Random(seed: 31)
        let map = (0..<(box * box * box)).map { _ in Float(random.next()) }
        let p = 2 * box, o = p / 2 - box / 2
        var cube = [Float](repeating: 0, count: p * p * p)
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            cube[(o + x) + p * ((o + y) + p * (o + z))] = map[x + box * (y + box * z)]
        } } }
        let fft = RealFFT<Float>(cube: p, rigor: .estimate)
        return (map, fft.forwardCentred(cube), fft)
    }

    private func spectrumIndex(_ kx: Int, _ ky: Int, _ kz: Int) -> Int { Self.index(kx, ky, kz, padded: 2 * box) }

    private static func index(_ kx: Int, _ ky: Int, _ kz: Int, padded p: Int) -> Int {
        kx + (p / 2 + 1) * ((ky + p) % p + p * ((kz + p) % p))
    }

    func testForwardGivesThePaddedCubesCoefficientsInTheBall() {
        let (map, spectrum, _) = problem()
        let transform = PaddedCubeTransform(box: box, maxLimit: box - 1)
        let found = Found()
        map.withUnsafeBufferPointer { m in
            transform.forward(map: m.baseAddress!, limit: limit, threads: 2, share: .whole, transpose: { _, _, _, _, _, _, _ in }) { kx, ky, kz, value in
                found.add(kx, ky, kz, value)
            }
        }
        let ball = found.values
        var expectedCount = 0
        for kz in -limit...limit { for ky in -limit...limit { for kx in 0...limit
            where kx * kx + ky * ky + kz * kz <= limit * limit {
            expectedCount += 1
            guard let value = ball[[kx, ky, kz]] else { return XCTFail("(\(kx), \(ky), \(kz)) not emitted") }
            let reference = spectrum[spectrumIndex(kx, ky, kz)]
            XCTAssertEqual(Double(value.x), Double(reference.x), accuracy: 1e-4 * 30)
            XCTAssertEqual(Double(value.y), Double(reference.y), accuracy: 1e-4 * 30)
        } } }
        XCTAssertEqual(ball.count, expectedCount, "each frequency of the ball once, nothing outside")
    }

    func testInverseIsThePaddedCubesInverseOfTheBall() {
        let (_, spectrum, fft) = problem()
        // The reference: the full inverse of the spectrum cut to the ball, central box.
        var cut = [SIMD2<Float>](repeating: .zero, count: spectrum.count)
        for kz in -limit...limit { for ky in -limit...limit { for kx in 0...limit
            where kx * kx + ky * ky + kz * kz <= limit * limit {
            cut[spectrumIndex(kx, ky, kz)] = spectrum[spectrumIndex(kx, ky, kz)]
        } } }
        let cube = fft.inverseCentred(cut)
        let transform = PaddedCubeTransform(box: box, maxLimit: box - 1)
        let p = 2 * box, o = p / 2 - box / 2
        func run(threads: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: box * box * box)
            out.withUnsafeMutableBufferPointer { m in
                transform.inverse(limit: limit, threads: threads, share: .whole, transpose: { _, _, _, _, _, _, _ in }, into: m.baseAddress!) { kx, ky, kz in
                    spectrum[Self.index(kx, ky, kz, padded: p)]
                }
            }
            return out
        }
        let one = run(threads: 1)
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            XCTAssertEqual(one[x + box * (y + box * z)], cube[(o + x) + p * ((o + y) + p * (o + z))], accuracy: 1e-5)
        } } }
        XCTAssertEqual(run(threads: 3), one, "results must not depend on the thread count")
    }
}

/// Emitted coefficients, collected from concurrent workers.
private final class Found: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Int]: SIMD2<Float>] = [:]
    func add(_ kx: Int, _ ky: Int, _ kz: Int, _ value: SIMD2<Float>) {
        lock.lock()
        XCTAssertNil(values[[kx, ky, kz]], "emitted twice")
        values[[kx, ky, kz]] = value
        lock.unlock()
    }
}
