import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// Agreement with RELION 3.1's own projector: `relion_project --i MAP --o OUT --ang STAR --angpix 1` on the
/// clean 70S ribosome map (65³, odd) and a 64³ crop of it (even), at generic poses and at the poses of ASPIRE's
/// RELION projections in `Tests/Fixtures/aspire/relion_projections` (their image stacks are not in the fixtures,
/// so RELION makes them again here), with and without shifts (`rlnOriginXAngst/YAngst`). Duet's projection
/// (padding 2, trilinear, gridding-corrected), translated by `−origin`, inverse-FFT'd, must correlate > 0.99 with
/// every RELION image.
final class ProjectionRelionTests: XCTestCase {
    typealias S = KernelTestSupport

    struct Pose { var rot: Double; var tilt: Double; var psi: Double; var x_A: Double; var y_A: Double }

    static let poses: [Pose] = [
        Pose(rot: 235.82, tilt: 113.09, psi: 50.47, x_A: 0, y_A: 0),
        Pose(rot: 86.70, tilt: 31.96, psi: 139.55, x_A: 0, y_A: 0),
        Pose(rot: -48.46, tilt: 71.18, psi: 185.30, x_A: 0, y_A: 0),
        Pose(rot: 235.82, tilt: 113.09, psi: 50.47, x_A: 6, y_A: 10),
        Pose(rot: 86.70, tilt: 31.96, psi: 139.55, x_A: 10, y_A: -5),
        Pose(rot: -48.46, tilt: 71.18, psi: 185.30, x_A: -8, y_A: 11),
        Pose(rot: 15.71, tilt: 165.02, psi: -54.04, x_A: -3.5, y_A: -2.25),
    ]

    /// The poses of ASPIRE's RELION projections for `box` (64 or 65), unshifted and shifted (pixel size 1 Å).
    static func fixturePoses(box: Int) throws -> [Pose] {
        let directory = CommandRunner.fixtures.appendingPathComponent("aspire/relion_projections").path
        return try ["rln_proj_\(box).star", "rln_proj_\(box)_shifted.star"].flatMap { name in
            try ParticleFile.read(directory + "/" + name, pixelSize_A: 1).particles.map { particle in
                let pose = try XCTUnwrap(particle.pose)
                let angles = pose.rotation.relionEulerAngles
                return Pose(rot: angles.rot_deg, tilt: angles.tilt_deg, psi: angles.psi_deg, x_A: pose.shiftX_A, y_A: pose.shiftY_A)
            }
        }
    }

    static var mapPath: String {
        CommandRunner.fixtures.appendingPathComponent("aspire/volumes/clean70SRibosome_vol_65p.mrc").path
    }

    func testOddBoxAgreesWithRelionProject() throws {
        let volume = try MRCFile.readVolume(path: Self.mapPath)
        XCTAssertEqual(volume.nx, 65)
        try compareWithRelion(map: volume.data, box: 65, poses: Self.poses + Self.fixturePoses(box: 65))
    }

    func testEvenBoxAgreesWithRelionProject() throws {
        let volume = try MRCFile.readVolume(path: Self.mapPath)
        // Crop voxels 0..<64 of each axis: the centre voxel 32 (= 65/2 = 64/2) stays the centre.
        var cropped = [Float](repeating: 0, count: 64 * 64 * 64)
        for z in 0..<64 { for y in 0..<64 { for x in 0..<64 {
            cropped[x + 64 * (y + 64 * z)] = volume.data[x + 65 * (y + 65 * z)]
        } } }
        try compareWithRelion(map: cropped, box: 64, poses: Self.poses + Self.fixturePoses(box: 64))
    }

    /// relion_project 3.1 writes odd-box projections with their centre at pixel `(box+1)/2` instead of `box/2`
    /// (measured here: the best match is RELION's pixel (x+1, y+1) against Duet's (x, y), NCC 0.99999999 versus
    /// 0.86–0.88 unaligned; ASPIRE's test notes record the same 1-pixel offset). Duet keeps the docs/design.md
    /// convention (centre at `box/2`, which the line-integral test checks for odd boxes), so the RELION image is
    /// moved back by one pixel in x and y before comparing. Even boxes need nothing.
    static func undoOddBoxOffset(_ image: [Float], box: Int) -> [Float] {
        guard box % 2 == 1 else { return image }
        var out = [Float](repeating: 0, count: box * box)
        for y in 0..<box { for x in 0..<box { out[x + box * y] = image[(x + 1) % box + box * ((y + 1) % box)] } }
        return out
    }

    private func starText(box: Int, poses: [Pose]) -> String {
        var s = """

            # version 30001

            data_optics

            loop_
            _rlnOpticsGroup #1
            _rlnImagePixelSize #2
            _rlnImageSize #3
            _rlnImageDimensionality #4
            _rlnVoltage #5
            _rlnSphericalAberration #6
            _rlnAmplitudeContrast #7
            1 1.0 \(box) 2 300 2.7 0.1

            data_particles

            loop_
            _rlnAngleRot #1
            _rlnAngleTilt #2
            _rlnAnglePsi #3
            _rlnOriginXAngst #4
            _rlnOriginYAngst #5
            _rlnOpticsGroup #6

            """
        for p in poses { s += "\(p.rot) \(p.tilt) \(p.psi) \(p.x_A) \(p.y_A) 1\n" }
        return s
    }

    private func compareWithRelion(map: [Float], box: Int, poses: [Pose]) throws {
        let relion = "/usr/bin/relion_project"
        guard FileManager.default.isExecutableFile(atPath: relion) else {
            return XCTFail("relion_project is missing: install the Debian package relion (ci/install-deps.sh does)")
        }
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mapURL = dir.appendingPathComponent("map.mrc"), starURL = dir.appendingPathComponent("poses.star")
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: map, pixelSize_A: 1, to: mapURL.path)
        try starText(box: box, poses: poses).write(to: starURL, atomically: true, encoding: .utf8)
        let run = try CommandRunner.run(relion, ["--i", mapURL.path, "--o", "proj", "--ang", starURL.path,
                                                 "--angpix", "1"], in: dir)
        XCTAssertEqual(run.status, 0, run.stderr)
        let stack = try MRCFile(path: dir.appendingPathComponent("proj.mrcs").path)
        XCTAssertEqual(stack.imageCount, poses.count)
        XCTAssertEqual(stack.nx, box)

        let fourier = FourierVolume(map: map, grid: FourierGrid(box: box, paddingFactor: 2))
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fourier.grid.imageComplexCount)
        for (i, pose) in poses.enumerated() {
            let reference = Self.undoOddBoxOffset(try stack.readSection(index: i), box: box)
            let rotation = Rotation(relion: RelionEulerAngles(rot_deg: pose.rot, tilt_deg: pose.tilt, psi_deg: pose.psi))
            func duetImage(_ rotation: Rotation, _ translation: SIMD2<Double>) -> [Float] {
                fourier.project(rotation: rotation, translation_px: translation, into: spectrum.baseAddress)
                return S.image(fromSpectrum: spectrum.toArray(), box: box)
            }
            let origin = SIMD2(pose.x_A, pose.y_A)   // pixel size 1 Å
            let ncc = TestMetrics.ncc(duetImage(rotation, -origin), reference)
            let sumRatio = duetImage(rotation, -origin).reduce(0, +) / reference.reduce(0, +)
            print("relion_project box \(box) image \(i): NCC \(ncc), sum ratio Duet/RELION \(sumRatio)")
            XCTAssertGreaterThan(ncc, 0.99, "box \(box) image \(i)")
            // Measured 1 − 2e-8: Duet reproduces RELION's projector up to float rounding, including its scale.
            XCTAssertGreaterThan(ncc, 0.9999, "box \(box) image \(i)")
            XCTAssertEqual(sumRatio, 1, accuracy: 1e-4, "box \(box) image \(i): same normalisation as RELION")
            // The conventions are pinned: the opposite shift sign and the transposed rotation do not match.
            if origin != .zero {
                XCTAssertLessThan(TestMetrics.ncc(duetImage(rotation, origin), reference), ncc - 0.05, "shift sign, image \(i)")
            }
            XCTAssertLessThan(TestMetrics.ncc(duetImage(rotation.transposed, -origin), reference), 0.9, "rotation, image \(i)")
        }
    }
}
