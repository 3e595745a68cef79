import DuetEngine
import XCTest

/// The defaults that follow the data: the shift range from the box, the high-pass from the minimum alignment
/// resolution, the final minibatch from CryoSPARC's autotune rule.
final class AbinitConfigurationTests: XCTestCase {
    func testDerivedDefaults() {
        var c = AbinitConfiguration()
        XCTAssertEqual(c.maxShift_px(box: 96), 10)
        XCTAssertEqual(c.maxShift_px(box: 64), 6)
        XCTAssertEqual(c.maxShift_px(box: 24), 3)
        c.maxShift_px = 0
        XCTAssertEqual(c.maxShift_px(box: 96), 0)

        XCTAssertEqual(c.minimumAlignmentRadius_px(box: 96, pixelSize_A: 2), 1)
        c.minimumAlignmentResolution_A = 48
        XCTAssertEqual(c.minimumAlignmentRadius_px(box: 96, pixelSize_A: 2), 4)
        c.minimumAlignmentResolution_A = 1000
        XCTAssertEqual(c.minimumAlignmentRadius_px(box: 96, pixelSize_A: 2), 1)

        XCTAssertEqual(c.finalMinibatch(diameter_A: 100, symmetryOrder: 1), 300)
        c.finalMinibatch = 0
        XCTAssertEqual(c.finalMinibatch(diameter_A: 100, symmetryOrder: 1), 1000)
        XCTAssertEqual(c.finalMinibatch(diameter_A: 200, symmetryOrder: 1), 300)
        XCTAssertEqual(c.finalMinibatch(diameter_A: 200, symmetryOrder: 60), 1000)
        XCTAssertNoThrow(try c.validate())
        c.finalMinibatch = -1
        XCTAssertThrowsError(try c.validate())
    }
}
