import DuetCore
import XCTest

final class RotationTests: XCTestCase {
    private func randomRotation(_ generator: inout SeededGenerator) -> Rotation {
        // Uniform on SO(3) through a random unit quaternion.
        var q = SIMD4<Double>((0..<4).map { _ in Double.random(in: -1...1, using: &generator) })
        while (q * q).sum() > 1 || (q * q).sum() < 1e-6 {
            q = SIMD4<Double>((0..<4).map { _ in Double.random(in: -1...1, using: &generator) })
        }
        let angle = 2 * acos(min(1, abs(q.w) / (q * q).sum().squareRoot()))
        let axis = SIMD3(q.x, q.y, q.z)
        let norm = (axis * axis).sum().squareRoot()
        return Rotation(axisAngle: axis / norm * angle * (q.w < 0 ? -1 : 1))
    }

    func testRelionMatrixMatchesHandComputedExample() {
        // rot = 90°, tilt = 0, psi = 0 rotates map x into view -y: row0 = (0, 1, 0).
        let r = Rotation(relion: RelionEulerAngles(rot_deg: 90, tilt_deg: 0, psi_deg: 0))
        XCTAssertEqual(r.row0.y, 1, accuracy: 1e-15)
        XCTAssertEqual(r.row1.x, -1, accuracy: 1e-15)
        // tilt = 90°: the map z axis goes to view -x (RELION: A(0,2) = -cos(psi) sin(tilt)).
        let t = Rotation(relion: RelionEulerAngles(rot_deg: 0, tilt_deg: 90, psi_deg: 0))
        XCTAssertEqual(t.row0.z, -1, accuracy: 1e-15)
        XCTAssertEqual(t.row2.x, 1, accuracy: 1e-15)
    }

    func testEulerRoundTripIsExact() {
        var g = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let r = randomRotation(&g)
            let back = Rotation(relion: r.relionEulerAngles)
            XCTAssertLessThan(r.angularDistance_rad(to: back) * 180 / .pi, 1e-9)
        }
        for tilt in [0.0, 180.0, 1e-9, 179.999999] {
            let r = Rotation(relion: RelionEulerAngles(rot_deg: 33, tilt_deg: tilt, psi_deg: -71))
            XCTAssertLessThan(r.angularDistance_rad(to: Rotation(relion: r.relionEulerAngles)) * 180 / .pi, 1e-6)
        }
    }

    func testEulerAnglesComeBackIdenticalWhenTiltIsInRange() {
        let angles = RelionEulerAngles(rot_deg: -123.4, tilt_deg: 67.8, psi_deg: 12.3)
        let back = Rotation(relion: angles).relionEulerAngles
        XCTAssertEqual(back.rot_deg, angles.rot_deg, accuracy: 1e-10)
        XCTAssertEqual(back.tilt_deg, angles.tilt_deg, accuracy: 1e-10)
        XCTAssertEqual(back.psi_deg, angles.psi_deg, accuracy: 1e-10)
    }

    func testAxisAngleRoundTripIncludingNearPi() {
        var g = SeededGenerator(seed: 42)
        var rotations = (0..<2000).map { _ in randomRotation(&g) }
        rotations.append(Rotation(axisAngle: [0, 0, .pi]))
        rotations.append(Rotation(axisAngle: SIMD3(1, 2, 3) / 14.0.squareRoot() * (.pi - 1e-9)))
        rotations.append(Rotation(axisAngle: [1e-12, 0, 0]))
        for r in rotations {
            let back = Rotation(axisAngle: r.axisAngle)
            XCTAssertLessThan(r.angularDistance_rad(to: back) * 180 / .pi, 1e-9)
            XCTAssertLessThanOrEqual((r.axisAngle * r.axisAngle).sum().squareRoot(), .pi + 1e-12)
        }
    }

    func testRodriguesAgreesWithEulerForAxisRotations() {
        // A rotation of +θ about z as axis-angle equals RELION's matrix for rot = -θ (RELION rotates axes).
        let theta = 0.7
        let a = Rotation(axisAngle: [0, 0, theta])
        let b = Rotation(relion: RelionEulerAngles(rot_deg: -theta * 180 / .pi, tilt_deg: 0, psi_deg: 0))
        XCTAssertLessThan(a.angularDistance_rad(to: b), 1e-12)
    }

    func testCryosparcPoseIsTransposeOfRelionMatrix() {
        let pose = SIMD3<Double>(0.3, -1.1, 0.5)
        let relion = Rotation(cryosparcPose: pose)
        XCTAssertEqual(relion, Rotation(axisAngle: pose).transposed)
        let back = relion.cryosparcPose
        XCTAssertEqual(back.x, pose.x, accuracy: 1e-12)
        XCTAssertEqual(back.y, pose.y, accuracy: 1e-12)
        XCTAssertEqual(back.z, pose.z, accuracy: 1e-12)
    }

    func testHalfSetNumbering() {
        XCTAssertEqual(HalfSet(relionSubset: 1), .a)
        XCTAssertEqual(HalfSet(relionSubset: 2), .b)
        XCTAssertNil(HalfSet(relionSubset: 3))
        XCTAssertEqual(HalfSet(cryosparcSplit: 1), .b)
        XCTAssertEqual(HalfSet.b.relionSubset, 2)
        XCTAssertEqual(HalfSet.a.cryosparcSplit, 0)
    }
}
