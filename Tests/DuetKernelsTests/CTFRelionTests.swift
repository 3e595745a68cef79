import CFFTW
import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// Compares Duet's CTF with RELION's own: `relion_project` makes the same projections with and without `--ctf`;
/// the ratio of their Fourier transforms (where the projection is not tiny) is RELION's CTF on the FFTW grid.
final class CTFRelionTests: XCTestCase {
    private static let relionProject = "/usr/bin/relion_project"

    private struct Case {
        var defocusU_A, defocusV_A, angle_deg, phaseShift_deg, bFactor_A2, scale: Double
        var opticsGroup: Int
        var rot, tilt, psi: Double
    }

    private let cases: [Case] = [
        Case(defocusU_A: 10000, defocusV_A: 9000, angle_deg: 30, phaseShift_deg: 0, bFactor_A2: 0, scale: 1,
             opticsGroup: 1, rot: 10, tilt: 20, psi: 30),
        Case(defocusU_A: 25000, defocusV_A: 23500, angle_deg: -45, phaseShift_deg: 0, bFactor_A2: 50, scale: 1,
             opticsGroup: 2, rot: 40, tilt: 70, psi: -50),
        Case(defocusU_A: 15000, defocusV_A: 15000, angle_deg: 0, phaseShift_deg: 90, bFactor_A2: 0, scale: 0.8,
             opticsGroup: 1, rot: 100, tilt: 120, psi: 80),
        Case(defocusU_A: 6000, defocusV_A: 8000, angle_deg: 123.4, phaseShift_deg: 35, bFactor_A2: 120, scale: 1.3,
             opticsGroup: 2, rot: -160, tilt: 95, psi: 170),
        Case(defocusU_A: 32000, defocusV_A: 30000, angle_deg: 77, phaseShift_deg: 0, bFactor_A2: -20, scale: 1,
             opticsGroup: 1, rot: 5, tilt: 150, psi: 0),
    ]
    private let voltages_kV: [Int: Double] = [1: 300, 2: 200]

    func testCTFMatchesRelionProjectOddBox() throws {
        try compareWithRelion(box: 65, pixelSize_A: 2.5)
    }

    func testCTFMatchesRelionProjectEvenBox() throws {
        try compareWithRelion(box: 64, pixelSize_A: 1.7)
    }

    private func compareWithRelion(box: Int, pixelSize_A: Double) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.relionProject) else {
            return XCTFail("relion_project is missing: install the Debian package relion (ci/install-deps.sh does)")
        }
        let source = CommandRunner.fixtures.appendingPathComponent("aspire/volumes/clean70SRibosome_vol_65p.mrc")
        let volume = try MRCFile.readVolume(path: source.path)
        XCTAssertEqual(volume.nx, 65)
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }

        // Crop the 65³ map to the requested box (its first `box` voxels on each axis).
        var data = [Float](repeating: 0, count: box * box * box)
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            data[(z * box + y) * box + x] = volume[x, y, z]
        } } }
        let mapPath = dir.appendingPathComponent("map.mrc").path
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: data, pixelSize_A: Float(pixelSize_A), to: mapPath)

        var star = "\n# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n"
        star += "_rlnVoltage #3\n_rlnSphericalAberration #4\n_rlnAmplitudeContrast #5\n_rlnImagePixelSize #6\n"
        star += "_rlnImageSize #7\n_rlnImageDimensionality #8\n"
        for group in [1, 2] {
            star += "\(group) opticsGroup\(group) \(voltages_kV[group]!) 2.7 0.1 \(pixelSize_A) \(box) 2\n"
        }
        star += "\n\n# version 30001\n\ndata_particles\n\nloop_\n_rlnImageName #1\n_rlnAngleRot #2\n"
        star += "_rlnAngleTilt #3\n_rlnAnglePsi #4\n_rlnOriginXAngst #5\n_rlnOriginYAngst #6\n_rlnDefocusU #7\n"
        star += "_rlnDefocusV #8\n_rlnDefocusAngle #9\n_rlnPhaseShift #10\n_rlnCtfBfactor #11\n"
        star += "_rlnCtfScalefactor #12\n_rlnOpticsGroup #13\n"
        for (index, c) in cases.enumerated() {
            star += "\(index + 1)@dummy.mrcs \(c.rot) \(c.tilt) \(c.psi) 0 0 \(c.defocusU_A) \(c.defocusV_A) "
            star += "\(c.angle_deg) \(c.phaseShift_deg) \(c.bFactor_A2) \(c.scale) \(c.opticsGroup)\n"
        }
        try star.write(to: dir.appendingPathComponent("poses.star"), atomically: true, encoding: .utf8)

        for (name, extra) in [("plain", [String]()), ("ctf", ["--ctf"])] {
            let result = try CommandRunner.run(Self.relionProject,
                                               ["--i", mapPath, "--ang", "poses.star", "--angpix", "\(pixelSize_A)",
                                                "--o", name] + extra, in: dir)
            XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        }
        let plain = try MRCFile(path: dir.appendingPathComponent("plain.mrcs").path)
        let withCTF = try MRCFile(path: dir.appendingPathComponent("ctf.mrcs").path)
        XCTAssertEqual(plain.imageCount, cases.count)
        XCTAssertEqual(plain.nx, box)

        let grid = CTFFrequencyGrid(box: box, pixelSize_A: pixelSize_A)
        var duetCTF = [Double](repeating: 0, count: grid.count)
        for (index, c) in cases.enumerated() {
            let fPlain = fft2D(try plain.readSection(index: index), nx: box, ny: box)
            let fCTF = fft2D(try withCTF.readSection(index: index), nx: box, ny: box)
            let ctf = try RelionCTF(CTFParameters(
                defocusU_A: c.defocusU_A, defocusV_A: c.defocusV_A, defocusAngle_deg: c.angle_deg,
                voltage_kV: voltages_kV[c.opticsGroup]!, sphericalAberration_mm: 2.7, amplitudeContrast: 0.1,
                phaseShift_deg: c.phaseShift_deg, bFactor_A2: c.bFactor_A2, scale: c.scale))
            duetCTF.withUnsafeMutableBufferPointer { ctf.evaluate(on: grid, into: $0) }

            let maxMagnitude = fPlain.map { ($0.re * $0.re + $0.im * $0.im).squareRoot() }.max()!
            var ratios: [Double] = [], expected: [Double] = []
            for k in 0..<grid.count {
                let p = fPlain[k], q = fCTF[k]
                let m2 = p.re * p.re + p.im * p.im
                guard m2.squareRoot() > 1e-3 * maxMagnitude else { continue }
                ratios.append((q.re * p.re + q.im * p.im) / m2)   // Re(q / p)
                expected.append(duetCTF[k])
            }
            let errors = zip(ratios, expected).map { abs($0 - $1) }.sorted()
            let median = errors[errors.count / 2]
            let correlation = pearson(ratios, expected)
            print(String(format: "CTF vs relion_project box %d case %d: %d samples, r = %.9f, median |err| = %.2e, "
                         + "max |err| = %.2e", box, index, ratios.count, correlation, median, errors.last!))
            XCTAssertGreaterThan(ratios.count, grid.count / 4)
            XCTAssertGreaterThan(correlation, 0.999)
            XCTAssertLessThan(median, 1e-3)
            XCTAssertLessThan(errors.last!, 1e-4)   // measured ≤ 1.5e-5 (float32 stacks)
        }
    }
}

/// Forward FFT of a real `ny × nx` image with FFTW (double precision), FFTW half-plane layout.
fileprivate func fft2D(_ image: [Float], nx: Int, ny: Int) -> [(re: Double, im: Double)] {
    let half = nx / 2 + 1
    let input = UnsafeMutablePointer<Double>.allocate(capacity: nx * ny)
    let output = UnsafeMutablePointer<fftw_complex>.allocate(capacity: ny * half)
    defer { input.deallocate(); output.deallocate() }
    for i in 0..<(nx * ny) { input[i] = Double(image[i]) }
    let plan = fftw_plan_dft_r2c_2d(Int32(ny), Int32(nx), input, output, FFTW_ESTIMATE)
    fftw_execute(plan)
    fftw_destroy_plan(plan)
    return (0..<(ny * half)).map { (re: output[$0].0, im: output[$0].1) }
}

fileprivate func pearson(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count)
    let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (x, y) in zip(a, b) { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
    return sab / (saa * sbb).squareRoot()
}
