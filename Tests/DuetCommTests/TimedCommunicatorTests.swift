import DuetComm
import DuetCore
import Foundation
import XCTest

final class TimedCommunicatorTests: XCTestCase {
    /// Rank 1 arrives 100 ms late at each collective: rank 0's communication time includes that wait, in the
    /// world and in the communicator split off it, and the sums are those of the wrapped communicator.
    func testCollectivesCountAsCommunicationWaitingIncludedAlsoAfterASplit() throws {
        let results = try LocalCommunicator.run(size: 2) { base -> [Double] in
            let times = StageTimes()
            let world = TimedCommunicator(base, times: times)
            if world.rank == 1 { Thread.sleep(forTimeInterval: 0.1) }
            let sum = try times.measure(.backProjection) { try world.allreduceSum(Double(world.rank + 1)) }
            let afterWorld = times[.communication]
            let half = try world.split(color: 0, key: world.rank)
            if half.rank == 1 { Thread.sleep(forTimeInterval: 0.1) }
            let maximum = try half.allreduceMax(Double(world.rank))
            return [sum, maximum, afterWorld, times[.communication], times[.backProjection]]
        }
        XCTAssertEqual(results[0][0], 3)
        XCTAssertEqual(results[0][1], 1)
        XCTAssertGreaterThanOrEqual(results[0][2], 0.09, "rank 0 waited for rank 1 in the world allreduce")
        XCTAssertGreaterThanOrEqual(results[0][3] - results[0][2], 0.09, "and again in the split communicator")
        XCTAssertLessThan(results[0][4], 0.05, "the wait is communication, not back-projection")
    }
}
