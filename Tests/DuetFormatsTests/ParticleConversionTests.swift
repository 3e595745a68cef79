import DuetCore
import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// STAR ↔ `.cs` particle conversion: values survive round trips, agree with cryoDRGN's independent parse of the
/// same fixtures, and the files Duet writes are read by `starfile` and `numpy`.
final class ParticleConversionTests: XCTestCase {
    private let data = CommandRunner.fixtures.path

    private func fixture(_ relative: String) -> String { data + "/" + relative }

    private func assertSameParticles(_ a: [Particle], _ b: [Particle], _ label: String) {
        XCTAssertEqual(a.count, b.count, label)
        for (i, (p, q)) in zip(a, b).enumerated() {
            let where_ = "\(label), particle \(i + 1)"
            XCTAssertEqual(p.image.index, q.image.index, where_)
            XCTAssertEqual(p.halfSet, q.halfSet, where_)
            XCTAssertEqual(p.pixelSize_A ?? 0, q.pixelSize_A ?? 0, accuracy: 1e-6, where_)
            XCTAssertEqual(p.ctf == nil, q.ctf == nil, where_)
            if let c = p.ctf, let d = q.ctf {
                XCTAssertEqual(c.defocusU_A, d.defocusU_A, accuracy: 1e-7 * c.defocusU_A + 1e-3, where_)
                XCTAssertEqual(c.defocusV_A, d.defocusV_A, accuracy: 1e-7 * c.defocusV_A + 1e-3, where_)
                XCTAssertEqual(c.defocusAngle_deg, d.defocusAngle_deg, accuracy: 1e-4, where_)
                XCTAssertEqual(c.voltage_kV, d.voltage_kV, accuracy: 1e-4, where_)
                XCTAssertEqual(c.sphericalAberration_mm, d.sphericalAberration_mm, accuracy: 1e-6, where_)
                XCTAssertEqual(c.amplitudeContrast, d.amplitudeContrast, accuracy: 1e-6, where_)
                XCTAssertEqual(c.phaseShift_deg, d.phaseShift_deg, accuracy: 1e-4, where_)
            }
            XCTAssertEqual(p.pose == nil, q.pose == nil, where_)
            if let s = p.pose, let t = q.pose {
                XCTAssertLessThan(s.rotation.angularDistance_rad(to: t.rotation) * 180 / .pi, 1e-4, where_)
                XCTAssertEqual(s.shiftX_A, t.shiftX_A, accuracy: 1e-4, where_)
                XCTAssertEqual(s.shiftY_A, t.shiftY_A, accuracy: 1e-4, where_)
            }
        }
    }

    /// Runs the Python `script` (test oracles: numpy, starfile) with `arguments`; it must print exactly "ok".
    private func assertPythonPrintsOK(_ script: String, arguments: [String], in directory: URL,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let path = directory.appendingPathComponent("check.py")
        try script.write(to: path, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run("/usr/bin/env", ["python3", path.path] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stdout, "ok\n", file: file, line: line)
    }

    func testStarToCsToStarRoundTripsEveryPosedFixture() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixtures = ["cryodrgn/metadata/relion31.6opticsgroups.star", "cryodrgn/real/relion31.star",
                        "cryodrgn/real/relion31.v2.star", "cryodrgn/metadata/relion5.star",
                        "cryodrgn/metadata/FinalRefinement-OriginalParticles-PfCRT.star",
                        "aspire/real/sample_particles_relion30.star", "aspire/real/sample_particles_relion31.star",
                        "cryojax/test_starfile.star", "relion/out_it005_data.star"]
        for name in fixtures {
            var original = try ParticleFile.read(fixture(name))
            // Fixtures whose stacks are absent and that state no image size get one, as `--pixel-size` would.
            for i in original.particles.indices where original.particles[i].boxSize == nil { original.particles[i].boxSize = 100 }
            let cs = directory.appendingPathComponent("p.cs").path, star = directory.appendingPathComponent("p.star").path
            try ParticleFile.write(original, to: cs)
            try ParticleFile.write(try ParticleFile.read(cs), to: star)
            assertSameParticles(original.particles, try ParticleFile.read(star).particles, name)
            XCTAssertNotNil(original.particles.first?.pose, "\(name) has poses")
        }
    }

    func testCsToStarToCsKeepsPoseVectorsAndSplits() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = fixture("cryodrgn/metadata/cryosparc_P12_J24_001_particles.cs")
        let star = directory.appendingPathComponent("p.star").path, cs = directory.appendingPathComponent("p.cs").path
        try ParticleFile.write(try ParticleFile.read(input), to: star)
        try ParticleFile.write(try ParticleFile.read(star), to: cs)
        let before = try NPYFile.read(path: input), after = try NPYFile.read(path: cs)
        let poseA = try before.doubles("alignments3D/pose"), poseB = try after.doubles("alignments3D/pose")
        for r in 0..<before.count {
            let a = Rotation(axisAngle: SIMD3(poseA[3 * r], poseA[3 * r + 1], poseA[3 * r + 2]))
            let b = Rotation(axisAngle: SIMD3(poseB[3 * r], poseB[3 * r + 1], poseB[3 * r + 2]))
            XCTAssertLessThan(a.angularDistance_rad(to: b) * 180 / .pi, 1e-4, "row \(r)")
        }
        XCTAssertEqual(try before.ints("alignments3D/split"), try after.ints("alignments3D/split"))
        let shiftA = try before.doubles("alignments3D/shift"), shiftB = try after.doubles("alignments3D/shift")
        for i in shiftA.indices { XCTAssertEqual(shiftA[i], shiftB[i], accuracy: 1e-4) }
        XCTAssertEqual(try before.doubles("ctf/df1_A"), try after.doubles("ctf/df1_A"))
        XCTAssertEqual(try before.ints("blob/idx"), try after.ints("blob/idx"))
        XCTAssertEqual(try before.ints("blob/shape"), try after.ints("blob/shape"))
    }

    /// cryoDRGN parsed the same files independently: rotations, translations (pixels / box) and CTF must agree.
    func testAgreesWithCryoDRGNsParseOfTheSameFiles() throws {
        let reference = data + "/cryodrgn/reference_parsed/"
        let cases: [(file: String, prefix: String, box: Double)] = [
            ("cryodrgn/metadata/cryosparc_P12_J24_001_particles.cs", "pose_from_P12_J24_cs", 180),
            ("cryodrgn/metadata/FinalRefinement-OriginalParticles-PfCRT.star", "pose_from_PfCRT_star", 300),
        ]
        for (file, prefix, box) in cases {
            let particles = try ParticleFile.read(fixture(file)).particles
            let rotations = try NPYFile.readArray(path: reference + prefix + "_rot.npy")
            let translations = try NPYFile.readArray(path: reference + prefix + "_trans.npy")
            XCTAssertEqual(rotations.shape, [particles.count, 3, 3])
            for (i, particle) in particles.enumerated() {
                let pose = try XCTUnwrap(particle.pose)
                for r in 0..<3 {
                    for c in 0..<3 {
                        XCTAssertEqual(pose.rotation[r, c], rotations[i, r, c], accuracy: 2e-6, "\(file) particle \(i) R[\(r),\(c)]")
                    }
                }
                let pixel_A = try XCTUnwrap(particle.pixelSize_A)
                XCTAssertEqual(pose.shiftX_A / pixel_A / box, translations[i, 0], accuracy: 1e-6, "\(file) particle \(i)")
                XCTAssertEqual(pose.shiftY_A / pixel_A / box, translations[i, 1], accuracy: 1e-6, "\(file) particle \(i)")
            }
        }
        // CTF columns: [D, Apix, dfU, dfV, dfAngle(deg), kV, Cs(mm), ampContrast, phaseShift(deg)].
        let ctfCases = [("cryodrgn/metadata/cryosparc_P12_J24_001_particles.cs", "ctf_from_P12_J24_cs.npy"),
                        ("cryodrgn/metadata/FinalRefinement-OriginalParticles-PfCRT.star", "ctf_from_PfCRT_star.npy")]
        for (file, name) in ctfCases {
            let particles = try ParticleFile.read(fixture(file)).particles
            let ctf = try NPYFile.readArray(path: reference + name)
            for (i, particle) in particles.enumerated() {
                let c = try XCTUnwrap(particle.ctf)
                let expected = [c.defocusU_A, c.defocusV_A, c.defocusAngle_deg, c.voltage_kV, c.sphericalAberration_mm,
                                c.amplitudeContrast, c.phaseShift_deg]
                for (k, value) in expected.enumerated() {
                    // PfCRT states no amplitude contrast: Duet takes RELION's default (0), cryoDRGN its own (0.1).
                    if file.contains("PfCRT") && k + 2 == 7 {
                        XCTAssertEqual(value, 0)
                        continue
                    }
                    XCTAssertEqual(value, ctf[i, k + 2], accuracy: 1e-3 + 1e-6 * abs(value), "\(file) particle \(i) column \(k + 2)")
                }
                XCTAssertEqual(particle.pixelSize_A ?? 0, ctf[i, 1], accuracy: 1e-5)
            }
        }
    }

    func testStarToStarKeepsEveryInputColumnAndValue() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = fixture("cryodrgn/metadata/relion31.6opticsgroups.star")
        let output = directory.appendingPathComponent("same.star").path
        try ParticleFile.write(try ParticleFile.read(input), to: output)
        let before = try StarReader.read(path: input), after = try StarReader.read(path: output)
        for block in before.blocks {
            let written = try XCTUnwrap(after.block(named: block.name))
            for column in block.table?.columnNames ?? [] where column != "rlnImageName" {
                XCTAssertEqual(written.column(column), block.column(column), "data_\(block.name) _\(column)")
            }
        }
        // Image names now point from the new directory to the same stacks.
        let names = try XCTUnwrap(after.block(named: "particles")?.column("rlnImageName"))
        let firstStack = String(names[0].split(separator: "@")[1])
        XCTAssertEqual(URL(fileURLWithPath: directory.path + "/" + firstStack).standardizedFileURL.path,
                       URL(fileURLWithPath: data + "/cryodrgn/metadata/" + String(try XCTUnwrap(before.block(named: "particles")?.column("rlnImageName"))[0].split(separator: "@")[1])).standardizedFileURL.path)
    }

    /// A selection of rows keeps the input's other columns (STAR) and fields (`.cs`) row for row, and pose
    /// statistics are written as Duet's columns, read by starfile and numpy.
    func testSelectedRowsKeepInputColumnsAndGainPoseStatistics() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rows = [5, 2, 100]
        let starInput = fixture("cryodrgn/metadata/relion31.6opticsgroups.star")
        let csInput = fixture("cryodrgn/metadata/cryosparc_P12_J24_001_particles.cs")
        let star = directory.appendingPathComponent("p.star").path, cs = directory.appendingPathComponent("p.cs").path
        for (input, output) in [(starInput, star), (csInput, cs)] {
            var subset = try ParticleFile.read(input).selecting(rows: rows)
            for i in subset.particles.indices {
                subset.particles[i].boxSize = subset.particles[i].boxSize ?? 100
                subset.particles[i].poseStatistics = PoseStatistics(effectiveSampleSize: 1.5 + Double(i), lastIteration: 7 + i)
            }
            try ParticleFile.write(subset, to: output)
        }
        let before = try XCTUnwrap(StarReader.read(path: starInput).block(named: "particles"))
        let after = try XCTUnwrap(StarReader.read(path: star).block(named: "particles"))
        for column in before.table?.columnNames ?? [] where column != "rlnImageName" {
            XCTAssertEqual(after.column(column), rows.map { before.column(column)![$0] }, "_\(column)")
        }
        let original = try NPYFile.read(path: csInput), written = try NPYFile.read(path: cs)
        XCTAssertEqual(try written.uint64s("uid"), try rows.map { try original.uint64s("uid")[$0] })
        XCTAssertEqual(try written.doubles("ctf/df1_A"), try rows.map { try original.doubles("ctf/df1_A")[$0] })
        let check = """
            import numpy as np, starfile, sys
            p = starfile.read(sys.argv[1], always_dict=True)['particles']
            assert list(p['rlnDuetPoseESS']) == [1.5, 2.5, 3.5] and list(p['rlnDuetLastIteration']) == [7, 8, 9], p
            a = np.load(sys.argv[2])
            assert list(a['alignments3D/pose_ess']) == [1.5, 2.5, 3.5] and list(a['duet/last_iteration']) == [7, 8, 9]
            print('ok')
            """
        try assertPythonPrintsOK(check, arguments: [star, cs], in: directory)
    }

    func testWrittenFilesAreReadByStarfileAndNumpy() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cs = directory.appendingPathComponent("p.cs").path, star = directory.appendingPathComponent("p.star").path
        try ParticleFile.write(try ParticleFile.read(fixture("cryodrgn/metadata/relion31.6opticsgroups.star")), to: cs)
        try ParticleFile.write(try ParticleFile.read(fixture("cryodrgn/metadata/cryosparc_P12_J24_001_particles.cs")), to: star)
        let check = """
            import numpy as np, starfile, sys
            a = np.load(sys.argv[1])
            assert a.shape == (139,) and a.dtype['alignments3D/pose'].shape == (3,), a.dtype
            assert set(a['alignments3D/split']) == {0, 1}
            assert abs(a['blob/psize_A'] - 1.245).max() < 0.006
            d = starfile.read(sys.argv[2], always_dict=True)
            p = d['particles']
            assert len(p) == 2019 and len(d['optics']) == 1, (len(p), len(d['optics']))
            assert set(p['rlnRandomSubset']) == {1, 2}
            assert abs(d['optics']['rlnImagePixelSize'][0] - 2.95) < 1e-6
            assert p['rlnImageName'][0].startswith('000001@')
            print('ok')
            """
        try assertPythonPrintsOK(check, arguments: [cs, star], in: directory)
    }

    func testBadInputsGiveOneLineErrors() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let noImages = directory.appendingPathComponent("noimages.star").path
        try "data_particles\nloop_\n_rlnDefocusU\n1000\n".write(toFile: noImages, atomically: true, encoding: .utf8)
        let badSubset = directory.appendingPathComponent("subset.star").path
        try "data_\nloop_\n_rlnImageName\n_rlnRandomSubset\n1@a.mrcs 3\n".write(toFile: badSubset, atomically: true, encoding: .utf8)
        let pixelShift = directory.appendingPathComponent("pixels.star").path
        try "data_\nloop_\n_rlnImageName\n_rlnAngleRot\n_rlnOriginX\n1@a.mrcs 10 2.5\n".write(toFile: pixelShift, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            (noImages, "block data_particles has no column _rlnImageName"),
            (badSubset, "particle 1: rlnRandomSubset must be 1 or 2, not 3"),
            (pixelShift, "rlnOriginX/Y are in pixels but the pixel size is unknown"),
            (directory.appendingPathComponent("x.txt").path, "unknown particle file format"),
        ]
        for (path, expected) in cases {
            XCTAssertThrowsError(try ParticleFile.read(path)) { error in
                let message = (error as? DuetError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(expected), "\(message)")
                XCTAssertFalse(message.contains("\n"))
            }
        }
        XCTAssertEqual(try ParticleFile.read(pixelShift, pixelSize_A: 2).particles[0].pose?.shiftX_A, 5)
    }

    /// A changed CTF scale factor reaches rlnCtfScalefactor (added when the input had none); unchanged values keep
    /// their text.
    func testCTFScaleFactorIsWrittenWhenItChanges() throws {
        let text = "data_\nloop_\n_rlnImageName\n_rlnDefocusU\n_rlnDefocusV\n_rlnDefocusAngle\n_rlnVoltage\n"
            + "_rlnSphericalAberration\n_rlnAmplitudeContrast\n1@a.mrcs 15000 15000 0 300 2.7 0.1\n"
            + "2@a.mrcs 15000 15000 0 300 2.7 0.1\n"
        var set = try StarParticles.particleSet(from: StarReader.parse(text: text), path: "scale.star", pixelSize_A: 2)
        let unchanged = try StarParticles.document(for: set)
        XCTAssertNil(unchanged.block(named: "")?.columnIndex("rlnCtfScalefactor"))
        set.particles[1].ctf!.scale = 0.75
        let changed = try StarParticles.document(for: set)
        XCTAssertEqual(changed.blocks.first?.column("rlnCtfScalefactor"), ["1.0", "0.75"])
    }
}
