import DuetCore
import Foundation

/// Local rotation grids for coarse-to-fine search: rotations near a given rotation, at a finer step than the
/// global `SO3Grid`.
public enum SO3LocalGrid {
    /// Rotations `exp([v]×) · center` for every axis-angle vector `v` (radians) of the cubic lattice
    /// `step · ℤ³` with `|v| ≤ radius` (the centre itself first). Near the identity the axis-angle map is an isometry
    /// to first order, so these are spaced `step` apart along the lattice axes and every rotation within `radius` of
    /// `center` is within about `step · √3 / 2` of one of them. The perturbation acts on the left (in the particle's
    /// view frame, since `R · r_map` gives view coordinates).
    public static func rotations(around center: Rotation, step_deg: Double, radius_deg: Double) -> [Rotation] {
        offsets(step_deg: step_deg, radius_deg: radius_deg).map { Rotation(axisAngle: $0) * center }
    }

    /// The axis-angle offsets (radians) used by `rotations(around:step_deg:radius_deg:)`, the zero vector first.
    public static func offsets(step_deg: Double, radius_deg: Double) -> [SIMD3<Double>] {
        precondition(step_deg > 0 && radius_deg >= 0, "SO3LocalGrid: bad step or radius")
        let step = step_deg * .pi / 180, radius = radius_deg * .pi / 180
        let m = Int((radius / step).rounded(.down))
        var result: [SIMD3<Double>] = [.zero]
        if m == 0 { return result }
        for i in -m...m { for j in -m...m { for k in -m...m where !(i == 0 && j == 0 && k == 0) {
            let v = SIMD3(Double(i), Double(j), Double(k)) * step
            if (v * v).sum() <= radius * radius * (1 + 1e-12) { result.append(v) }
        } } }
        return result
    }
}
