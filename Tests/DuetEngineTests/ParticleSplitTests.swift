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
        let assignments = [ParticleAssignment(pose: pose, effectiveSampleSize: 1.25, lastIteration: 9),
                           .unseen,
                           ParticleAssignment(pose: pose, effectiveSampleSize: 3, lastIteration: 0),
                           ParticleAssignment(pose: pose, effectiveSampleSize: 1, lastIteration: 4)]
        let (used, unused) = try whole.splitByAssignment(assignments)

        XCTAssertEqual(used.particles.map(\.image.index), [0, 2, 3])
        XCTAssertEqual(used.particles.map(\.halfSet), [.a, .a, .b])
        XCTAssertEqual(used.particles.map(\.poseStatistics), [PoseStatistics(effectiveSampleSize: 1.25, lastIteration: 10),
                                                              PoseStatistics(effectiveSampleSize: 3, lastIteration: 1),
                                                              PoseStatistics(effectiveSampleSize: 1, lastIteration: 5)])
        XCTAssertTrue(used.particles.allSatisfy { $0.pose == pose })
        XCTAssertEqual(unused.particles.map(\.image.index), [1, 4])
        // Particle 5 has no half-set, so none of the unused keeps one.
        XCTAssertEqual(unused.particles.map(\.halfSet), [nil, nil])

        let usedTable = try XCTUnwrap(StarParticles.document(for: used).block(named: "particles"))
        XCTAssertEqual(usedTable.column("rlnMicrographName"), ["mic_a.mrc", "mic_b.mrc", "mic_b.mrc"])
        XCTAssertEqual(usedTable.column("rlnRandomSubset"), ["1", "1", "2"])
        XCTAssertEqual(usedTable.column("rlnDuetPoseESS"), ["1.250", "3.000", "1.000"])
        XCTAssertEqual(usedTable.column("rlnDuetLastIteration"), ["10", "1", "5"])
        let unusedTable = try XCTUnwrap(StarParticles.document(for: unused).block(named: "particles"))
        XCTAssertEqual(unusedTable.column("rlnMicrographName"), ["mic_a.mrc", "mic_c.mrc"])
        XCTAssertEqual(unusedTable.column("rlnDefocusU"), ["11000", "14000"])
        XCTAssertNil(unusedTable.column("rlnRandomSubset"))
        XCTAssertNil(unusedTable.column("rlnDuetPoseESS"))
    }
}
