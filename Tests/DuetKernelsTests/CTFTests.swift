import DuetCore
import DuetKernels
import Foundation
import XCTest

final class CTFTests: XCTestCase {
    private func params(u: Double = 12000, v: Double = 10000, angle: Double = 35, kV: Double = 300,
                        q0: Double = 0.1, phase: Double = 0, b: Double = 0, scale: Double = 1) -> CTFParameters {
        CTFParameters(defocusU_A: u, defocusV_A: v, defocusAngle_deg: angle, voltage_kV: kV,
                      sphericalAberration_mm: 2.7, amplitudeContrast: q0, phaseShift_deg: phase,
                      bFactor_A2: b, scale: scale)
    }

    func testWavelength() throws {
        // Relativistic wavelengths: 0.019687 Å at 300 kV, 0.025079 Å at 200 kV.
        XCTAssertEqual(try RelionCTF(params(kV: 300)).wavelength_A, 0.019687, accuracy: 2e-6)
        XCTAssertEqual(try RelionCTF(params(kV: 200)).wavelength_A, 0.025079, accuracy: 2e-6)
    }

    func testValueAtZeroFrequency() throws {
        // γ(0) = −K5 − K3, so CTF(0) = sin(K3 + K5)·scale: Q0·scale without a phase plate (positive), and
        // sin(asin(Q0) + φ)·scale with phase shift φ.
        XCTAssertEqual(try RelionCTF(params(q0: 0.1)).value(x: 0, y: 0), 0.1, accuracy: 1e-15)
        XCTAssertEqual(try RelionCTF(params(q0: 0.07, scale: 2)).value(x: 0, y: 0), 0.14, accuracy: 1e-15)
        XCTAssertEqual(try RelionCTF(params(q0: 0.1, phase: 90)).value(x: 0, y: 0), cos(asin(0.1)), accuracy: 1e-15)
        XCTAssertEqual(try RelionCTF(params(q0: 0, b: 100)).value(x: 0, y: 0), 0, accuracy: 1e-15)
    }

    func testMatchesOlderRelionForm() throws {
        // RELION ≤ 3.0 wrote CTF = −(K3' sin χ − Q0 cos χ), K3' = sqrt(1 − Q0²), χ = K1 Δf(θ) u² + K2 u⁴ − K5 with
        // Δf(θ) = −(ΔfU + ΔfV)/2 − (ΔfU − ΔfV)/2 · cos(2(θ − α)).
        let p = params(u: 21000, v: 18000, angle: -60, q0: 0.15, phase: 20, b: 30, scale: 0.9)
        let ctf = try RelionCTF(p)
        for (x, y) in [(0.01, 0.02), (-0.1, 0.05), (0.2, -0.17), (0.0, 0.3)] {
            let u2 = x * x + y * y
            let theta = atan2(y, x) - p.defocusAngle_deg * .pi / 180
            let df = -(p.defocusU_A + p.defocusV_A) / 2 - (p.defocusU_A - p.defocusV_A) / 2 * cos(2 * theta)
            let chi = ctf.k1 * df * u2 + ctf.k2 * u2 * u2 - p.phaseShift_deg * .pi / 180
            let q0 = p.amplitudeContrast
            let old = -((1 - q0 * q0).squareRoot() * sin(chi) - q0 * cos(chi)) * exp(-p.bFactor_A2 / 4 * u2) * p.scale
            XCTAssertEqual(ctf.value(x: x, y: y), old, accuracy: 1e-12)
        }
    }

    func testPointSymmetryAndAstigmatismRotation() throws {
        let base = try RelionCTF(params(u: 15000, v: 11000, angle: 0))
        let alpha = 0.7
        let rotated = try RelionCTF(params(u: 15000, v: 11000, angle: alpha * 180 / .pi))
        let swapped = try RelionCTF(params(u: 11000, v: 15000, angle: alpha * 180 / .pi + 90))
        let isotropicU = try RelionCTF(params(u: 15000, v: 15000, angle: 0))
        for (x, y) in [(0.013, 0.021), (-0.11, 0.05), (0.2, -0.17), (0.0, 0.3), (0.25, 0)] {
            XCTAssertEqual(base.value(x: x, y: y), base.value(x: -x, y: -y), accuracy: 1e-14)
            // Rotating the astigmatism by α rotates the CTF by α.
            let xr = cos(alpha) * x - sin(alpha) * y, yr = sin(alpha) * x + cos(alpha) * y
            XCTAssertEqual(rotated.value(x: xr, y: yr), base.value(x: x, y: y), accuracy: 1e-12)
            // (U, V, α) and (V, U, α + 90°) describe the same CTF.
            XCTAssertEqual(swapped.value(x: x, y: y), rotated.value(x: x, y: y), accuracy: 1e-12)
        }
        // Along the U direction the defocus is ΔfU.
        for r in [0.05, 0.1, 0.2] {
            XCTAssertEqual(rotated.value(x: r * cos(alpha), y: r * sin(alpha)), isotropicU.value(x: r, y: 0),
                           accuracy: 1e-12)
        }
    }

    func testGridLayoutAndOutputs() throws {
        for (nx, ny) in [(64, 64), (65, 65), (48, 33)] {
            let grid = CTFFrequencyGrid(nx: nx, ny: ny, pixelSize_A: 1.3)
            XCTAssertEqual(grid.count, ny * (nx / 2 + 1))
            let ctf = try RelionCTF(params(u: 9000, v: 8000, angle: 12, phase: 10, b: 40, scale: 1.1))
            let values = ctf.image(on: grid)
            let squared = ctf.image(on: grid, output: .squared)
            let absolute = ctf.image(on: grid, output: .absolute)
            for i in 0..<ny {
                let ky = i <= ny / 2 ? i : i - ny
                for j in 0..<(nx / 2 + 1) {
                    let k = i * (nx / 2 + 1) + j
                    let expected = ctf.value(x: Double(j) / (Double(nx) * 1.3), y: Double(ky) / (Double(ny) * 1.3))
                    XCTAssertEqual(Double(values[k]), expected, accuracy: 1e-6)
                    XCTAssertEqual(Double(squared[k]), expected * expected, accuracy: 1e-6)
                    XCTAssertEqual(Double(absolute[k]), abs(expected), accuracy: 1e-6)
                }
            }
        }
    }

    func testRejectsBadAmplitudeContrast() {
        XCTAssertThrowsError(try RelionCTF(params(q0: 1.2)))
        XCTAssertThrowsError(try RelionCTF(params(q0: -0.1)))
        XCTAssertThrowsError(try RelionCTF(CTFParameters(defocusU_A: 0, defocusV_A: 0, defocusAngle_deg: 0,
                                                         voltage_kV: 300, sphericalAberration_mm: 0,
                                                         amplitudeContrast: 0)))
    }

    func testEvaluationSpeed() throws {
        let grid = CTFFrequencyGrid(box: 256, pixelSize_A: 1.0)
        let ctf = try RelionCTF(params(b: 50))
        var buffer = [Float](repeating: 0, count: grid.count)
        let repeats = 20
        let start = Date()
        for _ in 0..<repeats { buffer.withUnsafeMutableBufferPointer { ctf.evaluate(on: grid, into: $0) } }
        let perImage = Date().timeIntervalSince(start) / Double(repeats)
        print(String(format: "CTF 256² half plane: %.3f ms per image (this build configuration)", perImage * 1e3))
        XCTAssertEqual(Double(buffer[0]), 0.1, accuracy: 1e-6)
    }
}
