import DuetCore
import DuetKernels
import XCTest

final class PosteriorMeanTests: XCTestCase {
    /// Two poses of one mode with weights 3:1 around the z axis give the rotation three quarters of the way towards
    /// the heavier one (exactly, up to the chordal mean's small-angle error), the weighted shift and scale, and
    /// the mode's mass; a pose of another mode (90° away) is left out; a quaternion of the other sign counts as
    /// the same rotation.
    func testMeanOfTheBestModeOnly() {
        let a = Rotation(axisAngle: [0, 0, 0.10]), b = Rotation(axisAngle: [0, 0, 0.14])
        let flipped = Rotation(unitQuaternion: -b.quaternionVector)
        let other = Rotation(axisAngle: [0, 0, 0.10 + .pi / 2])
        let poses = [WeightedPose(rotation: a, shift_px: [1, 0], weight: 0.6, scale: 1.0),
                     WeightedPose(rotation: flipped, shift_px: [0, 2], weight: 0.2, scale: 2.0),
                     WeightedPose(rotation: other, shift_px: [9, 9], weight: 0.2, scale: 5.0)]
        let mean = PosteriorMean.ofBestMode(poses)
        XCTAssertEqual(mean.rotation.angularDistance_rad(to: Rotation(axisAngle: [0, 0, 0.11])), 0, accuracy: 1e-5)
        XCTAssertEqual(mean.shift_px.x, 0.75, accuracy: 1e-12)
        XCTAssertEqual(mean.shift_px.y, 0.5, accuracy: 1e-12)
        XCTAssertEqual(mean.scale, 1.25, accuracy: 1e-12)
        XCTAssertEqual(mean.weight, 0.8, accuracy: 1e-12)
        XCTAssertEqual(PosteriorMean.ofBestMode([poses[2]]).rotation.angularDistance_rad(to: other), 0, accuracy: 1e-12)
    }
}
