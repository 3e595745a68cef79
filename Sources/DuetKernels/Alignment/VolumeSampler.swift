import DuetCore

/// Trilinear reads of a `FourierVolume` at arbitrary 3-D frequencies, for rotating whole maps (not slices) in
/// Fourier space: the map alignment samples `V̂(Q·k)` for every frequency `k` of a sphere.
///
/// A point is given in padded-grid units (`grid.scale` × cycles per map box; `axes` folds the scale in). Only the
/// half-space `x ≥ 0` is stored, so a point with `x < 0` is read at `−p` and conjugated (Friedel,
/// `V(−k) = conj V(k)`), as the slice kernels do. Points must lie within the stored radius
/// (`|p| ≤ grid.scale · grid.maxRadius_px`); the eight neighbours then exist by the grid's margin.
///
/// Written with scalar arithmetic on purpose: the generic SIMD operators are not inlined in debug builds, where
/// the tests run the alignment, and the scalar form costs little in release.
/// Sendable: it only reads the volume, which must outlive it and not change while it is used.
struct VolumeSampler: @unchecked Sendable {
    /// Interleaved (re, im) coefficients of the volume.
    let volume: UnsafePointer<Float>
    let nx: Int
    let nxy: Int
    let offset: Float
    let scale: Double

    /// `scale · Q` for `Q = M·Rᵀ`, as scalars: `point(k)` is `Q·k` in padded units.
    struct Axes {
        let xx, xy, xz, yx, yy, yz, zx, zy, zz: Float

        /// `k.x·col0 + k.y·col1 + k.z·col2`.
        @inline(__always) func point(_ kx: Float, _ ky: Float, _ kz: Float) -> (Float, Float, Float) {
            (kx * xx + ky * yx + kz * zx, kx * xy + ky * yy + kz * zy, kx * xz + ky * yz + kz * zz)
        }
    }

    /// A sampler over `volume.data`; keep `volume` alive while it is used.
    init(_ volume: FourierVolume) {
        self.volume = UnsafeRawPointer(volume.data.baseAddress).assumingMemoryBound(to: Float.self)
        nx = volume.grid.nx
        nxy = volume.grid.nx * volume.grid.ny
        offset = Float(volume.grid.halfExtent)
        scale = volume.grid.scale
    }

    /// The axes for `Q = M·Rᵀ`, `M = diag(1, 1, −1)` when `mirrored`: `Rᵀk = k.x·row0 + k.y·row1 + k.z·row2`.
    func axes(rotation r: Rotation, mirrored: Bool) -> Axes {
        let s = scale, zs = mirrored ? -scale : scale
        return Axes(xx: Float(r.row0.x * s), xy: Float(r.row0.y * s), xz: Float(r.row0.z * zs),
                    yx: Float(r.row1.x * s), yy: Float(r.row1.y * s), yz: Float(r.row1.z * zs),
                    zx: Float(r.row2.x * s), zy: Float(r.row2.y * s), zz: Float(r.row2.z * zs))
    }

    /// `V̂` at padded-grid point `(x, y, z)` by trilinear interpolation (Friedel flip for `x < 0`).
    @inline(__always) func sample(_ point: (Float, Float, Float)) -> (re: Float, im: Float) {
        let (x, y, z) = point
        let sign: Float = x < 0 ? -1 : 1
        let px = x * sign, py = y * sign + offset, pz = z * sign + offset   // all ≥ 0: truncation is floor
        let ix = Int(px), iy = Int(py), iz = Int(pz)
        let fx = px - Float(ix), fy = py - Float(iy), fz = pz - Float(iz)
        let yStep = 2 * nx, zStep = 2 * nxy
        let q00 = volume + 2 * (ix + nx * iy + nxy * iz), q10 = q00 + yStep, q01 = q00 + zStep, q11 = q01 + yStep
        let gy = 1 - fy, gz = 1 - fz
        let w00 = gy * gz, w10 = fy * gz, w01 = gy * fz, w11 = fy * fz
        let re = w00 * (q00[0] + (q00[2] - q00[0]) * fx) + w10 * (q10[0] + (q10[2] - q10[0]) * fx)
            + w01 * (q01[0] + (q01[2] - q01[0]) * fx) + w11 * (q11[0] + (q11[2] - q11[0]) * fx)
        let im = w00 * (q00[1] + (q00[3] - q00[1]) * fx) + w10 * (q10[1] + (q10[3] - q10[1]) * fx)
            + w01 * (q01[1] + (q01[3] - q01[1]) * fx) + w11 * (q11[1] + (q11[3] - q11[1]) * fx)
        return (re, im * sign)
    }
}
