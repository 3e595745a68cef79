import Foundation

/// RELION ZYZ Euler angles in degrees (`rlnAngleRot`, `rlnAngleTilt`, `rlnAnglePsi`).
public struct RelionEulerAngles: Equatable, Sendable {
    public var rot_deg: Double
    public var tilt_deg: Double
    public var psi_deg: Double

    public init(rot_deg: Double, tilt_deg: Double, psi_deg: Double) {
        self.rot_deg = rot_deg
        self.tilt_deg = tilt_deg
        self.psi_deg = psi_deg
    }
}

extension Rotation {
    /// The rotation RELION builds from Euler angles (`Euler_angles2matrix`).
    public init(relion angles: RelionEulerAngles) {
        let alpha = angles.rot_deg * .pi / 180
        let beta = angles.tilt_deg * .pi / 180
        let gamma = angles.psi_deg * .pi / 180
        let (ca, sa) = (cos(alpha), sin(alpha))
        let (cb, sb) = (cos(beta), sin(beta))
        let (cg, sg) = (cos(gamma), sin(gamma))
        let cc = cb * ca, cs = cb * sa, sc = sb * ca, ss = sb * sa
        self.init(row0: [cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
                  row1: [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
                  row2: [sc, ss, cb])
    }

    /// Euler angles that rebuild this matrix, chosen as RELION's `Euler_matrix2angles` chooses them
    /// (tilt in [0°, 180°]; at tilt 0° or 180° the rotation is put into psi).
    public var relionEulerAngles: RelionEulerAngles {
        let sinTiltMagnitude = (row0.z * row0.z + row1.z * row1.z).squareRoot()
        var alpha: Double, beta: Double, gamma: Double
        if sinTiltMagnitude > 16 * Double(Float.ulpOfOne) {
            gamma = atan2(row1.z, -row0.z)
            alpha = atan2(row2.y, row2.x)
            let signSinTilt: Double
            if abs(sin(gamma)) < Double(Float.ulpOfOne) {
                signSinTilt = (-row0.z / cos(gamma)).sign == .minus ? -1 : 1
            } else {
                signSinTilt = (sin(gamma) > 0) == (row1.z >= 0) ? 1 : -1
            }
            beta = atan2(signSinTilt * sinTiltMagnitude, row2.z)
        } else if row2.z > 0 {
            alpha = 0
            beta = 0
            gamma = atan2(-row1.x, row0.x)
        } else {
            alpha = 0
            beta = .pi
            gamma = atan2(row1.x, -row0.x)
        }
        return RelionEulerAngles(rot_deg: alpha * 180 / .pi, tilt_deg: beta * 180 / .pi, psi_deg: gamma * 180 / .pi)
    }

    /// The rotation whose matrix is `exp([v]×)` for an axis-angle vector `v` in radians (Rodrigues' formula).
    public init(axisAngle v: SIMD3<Double>) {
        let angle = (v * v).sum().squareRoot()
        guard angle > 1e-15 else {
            // First order: I + [v]×, exact enough below 1e-15 rad.
            self.init(row0: [1, -v.z, v.y], row1: [v.z, 1, -v.x], row2: [-v.y, v.x, 1])
            return
        }
        let k = v / angle
        let c = cos(angle), s = sin(angle), t = 1 - c
        self.init(row0: [t * k.x * k.x + c, t * k.x * k.y - s * k.z, t * k.x * k.z + s * k.y],
                  row1: [t * k.x * k.y + s * k.z, t * k.y * k.y + c, t * k.y * k.z - s * k.x],
                  row2: [t * k.x * k.z - s * k.y, t * k.y * k.z + s * k.x, t * k.z * k.z + c])
    }

    /// The axis-angle vector (radians, angle in [0, π]) of this matrix, through the unit quaternion so that it is
    /// accurate at every angle, including near 0 and π.
    public var axisAngle: SIMD3<Double> {
        let q = unitQuaternion
        let vectorNorm = (q.x * q.x + q.y * q.y + q.z * q.z).squareRoot()
        guard vectorNorm > 1e-300 else { return .zero }
        let angle = 2 * atan2(vectorNorm, q.w)
        return SIMD3(q.x, q.y, q.z) * (angle / vectorNorm)
    }

    /// The unit quaternion (w ≥ 0) of this rotation, by the numerically stable largest-diagonal method.
    public var unitQuaternion: (w: Double, x: Double, y: Double, z: Double) {
        let m00 = row0.x, m11 = row1.y, m22 = row2.z
        let trace = m00 + m11 + m22
        var w: Double, x: Double, y: Double, z: Double
        if trace > 0 {
            let s = (trace + 1).squareRoot() * 2
            w = s / 4
            x = (row2.y - row1.z) / s
            y = (row0.z - row2.x) / s
            z = (row1.x - row0.y) / s
        } else if m00 > m11 && m00 > m22 {
            let s = (1 + m00 - m11 - m22).squareRoot() * 2
            w = (row2.y - row1.z) / s
            x = s / 4
            y = (row0.y + row1.x) / s
            z = (row0.z + row2.x) / s
        } else if m11 > m22 {
            let s = (1 + m11 - m00 - m22).squareRoot() * 2
            w = (row0.z - row2.x) / s
            x = (row0.y + row1.x) / s
            y = s / 4
            z = (row1.z + row2.y) / s
        } else {
            let s = (1 + m22 - m00 - m11).squareRoot() * 2
            w = (row1.x - row0.y) / s
            x = (row0.z + row2.x) / s
            y = (row1.z + row2.y) / s
            z = s / 4
        }
        if w < 0 { (w, x, y, z) = (-w, -x, -y, -z) }
        let norm = (w * w + x * x + y * y + z * z).squareRoot()
        return (w / norm, x / norm, y / norm, z / norm)
    }

    /// The RELION rotation for a CryoSPARC `alignments3D/pose` vector (radians): the transpose of its matrix.
    public init(cryosparcPose pose: SIMD3<Double>) {
        self = Rotation(axisAngle: pose).transposed
    }

    /// The CryoSPARC `alignments3D/pose` vector (radians) of this RELION rotation.
    public var cryosparcPose: SIMD3<Double> {
        transposed.axisAngle
    }
}
