import DuetCore
import XCTest

final class MedianTests: XCTestCase {
    func testMiddleValueOrMeanOfTheTwoMiddleValues() {
        XCTAssertNil([Double]().median)
        XCTAssertEqual([3.0].median, 3)
        XCTAssertEqual([5.0, 1, 3].median, 3)
        XCTAssertEqual([4.0, 1, 3, 2].median, 2.5)
    }
}
