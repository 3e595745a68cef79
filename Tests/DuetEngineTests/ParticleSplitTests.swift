import DuetCore
@testable import DuetEngine
import DuetFormats
import XCTest

/// How a job's particles become `particles.*` and `unused*.*`: posed rows with their statistics, the rest
/// (never seen, or beyond `--particle-limit`) unused, and every input column kept row for row.
final class ParticleSplitTests: XCTestCase {
    private func fiveParticles() throws -> ParticleSet {
        let text = """
            data_particles
            loop_
            _rlnImageName
            _rlnMicrographName
            _rlnDefocusU
            000001@stack.mrcs mic_a.mrc 10000
            000002@stack.mrcs mic_a.mrc 11000
            000003@stack.mrcs mic_b.mrc 12000
            000004@stack.mrcs mic_b.mrc 13000
            000005@stack.mrcs mic_c.mrc 14000
            """
        return try StarParticles.particleSet(from: StarReader.parse(text: text), path: "test.star", pixelSize_A: 2)
    }

    func testUsedAndUnusedKeepTheirRowsAndColumns() throws {
        var whole = try fiveParticles()
        // --particle-limit 4: the first four are in half-sets; particle 2 was never seen.
        for (i, half) in [HalfSet.a, .b, .a, .b].enumerated() { whole.particles[i].halfSet = half }
        let pose = Pose(rotation: .identity, shiftX_A: 1, shiftY_A: -2)
        let assignments = [ParticleAssignment(pose: pose, effectiveSampleSize: 1.25, correlation: 0.2,
                                              residualHotspot: 1.2, lastIteration: 9),
                           .unseen,
                           ParticleAssignment(pose: pose, effectiveSampleSize: 3, correlation: 0.1,
                                              residualHotspot: 5, lastIteration: 0),
                           ParticleAssignment(pose: pose, effectiveSampleSize: 1, correlation: 0.3,
                                              residualHotspot: 1.1, lastIteration: 4)]
        let (used, unused) = try whole.splitByAssignment(assignments, scoring: assignments.qualityScoring)

        XCTAssertEqual(used.particles.map(\.image.index), [0, 2, 3])
        XCTAssertEqual(used.particles.map(\.halfSet), [.a, .a, .b])
        // Over the three seen: correlation median 0.2 and hotspot median 1.2, both with MAD 0.1, so standard
        // scores are differences / 0.14826; only particle 3's hotspot (z = 25.6) stands out beyond 2.
        let spread = 0.14826
        let quality = [0, -0.1 / spread - (3.8 / spread - 2), 0.1 / spread]
        let statistics = used.particles.map(\.poseStatistics)
        XCTAssertEqual(statistics.map { $0?.effectiveSampleSize }, [1.25, 3, 1])
        XCTAssertEqual(statistics.map { $0?.lastIteration }, [10, 1, 5])
        XCTAssertEqual(statistics.map { $0?.residualHotspot }, [1.2, 5, 1.1])
        for (value, expected) in zip(statistics.map { $0?.quality ?? .nan }, quality) {
            XCTAssertEqual(value, expected, accuracy: 1e-9)
        }
        XCTAssertTrue(used.particles.allSatisfy { $0.pose == pose })
        XCTAssertEqual(unused.particles.map(\.image.index), [1, 4])
        // Particle 5 has no half-set, so none of the unused keeps one.
        XCTAssertEqual(unused.particles.map(\.halfSet), [nil, nil])

        let usedTable = try XCTUnwrap(StarParticles.document(for: used).block(named: "particles"))
        XCTAssertEqual(usedTable.column("rlnMicrographName"), ["mic_a.mrc", "mic_b.mrc", "mic_b.mrc"])
        XCTAssertEqual(usedTable.column("rlnRandomSubset"), ["1", "1", "2"])
        XCTAssertEqual(usedTable.column("rlnDuetPoseESS"), ["1.250", "3.000", "1.000"])
        XCTAssertEqual(usedTable.column("rlnDuetLastIteration"), ["10", "1", "5"])
        XCTAssertEqual(usedTable.column("rlnDuetResidualHotspot"), ["1.2000", "5.0000", "1.1000"])
        XCTAssertEqual(usedTable.column("rlnDuetQuality"), quality.map { String(format: "%.4f", $0) })
        let unusedTable = try XCTUnwrap(StarParticles.document(for: unused).block(named: "particles"))
        XCTAssertEqual(unusedTable.column("rlnMicrographName"), ["mic_a.mrc", "mic_c.mrc"])
        XCTAssertEqual(unusedTable.column("rlnDefocusU"), ["11000", "14000"])
        XCTAssertNil(unusedTable.column("rlnRandomSubset"))
        XCTAssertNil(unusedTable.column("rlnDuetPoseESS"))
    }
}
