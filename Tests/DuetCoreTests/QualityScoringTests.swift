import DuetCore
import XCTest

final class QualityScoringTests: XCTestCase {
    /// Robust standard scores: a hotspot within the margin costs nothing, one beyond it costs its excess; a junk
    /// row far out does not move the median and MAD that score the others.
    func testHotspotCountsOnlyBeyondTheMargin() {
        let correlations = [0.10, 0.20, 0.30, 0.20, -0.40]
        let hotspots = [1.0, 1.2, 1.4, 1.2, 9.0]
        let scoring = QualityScoring(correlations: correlations, hotspots: hotspots)
        XCTAssertEqual(scoring.correlationMedian, 0.2)
        XCTAssertEqual(scoring.correlationSpread, 1.4826 * 0.1, accuracy: 1e-12)
        XCTAssertEqual(scoring.hotspotMedian, 1.2)
        XCTAssertEqual(scoring.hotspotSpread, 1.4826 * 0.2, accuracy: 1e-12)
        // z(h) = 1.0 / 0.29652 = 3.37 at h = 2.2: 1.37 beyond the margin; 1.01 at h = 1.5: within it.
        XCTAssertEqual(scoring.score(correlation: 0.2, residualHotspot: 2.2), -(1.0 / 0.29652 - 2), accuracy: 1e-9)
        XCTAssertEqual(scoring.score(correlation: 0.3, residualHotspot: 1.5), 0.1 / 0.14826, accuracy: 1e-9)
        XCTAssertEqual(QualityScoring(parameters: scoring.parameters), scoring)
    }

    /// Equal values have no spread: the scores stay finite (spread 1).
    func testEqualValuesGiveFiniteScores() {
        let scoring = QualityScoring(correlations: [0.5, 0.5, 0.5], hotspots: [1, 1, 1])
        XCTAssertEqual(scoring.score(correlation: 0.5, residualHotspot: 1), 0)
        XCTAssertEqual(scoring.score(correlation: 0.7, residualHotspot: 4), 0.2 - 1, accuracy: 1e-12)
    }
}
