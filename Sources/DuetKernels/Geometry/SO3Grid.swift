import DuetCore
import Foundation

/// A uniform grid of rotations built on the Hopf fibration of SO(3) (Yershova et al. 2010), the grid RELION uses:
/// HEALPix viewing directions (`12·nside²`, `nside = 2^order`) × `6·nside` equally spaced in-plane angles.
///
/// Each grid point is the RELION rotation `Rotation(relion: (rot = φ, tilt = θ, psi = ψ))`, (θ, φ) a HEALPix pixel
/// centre and ψ = k · step. The nominal step is `60° / 2^order` (order 0: 60°, 1: 30°, 2: 15°, 3: 7.5°, 4: 3.75°,
/// 5: 1.875°, RELION's healpix orders); counts are `72 · 8^order` (order 3: 36 864; order 4: 294 912; order 5:
/// 2 359 296). The measured covering radius (largest distance from a random rotation to its nearest grid point) is
/// printed by `SO3GridTests`. Points are stored as unit quaternions `(w, x, y, z)` with w ≥ 0 (`Rotation.unitQuaternion`
/// convention) for compactness; ordering: index = direction · psiCount + psiIndex.
public struct SO3Grid: Sendable {
    /// HEALPix order; `nside = 2^order`.
    public let order: Int
    /// Nominal angular step in degrees, `60 / 2^order`.
    public let step_deg: Double
    /// Number of viewing directions, `12 · nside²`, and of in-plane angles, `6 · nside`.
    public let directionCount: Int
    public let psiCount: Int
    /// Unit quaternions (w, x, y, z) of the rotations, w ≥ 0.
    public let quaternions: [SIMD4<Double>]

    /// Number of rotations, `directionCount · psiCount`.
    public var count: Int { quaternions.count }

    /// The grid of HEALPix order `order` (0…8).
    public init(order: Int) {
        precondition((0...8).contains(order), "SO3Grid: order \(order) outside 0…8")
        self.order = order
        let nside = 1 << order
        step_deg = 60 / Double(nside)
        directionCount = 12 * nside * nside
        psiCount = 6 * nside
        var quaternions = [SIMD4<Double>]()
        quaternions.reserveCapacity(directionCount * psiCount)
        for pixel in 0..<directionCount {
            let (theta, phi) = HealpixRing.angles(pixel: pixel, nside: nside)
            for k in 0..<psiCount {
                let r = Rotation(relion: RelionEulerAngles(rot_deg: phi * 180 / .pi, tilt_deg: theta * 180 / .pi,
                                                           psi_deg: Double(k) * 360 / Double(6 * nside)))
                let q = r.unitQuaternion
                quaternions.append(SIMD4(q.w, q.x, q.y, q.z))
            }
        }
        self.quaternions = quaternions
    }

    /// The coarsest grid whose nominal step is at most `maxStep_deg` (capped at order 8, 0.23°).
    public init(maxStep_deg: Double) {
        var order = 0
        while 60 / Double(1 << order) > maxStep_deg && order < 8 { order += 1 }
        self.init(order: order)
    }

    /// The rotation of grid point `index`.
    public func rotation(at index: Int) -> Rotation { Rotation(unitQuaternion: quaternions[index]) }

    /// All rotations (materialised: 72 bytes each; prefer `quaternions` or `rotation(at:)` for large grids).
    public var rotations: [Rotation] { quaternions.map { Rotation(unitQuaternion: $0) } }

    /// RELION Euler angles (degrees) of grid point `index`, as built: rot = φ, tilt = θ of its HEALPix direction and
    /// psi = its in-plane angle.
    public func relionAngles(at index: Int) -> RelionEulerAngles {
        let nside = 1 << order
        let (theta, phi) = HealpixRing.angles(pixel: index / psiCount, nside: nside)
        return RelionEulerAngles(rot_deg: phi * 180 / .pi, tilt_deg: theta * 180 / .pi,
                                 psi_deg: Double(index % psiCount) * 360 / Double(psiCount))
    }
}

extension Rotation {
    /// The rotation of a unit quaternion `(w, x, y, z)` (normalised here), in the convention of `unitQuaternion`.
    public init(unitQuaternion q: SIMD4<Double>) {
        let n = q / (q * q).sum().squareRoot()
        let (w, x, y, z) = (n[0], n[1], n[2], n[3])
        self.init(row0: [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                  row1: [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                  row2: [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])
    }

    /// The unit quaternion as a SIMD vector `(w, x, y, z)`, w ≥ 0.
    public var quaternionVector: SIMD4<Double> {
        let q = unitQuaternion
        return SIMD4(q.w, q.x, q.y, q.z)
    }
}

/// Geodesic distance on SO(3) in radians between the rotations of two unit quaternions: `2 acos |q₁·q₂|`,
/// computed as `4 asin(min(|q₁ − q₂|, |q₁ + q₂|) / 2)` for accuracy at small angles.
@inline(__always)
public func so3Distance_rad(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> Double {
    let d1 = a - b, d2 = a + b
    let chord = min((d1 * d1).sum(), (d2 * d2).sum()).squareRoot()
    return 4 * asin(min(1, chord / 2))
}
