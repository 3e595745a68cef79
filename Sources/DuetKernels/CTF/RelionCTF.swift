import DuetCore
import Foundation

/// The contrast transfer function exactly as RELION 3.1 computes it (`CTF::initialise`, `CTF::getCTF` without
/// anisotropic magnification or higher-order aberrations), sign included.
///
/// With λ the relativistic electron wavelength in Å (`12.2643247 / sqrt(V (1 + 0.978466e-6 V))`, V in volts),
/// Cs in Å, Q0 the amplitude contrast, and the constants
/// `K1 = π λ`, `K2 = π/2 · Cs · λ³`, `K3 = atan(Q0 / sqrt(1 − Q0²))`, `K4 = −B/4`, `K5 = phase shift (rad)`,
/// the CTF at the spatial frequency `(x, y)` in 1/Å is
///
///     γ   = K1 · (Axx x² + 2 Axy x y + Ayy y²) + K2 (x² + y²)² − K5 − K3
///     CTF = −sin(γ) · exp(K4 (x² + y²)) · scale
///
/// where `A = Qᵀ · diag(−ΔfU, −ΔfV) · Q`, `Q = [[cos α, sin α], [−sin α, cos α]]`, α = defocus angle: the defocus is
/// ΔfU along the direction at angle α from the x axis and ΔfV perpendicular to it (positive = underfocus). This equals
/// the older form `−(sqrt(1 − Q0²) sin χ − Q0 cos χ)` with `χ = γ + K3`. At zero frequency the CTF is
/// `−sin(−K5 − K3) · scale = sin(K3 + K5) · scale`, i.e. `Q0 · scale` without phase plate (positive).
public struct RelionCTF: Sendable, Equatable {
    /// The parameters this CTF was built from.
    public let parameters: CTFParameters
    /// Relativistic electron wavelength in Å.
    public let wavelength_A: Double
    /// RELION's constants K1…K5 (see the type's documentation).
    public let k1: Double, k2: Double, k3: Double, k4: Double, k5: Double
    /// The astigmatic defocus as a bilinear form in Å (negative for underfocus, as in RELION).
    public let axx: Double, axy: Double, ayy: Double

    /// Precomputes RELION's constants. Throws when the amplitude contrast is outside [0, 1] or every parameter
    /// is zero (the two checks RELION's `CTF::initialise` makes).
    public init(_ parameters: CTFParameters) throws {
        let q0 = parameters.amplitudeContrast
        guard q0 >= 0, q0 <= 1, q0.isFinite else {
            throw DuetError("CTF amplitude contrast \(q0) is outside [0, 1]")
        }
        if abs(parameters.defocusU_A) < 1e-6, abs(parameters.defocusV_A) < 1e-6, abs(q0) < 1e-6,
           abs(parameters.sphericalAberration_mm) < 1e-6 {
            throw DuetError("CTF parameters are all zero")
        }
        self.parameters = parameters
        let volts = parameters.voltage_kV * 1e3
        let cs_A = parameters.sphericalAberration_mm * 1e7
        let lambda = 12.2643247 / (volts * (1 + volts * 0.978466e-6)).squareRoot()
        wavelength_A = lambda
        k1 = .pi * lambda
        k2 = .pi / 2 * cs_A * lambda * lambda * lambda
        k3 = atan(q0 / (1 - q0 * q0).squareRoot())
        k4 = -parameters.bFactor_A2 / 4
        k5 = parameters.phaseShift_deg * .pi / 180
        let angle = parameters.defocusAngle_deg * .pi / 180
        let c = cos(angle), s = sin(angle)
        let du = -parameters.defocusU_A, dv = -parameters.defocusV_A
        // Qᵀ · diag(du, dv) · Q with Q = [[c, s], [−s, c]].
        axx = c * c * du + s * s * dv
        axy = c * s * (du - dv)
        ayy = s * s * du + c * c * dv
    }

    /// The phase γ (radians) at spatial frequency `(x, y)` in 1/Å; the CTF is `−sin γ` times the envelope.
    @inline(__always)
    public func phase(x: Double, y: Double) -> Double {
        let u2 = x * x + y * y
        return k1 * (axx * x * x + 2 * axy * x * y + ayy * y * y) + k2 * u2 * u2 - k5 - k3
    }

    /// The CTF value at spatial frequency `(x, y)` in 1/Å (B-factor envelope and scale included).
    @inline(__always)
    public func value(x: Double, y: Double) -> Double {
        let u2 = x * x + y * y
        let gamma = k1 * (axx * x * x + 2 * axy * x * y + ayy * y * y) + k2 * u2 * u2 - k5 - k3
        var result = -sin(gamma)
        if k4 != 0 { result *= exp(k4 * u2) }
        return result * parameters.scale
    }
}
