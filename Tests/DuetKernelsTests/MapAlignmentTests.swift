import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// Half-map alignment (issue #5): the pose transform is checked by projecting both maps, the search by recovering
/// known transforms of a real map (EMPIAR-10076 class D, 32³ at 13.1 Å/px) with independent noise on both maps.
final class MapAlignmentTests: XCTestCase {
    static let pixelSize_A = 13.1
    static let box = 32

    /// The class-D map with its background level (mean beyond radius 13) removed and a soft spherical window
    /// (radius 11 → 14 voxels; the particle reaches radius 11), as a half map has: the file's map fills its box
    /// with a constant offset, whose rotated corners would wrap.
    static func realMap() throws -> [Float] {
        let path = CommandRunner.fixtures.appendingPathComponent("tomodrgn/10076_classD_32.mrc").path
        let volume = try MRCFile.readVolume(path: path)
        XCTAssertEqual(volume.nx, box)
        let c = box / 2
        var outside = [Float]()
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            let r2 = (x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c)
            if r2 >= 13 * 13 { outside.append(volume.data[x + box * (y + box * z)]) }
        } } }
        let background = outside.reduce(0, +) / Float(outside.count)
        var map = volume.data.map { $0 - background }
        RealSpaceConstraints.applySphericalWindow(&map, box: box, innerRadius_px: 11, outerRadius_px: 14)
        return map
    }

    /// The image of `map` at `pose` (`FourierVolume.project`, translation −origin/pixel), real space.
    static func projection(_ volume: FourierVolume, _ pose: Pose) -> [Float] {
        let out = AlignedBuffer<SIMD2<Float>>(count: volume.grid.imageComplexCount)
        volume.project(rotation: pose.rotation,
                       translation_px: SIMD2(-pose.shiftX_A, -pose.shiftY_A) / pixelSize_A, into: out.baseAddress)
        return RealFFT<Float>(imageWidth: volume.grid.box, height: volume.grid.box).inverseCentred(out.toArray())
    }

    static func randomRotation(_ generator: inout SeededGenerator) -> Rotation {
        var q = SIMD4<Double>.zero
        repeat {
            q = SIMD4((0..<4).map { _ in generator.nextUnit() * 2 - 1 })
        } while (q * q).sum() > 1 || (q * q).sum() < 0.01
        return Rotation(unitQuaternion: q)
    }

    /// Gaussian noise of standard deviation `sigma`, seeded.
    static func addNoise(_ map: [Float], sigma: Double, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return map.map { $0 + Float(sigma * generator.nextGaussian()) }
    }

    static func standardDeviation(_ map: [Float]) -> Double {
        let mean = map.reduce(0.0) { $0 + Double($1) } / Double(map.count)
        return (map.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(map.count)).squareRoot()
    }

    // MARK: Pose transform

    /// Projections of B at poses (A, o) equal projections of the aligned B′ at the transformed poses, for a plain
    /// rotation, a rotation with translation, and a mirrored rotation with translation; poses left unchanged (or
    /// with the shift correction's sign flipped) do not match, so the test can fail.
    func testTransformedPosesGiveTheSameProjections() throws {
        let map = try Self.realMap()
        let box = Self.box
        let original = FourierVolume(map: map, grid: FourierGrid(box: box))
        let rotation = Rotation(relion: RelionEulerAngles(rot_deg: 41.3, tilt_deg: 67.8, psi_deg: -133.1))
        let cases: [(String, MapTransform)] = [
            ("rotation", MapTransform(rotation: rotation)),
            ("rotation+translation", MapTransform(rotation: rotation, translation_px: [2.3, -1.6, 1.1])),
            ("mirror+rotation+translation", MapTransform(rotation: rotation, translation_px: [-1.4, 2.2, -0.7],
                                                         mirrored: true)),
        ]
        let poses = [Pose(rotation: Rotation(relion: RelionEulerAngles(rot_deg: -20.5, tilt_deg: 35.2, psi_deg: 77.7)),
                          shiftX_A: 9.2, shiftY_A: -14.4),
                     Pose(rotation: Rotation(relion: RelionEulerAngles(rot_deg: 150.1, tilt_deg: 118.6, psi_deg: -8.3)),
                          shiftX_A: -21.0, shiftY_A: 5.5)]
        for (name, transform) in cases {
            let aligned = FourierVolume(map: transform.apply(to: map, box: box), grid: FourierGrid(box: box))
            for pose in poses {
                let expected = Self.projection(original, pose)
                let moved = transform.apply(to: pose, pixelSize_A: Self.pixelSize_A)
                XCTAssertEqual(moved.rotation.transposed * moved.rotation, .identity, accuracy: 1e-12)
                let ncc = TestMetrics.ncc(Self.projection(aligned, moved), expected)
                print("pose transform \(name): NCC \(ncc)")
                XCTAssertGreaterThan(ncc, 0.99, name)
                XCTAssertLessThan(TestMetrics.ncc(Self.projection(aligned, pose), expected), 0.9,
                                  "\(name): the unchanged pose must not match")
                if transform.translation_px != .zero {
                    var flipped = moved
                    flipped.shiftX_A = 2 * pose.shiftX_A - moved.shiftX_A
                    flipped.shiftY_A = 2 * pose.shiftY_A - moved.shiftY_A
                    XCTAssertLessThan(TestMetrics.ncc(Self.projection(aligned, flipped), expected), 0.95,
                                      "\(name): the opposite shift correction must not match")
                }
            }
        }
    }

    /// The resampled map equals the analytically moved map: Gaussian blobs (σ 1.5 voxels, sharp for a 32³ box)
    /// whose centres are moved by `T`, for a proper and an improper transform; `inverse` undoes `T` on positions
    /// exactly and on maps up to interpolation.
    func testResampledMapMatchesTheMovedBlobsAndInverseUndoesIt() {
        typealias S = KernelTestSupport
        let box = Self.box
        let blobs = S.testBlobs.map { blob -> S.Blob in
            var sharp = blob
            sharp.sigma = 1.5
            return sharp
        }
        let map = S.blobVolume(box: box, blobs: blobs)
        for mirrored in [false, true] {
            let t = MapTransform(rotation: Rotation(relion: RelionEulerAngles(rot_deg: 33, tilt_deg: 71, psi_deg: -100)),
                                 translation_px: [1.3, -0.7, 2.2], mirrored: mirrored)
            let moved = S.blobVolume(box: box, blobs: blobs.map { blob in
                var b = blob
                b.centre = t.apply(toPosition: blob.centre)
                return b
            })
            let resampled = t.apply(to: map, box: box)
            let ncc = TestMetrics.ncc(resampled, moved)
            print("resampled vs moved blobs, mirrored \(mirrored): NCC \(ncc)")
            XCTAssertGreaterThan(ncc, 0.999, "mirrored \(mirrored)")
            XCTAssertLessThan(TestMetrics.ncc(resampled, map), 0.5, "the map must have moved")

            let p = SIMD3<Double>(3, -4, 5)
            let back = t.inverse.apply(toPosition: t.apply(toPosition: p))
            XCTAssertLessThan(((back - p) * (back - p)).sum().squareRoot(), 1e-12)
            XCTAssertGreaterThan(TestMetrics.ncc(t.inverse.apply(to: resampled, box: box), map), 0.998)
        }
    }

    // MARK: Search

    /// B is A moved by a random known transform S, then both get independent noise (σ = ½ the map's standard
    /// deviation): the alignment must find S⁻¹ (rotation within 3°, translation within 0.5 voxel, the right hand).
    func testAlignmentRecoversARotationAndTranslation() throws {
        try checkRecovery(mirrored: false, seed: 2024)
    }

    /// As above with a mirrored B: the hand must be detected.
    func testAlignmentRecoversAMirror() throws {
        try checkRecovery(mirrored: true, seed: 2025)
    }

    private func checkRecovery(mirrored: Bool, seed: UInt64) throws {
        let map = try Self.realMap()
        let box = Self.box
        let sigma = 0.5 * Self.standardDeviation(map)
        var generator = SeededGenerator(seed: seed)
        let truth = MapTransform(rotation: Self.randomRotation(&generator),
                                 translation_px: SIMD3((0..<3).map { _ in 2 * (generator.nextUnit() * 2 - 1) }),
                                 mirrored: mirrored)
        let a = Self.addNoise(map, sigma: sigma, seed: seed + 1)
        let b = Self.addNoise(truth.apply(to: map, box: box), sigma: sigma, seed: seed + 2)
        let start = Date()
        let result = MapAlignment.align(reference: a, moving: b, box: box, pixelSize_A: Self.pixelSize_A,
                                        resolution_A: 40)
        let seconds = Date().timeIntervalSince(start)
        let expected = truth.inverse
        let angle_deg = expected.rotation.angularDistance_rad(to: result.transform.rotation) * 180 / .pi
        let d = result.transform.translation_px - expected.translation_px
        let error_px = (d * d).sum().squareRoot()
        print("alignment mirrored \(mirrored): \(String(format: "%.2f", seconds)) s, rotation error "
              + "\(String(format: "%.3f", angle_deg))°, translation error \(String(format: "%.3f", error_px)) px, "
              + "score \(result.score), other hand \(result.otherHandScore ?? .nan), radius \(result.radius_px)")
        XCTAssertEqual(result.transform.mirrored, mirrored)
        XCTAssertLessThan(angle_deg, 3)
        XCTAssertLessThan(error_px, 0.5)
        XCTAssertEqual(result.radius_px, 10)   // ⌊32 · 13.1 / 40⌋
        XCTAssertGreaterThan(result.score, 0.8)
        XCTAssertLessThan(try XCTUnwrap(result.otherHandScore), result.score - 0.1)
    }

    /// Two noisy copies of one map (the periodic re-alignment of half maps already in one frame) align to the
    /// identity: interpolation smooths B's noise less on grid points than between them, which must not pull the
    /// result off the grid (normalising by the samples' power did, by 1.8°).
    func testNoisyCopiesAlignToTheIdentity() throws {
        let map = try Self.realMap()
        let sigma = 0.5 * Self.standardDeviation(map)
        let result = MapAlignment.align(reference: Self.addNoise(map, sigma: sigma, seed: 31),
                                        moving: Self.addNoise(map, sigma: sigma, seed: 32), box: Self.box,
                                        pixelSize_A: Self.pixelSize_A, resolution_A: 40)
        let angle_deg = result.transform.rotation.angularDistance_rad(to: .identity) * 180 / .pi
        let t = result.transform.translation_px
        print("identity: rotation \(angle_deg)°, translation \(t) px, score \(result.score)")
        XCTAssertFalse(result.transform.mirrored)
        XCTAssertLessThan(angle_deg, 0.1)
        XCTAssertLessThan((t * t).sum().squareRoot(), 0.1)
    }

    /// The same maps give the same transform and score, bit for bit, on one thread and on three.
    func testResultDoesNotDependOnThreadCount() throws {
        let map = try Self.realMap()
        let truth = MapTransform(rotation: Rotation(relion: RelionEulerAngles(rot_deg: 70, tilt_deg: 40, psi_deg: 10)),
                                 translation_px: [1, 0.5, -1])
        let b = Self.addNoise(truth.apply(to: map, box: Self.box, threads: 3), sigma: 1, seed: 9)
        XCTAssertEqual(b, Self.addNoise(truth.apply(to: map, box: Self.box, threads: 1), sigma: 1, seed: 9))
        let options = MapAlignmentOptions(globalOrder: 1)   // a cheaper search: only determinism is tested here
        let results = [1, 3].map {
            MapAlignment.align(reference: map, moving: b, box: Self.box, pixelSize_A: Self.pixelSize_A,
                               resolution_A: 40, options: options, threads: $0)
        }
        XCTAssertEqual(results[0], results[1])
    }
}

extension Rotation {
    fileprivate static func - (a: Rotation, b: Rotation) -> Double {
        let d = [a.row0 - b.row0, a.row1 - b.row1, a.row2 - b.row2]
        return d.map { ($0 * $0).sum() }.reduce(0, +).squareRoot()
    }
}

private func XCTAssertEqual(_ a: Rotation, _ b: Rotation, accuracy: Double, file: StaticString = #filePath,
                            line: UInt = #line) {
    XCTAssertLessThan(a - b, accuracy, file: file, line: line)
}
