import DuetKernels
import XCTest

/// A subset of a batch is a view: its image `i` is the parent's image `indices[i]` (a subset of a subset too), read
/// without a copy, so what the parent's images hold when the subset is read is what the subset gives.
final class PoseImageBatchTests: XCTestCase {
    func testSubsetsViewTheParentsImages() {
        let batch = PoseImageBatch(box: 4, count: 5)
        let n = batch.complexCount
        for i in 0..<5 {
            batch.setImage(i, spectrum: (0..<n).map { SIMD2(Float(i), Float($0)) }, ctf: (0..<n).map { Float(10 * i + $0) })
        }
        let subset = batch.subset([4, 1, 3])
        let nested = subset.subset([2, 0])
        XCTAssertEqual(subset.count, 3)
        XCTAssertEqual(nested.count, 2)
        for (i, parent) in [4, 1, 3].enumerated() {
            XCTAssertEqual(subset.spectrum(i)[2], SIMD2(Float(parent), 2))
            XCTAssertEqual(subset.ctf(i)[n - 1], Float(10 * parent + n - 1))
        }
        XCTAssertEqual(nested.spectrum(0)[1], SIMD2(3, 1))
        XCTAssertEqual(nested.spectrum(1)[1], SIMD2(4, 1))
        XCTAssertEqual(nested.spectrum(1), batch.spectrum(4), "a view, not a copy")
        batch.spectrum(3)[0] = SIMD2(-7, -7)
        XCTAssertEqual(nested.spectrum(0)[0], SIMD2(-7, -7))
    }
}
