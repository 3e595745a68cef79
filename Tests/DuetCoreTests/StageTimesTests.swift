import DuetCore
import Foundation
import XCTest

final class StageTimesTests: XCTestCase {
    func testNestedStagesCountOnlyForTheInnerStageAndAddUpToTheOuterWallTime() {
        let times = StageTimes()
        let clock = ContinuousClock()
        let outside = clock.measure {
            times.measure(.backProjection) {
                Thread.sleep(forTimeInterval: 0.02)
                times.measure(.communication) { Thread.sleep(forTimeInterval: 0.03) }
            }
        }
        XCTAssertGreaterThanOrEqual(times[.communication], 0.03)
        XCTAssertGreaterThanOrEqual(times[.backProjection], 0.02)
        // The inner 30 ms are not counted twice: the two stages cover the outer call exactly once.
        XCTAssertLessThanOrEqual(times[.backProjection] + times[.communication], outside.seconds)
        XCTAssertGreaterThan(times[.backProjection] + times[.communication], outside.seconds - 0.005)
        XCTAssertEqual(times[.poseSearch], 0)
    }

    func testMeasureReturnsTheBodysValueAndRethrows() {
        let times = StageTimes()
        XCTAssertEqual(times.measure(.io) { 42 }, 42)
        struct Failure: Error {}
        XCTAssertThrowsError(try times.measure(.io) { throw Failure() })
        XCTAssertGreaterThanOrEqual(times[.io], 0)
    }
}
