@testable import DuetEngine
import XCTest

final class HalfSetRefinementRoundTests: XCTestCase {
    /// The Wiener weight of a whole half is `2f / (1 + f)` of its sub-halves' FSC `f`, and nothing from the first
    /// shell where that falls below the search floor (0.5) on, even where `f` rises again: `f` = 0.2 gives 0.33.
    func testWienerWeightsFromTheSubHalfFSC() {
        XCTAssertEqual(HalfSetRefinementRound.searchWeightFloor, 0.5)
        let weights = HalfSetRefinementRound.wienerWeights(chainFSC: [1, 0.9, 0.5, 0.2, 0.6, -0.2])
        XCTAssertEqual(weights[0], 1)
        XCTAssertEqual(weights[1], 1.8 / 1.9, accuracy: 1e-12)
        XCTAssertEqual(weights[2], 1.0 / 1.5, accuracy: 1e-12)
        XCTAssertEqual(Array(weights[3...]), [0, 0, 0])
    }
}
