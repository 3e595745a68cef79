import Foundation

/// A proper 3-D rotation stored as a row-major 3×3 matrix in RELION's convention: `matrix · r_map` gives the
/// coordinates in the particle's view of a point `r_map` of the reference map (RELION's `Euler_angles2matrix`).
///
/// Conversions at the file boundary:
/// - RELION ZYZ Euler angles (`rlnAngleRot`, `rlnAngleTilt`, `rlnAnglePsi`, degrees): `R = Rz(psi)·Ry(tilt)·Rz(rot)`
///   with RELION's sign convention.
/// - CryoSPARC `alignments3D/pose`: an axis-angle (Rodrigues) vector in radians whose rotation matrix is the
///   transpose of RELION's (the pyem `csparc2star` convention, see docs/design.md §1).
public struct Rotation: Equatable, Sendable {
    /// Rows of the matrix.
    public var row0: SIMD3<Double>
    public var row1: SIMD3<Double>
    public var row2: SIMD3<Double>

    public init(row0: SIMD3<Double>, row1: SIMD3<Double>, row2: SIMD3<Double>) {
        self.row0 = row0
        self.row1 = row1
        self.row2 = row2
    }

    public static let identity = Rotation(row0: [1, 0, 0], row1: [0, 1, 0], row2: [0, 0, 1])

    /// Element at (row, column), both 0-based.
    public subscript(row: Int, column: Int) -> Double {
        switch row {
        case 0: return row0[column]
        case 1: return row1[column]
        default: return row2[column]
        }
    }

    public var transposed: Rotation {
        Rotation(row0: [row0.x, row1.x, row2.x],
                 row1: [row0.y, row1.y, row2.y],
                 row2: [row0.z, row1.z, row2.z])
    }

    /// Matrix product `self · other`.
    public static func * (lhs: Rotation, rhs: Rotation) -> Rotation {
        let t = rhs.transposed
        func row(_ r: SIMD3<Double>) -> SIMD3<Double> {
            [(r * t.row0).sum(), (r * t.row1).sum(), (r * t.row2).sum()]
        }
        return Rotation(row0: row(lhs.row0), row1: row(lhs.row1), row2: row(lhs.row2))
    }

    /// Matrix–vector product.
    public static func * (lhs: Rotation, rhs: SIMD3<Double>) -> SIMD3<Double> {
        [(lhs.row0 * rhs).sum(), (lhs.row1 * rhs).sum(), (lhs.row2 * rhs).sum()]
    }

    /// The angle in radians of the rotation `self⁻¹ · other` (the geodesic distance on SO(3)), from both the
    /// symmetric part (cosine) and the antisymmetric part (sine) so it stays accurate near 0 and π.
    public func angularDistance_rad(to other: Rotation) -> Double {
        let r = transposed * other
        let cosine = (r.row0.x + r.row1.y + r.row2.z - 1) / 2
        let skew = SIMD3(r.row2.y - r.row1.z, r.row0.z - r.row2.x, r.row1.x - r.row0.y)
        let sine = (skew * skew).sum().squareRoot() / 2
        return atan2(sine, cosine)
    }
}
