import Foundation

extension ShellCorrelator {
    /// Maximises the score over continuous translations for the rotation whose products `computeProducts` (or
    /// `correlate`) left in `workspace`, by Newton steps from `start` (voxels of `box`) on the analytic sum
    /// `Σ m_k·Re(p_k·exp(2πi k·t/box))`. Each step moves at most one voxel per axis and must not lower the score;
    /// it stops after `iterations`, below 10⁻⁴ voxel, or where the curvature is not that of a maximum.
    func refine(from start: SIMD3<Double>, workspace: Workspace, iterations: Int = 6) -> Peak {
        var t = start
        var current = expansion(at: t, workspace: workspace)
        for _ in 0..<iterations {
            guard let step = current.newtonStep() else { break }
            let clamped = step.clamped(lowerBound: SIMD3(repeating: -1), upperBound: SIMD3(repeating: 1))
            let next = expansion(at: t + clamped, workspace: workspace)
            guard next.score >= current.score else { break }
            t += clamped
            current = next
            if (clamped * clamped).sum() < 1e-8 { break }
        }
        return Peak(score: current.score, translation_px: t)
    }

    /// The score and its first and second derivatives in `t`, with the phase `exp(2πi k·t/box)` taken from one
    /// table per axis (scalar arithmetic, as in `computeProducts`).
    private func expansion(at t: SIMD3<Double>, workspace: Workspace) -> SecondOrderExpansion {
        let r = radius, length = 2 * r + 1, w = 2 * Double.pi / Double(box)
        let table = UnsafeMutableRawPointer(workspace.phases.baseAddress).assumingMemoryBound(to: Double.self)
        for axis in 0..<3 {
            for k in -r...r {
                let angle = w * Double(k) * t[axis]
                table[2 * (axis * length + k + r)] = cos(angle)
                table[2 * (axis * length + k + r) + 1] = sin(angle)
            }
        }
        var sum = SecondOrderExpansion()
        let k = frequencies.baseAddress, m = multiplicities.baseAddress, p = workspace.products.baseAddress
        for i in 0..<count {
            let kx = Int(k[3 * i]), ky = Int(k[3 * i + 1]), kz = Int(k[3 * i + 2])
            let ex = table + 2 * (kx + r), ey = table + 2 * (length + ky + r), ez = table + 2 * (2 * length + kz + r)
            let yzRe = ey[0] * ez[0] - ey[1] * ez[1], yzIm = ey[0] * ez[1] + ey[1] * ez[0]
            let eRe = ex[0] * yzRe - ex[1] * yzIm, eIm = ex[0] * yzIm + ex[1] * yzRe
            let pr = Double(p[2 * i]) * Double(m[i]), pi = Double(p[2 * i + 1]) * Double(m[i])
            sum.add(re: pr * eRe - pi * eIm, im: pr * eIm + pi * eRe, k: (Double(kx), Double(ky), Double(kz)))
        }
        sum.scale(w)
        return sum
    }
}

/// `Σ Re(q)`, its gradient `−Σ Im(q)·k` and Hessian `−Σ Re(q)·k·kᵀ` (then scaled by `w`, `w²`) for the terms
/// `q = p·exp(i w k·t)` of a translation score.
struct SecondOrderExpansion {
    var score = 0.0
    var gx = 0.0, gy = 0.0, gz = 0.0
    var hxx = 0.0, hxy = 0.0, hxz = 0.0, hyy = 0.0, hyz = 0.0, hzz = 0.0

    @inline(__always) mutating func add(re: Double, im: Double, k: (Double, Double, Double)) {
        let (x, y, z) = k
        score += re
        gx -= im * x; gy -= im * y; gz -= im * z
        hxx -= re * x * x; hxy -= re * x * y; hxz -= re * x * z
        hyy -= re * y * y; hyz -= re * y * z; hzz -= re * z * z
    }

    /// Applies the chain rule for the phase `w k·t`: gradient × `w`, Hessian × `w²`.
    mutating func scale(_ w: Double) {
        let w2 = w * w
        gx *= w; gy *= w; gz *= w
        hxx *= w2; hxy *= w2; hxz *= w2; hyy *= w2; hyz *= w2; hzz *= w2
    }

    /// `−H⁻¹·g` when the Hessian is negative definite (a maximum nearby), else nil.
    func newtonStep() -> SIMD3<Double>? {
        // Cofactors of the symmetric Hessian; H⁻¹ = adj(H)/det(H).
        let cxx = hyy * hzz - hyz * hyz, cxy = hxz * hyz - hxy * hzz, cxz = hxy * hyz - hxz * hyy
        let cyy = hxx * hzz - hxz * hxz, cyz = hxy * hxz - hxx * hyz, czz = hxx * hyy - hxy * hxy
        let det = hxx * cxx + hxy * cxy + hxz * cxz
        guard hxx < 0, czz > 0, det < 0 else { return nil }
        return -SIMD3(cxx * gx + cxy * gy + cxz * gz, cxy * gx + cyy * gy + cyz * gz,
                      cxz * gx + cyz * gy + czz * gz) / det
    }
}
