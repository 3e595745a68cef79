import DuetKernels
import Foundation
import XCTest

final class RealSpaceTests: XCTestCase {
    typealias C = RealSpaceConstraints

    /// Sum of isotropic Gaussian blobs (centre in voxel indices, σ in voxels, amplitude), `box³`, x fastest.
    static func blobs(box: Int, _ list: [(SIMD3<Double>, Double, Double)]) -> [Float] {
        var m = [Float](repeating: 0, count: box * box * box)
        for z in 0..<box {
            for y in 0..<box {
                for x in 0..<box {
                    var v = 0.0
                    for (c, sigma, a) in list {
                        let d = SIMD3(Double(x), Double(y), Double(z)) - c
                        v += a * exp(-(d * d).sum() / (2 * sigma * sigma))
                    }
                    m[x + box * (y + box * z)] = Float(v)
                }
            }
        }
        return m
    }

    /// A smooth, band-limited test map: blobs near the centre, σ ≥ 2 voxels (negligible power beyond Nyquist and
    /// at the box edge).
    static func testMap(box: Int, sigma: Double = 2) -> [Float] {
        let c = Double(box / 2)
        return blobs(box: box, [(SIMD3(c + 3, c - 2, c + 1), sigma, 1.0),
                                (SIMD3(c - 4, c + 1.5, c - 2.5), sigma * 1.3, 0.7),
                                (SIMD3(c + 0.5, c + 3.5, c - 3), sigma, -0.4)])
    }

    static func maxAbs(_ v: SIMD3<Double>) -> Double { max(abs(v.x), abs(v.y), abs(v.z)) }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var num = 0.0, den = 0.0
        for i in 0..<a.count {
            let d = Double(a[i]) - Double(b[i])
            num += d * d
            den += Double(b[i]) * Double(b[i])
        }
        return (num / den).squareRoot()
    }

    // MARK: FourierVolume.map()

    func testMapInvertsInitEvenAndOddBox() {
        for (box, radius, sigma, gridding) in [(32, nil, 2.0, true), (33, nil, 2.0, true), (32, nil, 2.0, false),
                                                (48, 12, 3.5, true), (25, nil, 1.8, true)] as [(Int, Int?, Double, Bool)] {
            let grid = FourierGrid(box: box, maxRadius_px: radius)
            let m = Self.testMap(box: box, sigma: sigma)
            let volume = FourierVolume(map: m, grid: grid, griddingCorrection: gridding)
            let back = volume.map(griddingCorrection: gridding)
            let err = Self.relativeError(back, m)
            XCTAssertLessThan(err, 1e-3, "box \(box) radius \(radius ?? box / 2) gridding \(gridding)")
            print("map(init(m)) box \(box) r \(radius ?? box / 2) gridding \(gridding): relative error \(err)")
        }
    }

    func testInitOfMapReproducesData() {
        for box in [32, 33] {
            let grid = FourierGrid(box: box)
            let v = FourierVolume(map: Self.testMap(box: box), grid: grid)
            let v2 = FourierVolume(map: v.map(), grid: grid)
            let r2 = grid.sphereRadius * grid.sphereRadius, h = grid.halfExtent
            var num = 0.0, den = 0.0
            for z in -h...h {
                for y in -h...h {
                    for x in 0...h {
                        let i = grid.index(x: x, y: y, z: z)
                        if x * x + y * y + z * z > r2 {
                            XCTAssertEqual(v2.data[i], .zero)
                            continue
                        }
                        let d = SIMD2<Double>(v2.data[i] - v.data[i])
                        num += (d * d).sum()
                        den += (SIMD2<Double>(v.data[i]) * SIMD2<Double>(v.data[i])).sum()
                    }
                }
            }
            let err = (num / den).squareRoot()
            XCTAssertLessThan(err, 1e-3, "box \(box)")
            print("init(map(v)) box \(box): relative error of data \(err)")
        }
    }

    // MARK: Non-negativity and window

    func testClampNegative() {
        var m: [Float] = [-1, 0, 2.5, -0.001, .nan, 3, -.infinity, .infinity]
        let changed = C.clampNegative(&m)
        XCTAssertEqual(changed, 4)
        XCTAssertEqual(m, [0, 0, 2.5, 0, 0, 3, 0, .infinity])
    }

    func testSphericalWindowValues() {
        for box in [32, 33] {
            let c = box / 2
            var m = [Float](repeating: 2, count: box * box * box)
            C.applySphericalWindow(&m, box: box, innerRadius_px: 8, outerRadius_px: 12)
            func at(_ x: Int, _ y: Int, _ z: Int) -> Float { m[x + box * (y + box * z)] }
            XCTAssertEqual(at(c, c, c), 2)
            XCTAssertEqual(at(c + 8, c, c), 2)            // r_in: still 1
            XCTAssertEqual(at(c, c - 8, c), 2)
            XCTAssertEqual(at(c, c, c + 10), 1, accuracy: 1e-6)   // midway: ½
            XCTAssertEqual(at(c - 10, c, c), 1, accuracy: 1e-6)
            XCTAssertEqual(at(c, c + 12, c), 0)            // r_out: 0
            XCTAssertEqual(at(c + 9, c, c), Float(2 * (0.5 + 0.5 * cos(Double.pi / 4))), accuracy: 1e-6)
            XCTAssertEqual(at(0, 0, 0), 0)
            // (6, 6, 6) from the centre: r = √108 ≈ 10.39
            let r = 108.0.squareRoot()
            XCTAssertEqual(at(c + 6, c + 6, c - 6), Float(2 * (0.5 + 0.5 * cos(Double.pi * (r - 8) / 4))), accuracy: 1e-6)
            for i in 0..<m.count { XCTAssert(m[i] >= 0 && m[i] <= 2) }
        }
        XCTAssertEqual(C.sphericalWindowWeight(radius: 10, innerRadius_px: 8, outerRadius_px: 12), 0.5, accuracy: 1e-15)
    }

    // MARK: Re-centring

    func testRecentreOffCentreBlob() {
        for box in [32, 33] {
            let c = Double(box / 2)
            let offset = SIMD3<Double>(3.3, -2.7, 1.6)
            var m = Self.blobs(box: box, [(SIMD3(repeating: c) + offset, 2.5, 1)])
            let before = C.centreOfMass(m, box: box)!
            XCTAssertLessThan(Self.maxAbs(before - (SIMD3(repeating: c) + offset)), 1e-4)
            let s = C.recentre(&m, box: box)
            XCTAssertLessThan(Self.maxAbs(s + offset), 1e-4, "box \(box) shift \(s)")
            let after = C.centreOfMass(m, box: box)!
            XCTAssertLessThan(Self.maxAbs(after - SIMD3(repeating: c)), 0.05, "box \(box) centre \(after)")
            // The shifted map is the blob at the centre.
            let expected = Self.blobs(box: box, [(SIMD3(repeating: c), 2.5, 1)])
            let err = Self.relativeError(m, expected)
            XCTAssertLessThan(err, 1e-4)
            print("recentre box \(box): shift \(s), centre after \(after), relative error \(err)")
        }
    }

    func testRecentreCentredMapUnchanged() {
        for box in [32, 33] {
            let c = Double(box / 2)
            let m = Self.blobs(box: box, [(SIMD3(repeating: c), 3, 1)])
            var n = m
            let s = C.recentre(&n, box: box)
            XCTAssertLessThan(Self.maxAbs(s), 1e-5)
            var maxDiff: Float = 0
            for i in 0..<m.count { maxDiff = max(maxDiff, abs(n[i] - m[i])) }
            XCTAssertLessThan(maxDiff, 1e-5, "box \(box)")
        }
    }

    func testShiftIntegerMatchesRoll() {
        let box = 16
        var random = KernelTestSupport.Random(seed: 7)
        var m = random.floats(box * box * box)
        let original = m
        C.shift(&m, box: box, by: SIMD3(2, -3, 5))
        for z in 0..<box {
            for y in 0..<box {
                for x in 0..<box {
                    let src = (x - 2 + box) % box + box * ((y + 3) % box + box * ((z - 5 + box) % box))
                    XCTAssertEqual(m[x + box * (y + box * z)], original[src], accuracy: 1e-5)
                }
            }
        }
    }
}
