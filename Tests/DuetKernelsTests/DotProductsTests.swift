@testable import DuetKernels
import XCTest

/// The pose search's tiled dot products and maximum (`DotProducts.swift`, `PosePosteriorKernel`) against the plain
/// ones: bit-identical, so that the search's results do not depend on which routine computed a value.
final class DotProductsTests: XCTestCase {
    typealias S = KernelTestSupport

    func testTiledDotProductsEqualSingleOnesBitwise() {
        var random = S.Random(seed: 5)
        for count in [32, 320, 3008] {
            let vectors = (0..<6).map { _ in (0..<count).map { _ in Float(random.next() * 1000) } }
            var out = [Double](repeating: .nan, count: 2 * 7)
            vectors.withUnsafeBufferPointers { v in
                out.withUnsafeMutableBufferPointer {
                    dotProducts4x2(v[0], v[1], v[2], v[3], v[4], v[5], count: count, into: $0.baseAddress!, rowStride: 7)
                }
                for r in 0..<2 {
                    for s in 0..<4 {
                        let single = dotProduct(v[s], v[4 + r], count: count)
                        XCTAssertEqual(out[r * 7 + s].bitPattern, single.bitPattern, "count \(count), a\(s)·b\(r)")
                    }
                }
            }
            XCTAssertTrue(out[4].isNaN, "a value outside the two rows of four was written")
        }
    }

    func testMaximumOfAnyCount() {
        var random = S.Random(seed: 6)
        for count in [1, 7, 8, 9, 69, 552] {
            let values = (0..<count).map { _ in random.next() * 1e4 - 5e3 }
            values.withUnsafeBufferPointer { XCTAssertEqual(maximum($0.baseAddress!, count: count), values.max()!) }
        }
    }
}

private extension Array where Element == [Float] {
    /// Calls `body` with a pointer to the storage of every inner array.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafePointer<Float>]) -> R) -> R {
        let copies = map { inner -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: inner.count)
            p.initialize(from: inner, count: inner.count)
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        return body(copies.map { UnsafePointer($0) })
    }
}
