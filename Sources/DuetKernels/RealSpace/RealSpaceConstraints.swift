import Foundation

/// Real-space constraints that the SGD ab-initio engine applies to the map after each gradient step (docs/design.md §2,
/// as CryoSPARC's ab-initio does): non-negativity, a soft spherical window and re-centring on the centre of mass.
///
/// Conventions shared by every function here: a map is a cube of `box³` voxels, x fastest
/// (`index = x + box·(y + box·z)`), whose origin (centre) is voxel `c = box/2` (integer division) along every axis,
/// as everywhere in Duet (`FourierCentring`). Distances and radii are in voxels (pixels of the map); positions are
/// voxel indices (so the centre is `(c, c, c)`). The functions work in place on an `UnsafeMutableBufferPointer`
/// (no allocation except the FFT buffers of `shift`/`recentre`), with `inout [Float]` conveniences.
public enum RealSpaceConstraints {

    // MARK: Non-negativity

    /// Sets every negative voxel (and any NaN) to 0, leaving positive ones unchanged: the map is density, protein
    /// positive. Returns the number of voxels changed.
    @discardableResult
    public static func clampNegative(_ map: UnsafeMutableBufferPointer<Float>) -> Int {
        guard let p = map.baseAddress else { return 0 }
        var changed = 0
        for i in 0..<map.count {
            let v = p[i]
            if !(v >= 0) { p[i] = 0; changed += 1 }
        }
        return changed
    }

    /// `clampNegative` on an array.
    @discardableResult
    public static func clampNegative(_ map: inout [Float]) -> Int {
        map.withUnsafeMutableBufferPointer { clampNegative($0) }
    }

    // MARK: Soft spherical window

    /// The window's value at distance `r` (voxels) from the centre: 1 for `r ≤ inner`, 0 for `r ≥ outer`, and the
    /// raised cosine `½ + ½·cos(π (r − inner)/(outer − inner))` between (½ at the midway radius).
    @inlinable
    public static func sphericalWindowWeight(radius r: Double, innerRadius_px inner: Double,
                                             outerRadius_px outer: Double) -> Double {
        if r <= inner { return 1 }
        if r >= outer { return 0 }
        return 0.5 + 0.5 * cos(Double.pi * (r - inner) / (outer - inner))
    }

    /// Multiplies the map by the soft spherical window `sphericalWindowWeight`: voxels within `innerRadius_px` of
    /// the centre voxel `box/2` are kept, those at or beyond `outerRadius_px` become 0, with a raised-cosine edge
    /// between (radii in voxels, `0 ≤ inner ≤ outer`; `inner == outer` is a hard sphere keeping `r ≤ inner`), on the
    /// z-planes `planes` (default: all). Runs over z-slabs on `threads` workers (default: all cores).
    public static func applySphericalWindow(_ map: UnsafeMutableBufferPointer<Float>, box: Int,
                                            innerRadius_px inner: Double, outerRadius_px outer: Double,
                                            planes: Range<Int>? = nil, threads: Int? = nil) {
        precondition(map.count == box * box * box, "applySphericalWindow: \(map.count) voxels, box \(box)")
        precondition(inner >= 0 && outer >= inner, "applySphericalWindow: radii \(inner), \(outer)")
        guard let base = map.baseAddress else { return }
        nonisolated(unsafe) let m = base
        let c = box / 2, inner2 = inner * inner, outer2 = outer * outer, slab = planes ?? 0..<box
        ParallelFor.run(count: slab.count, threads: threads) { zs in
            for z in zs.lowerBound + slab.lowerBound..<zs.upperBound + slab.lowerBound {
                for y in 0..<box {
                    let yz = (y - c) * (y - c) + (z - c) * (z - c)
                    let row = m + box * (y + box * z)
                    if Double(yz) >= outer2 {                  // the whole row is outside
                        row.update(repeating: 0, count: box)
                        continue
                    }
                    for x in 0..<box {
                        let r2 = Double((x - c) * (x - c) + yz)
                        if r2 <= inner2 { continue }
                        if r2 >= outer2 { row[x] = 0; continue }
                        let w = sphericalWindowWeight(radius: r2.squareRoot(), innerRadius_px: inner,
                                                      outerRadius_px: outer)
                        row[x] *= Float(w)
                    }
                }
            }
        }
    }

    /// `applySphericalWindow` on an array.
    public static func applySphericalWindow(_ map: inout [Float], box: Int, innerRadius_px inner: Double,
                                            outerRadius_px outer: Double, threads: Int? = nil) {
        map.withUnsafeMutableBufferPointer {
            applySphericalWindow($0, box: box, innerRadius_px: inner, outerRadius_px: outer, threads: threads)
        }
    }

    // MARK: Centre of mass and re-centring

    /// Centre of mass of the positive density, `Σ max(v, 0)·(x, y, z) / Σ max(v, 0)`, as voxel indices
    /// (x, y, z) (the map centre is `(box/2, box/2, box/2)`); `nil` when no voxel is positive.
    public static func centreOfMass(_ map: UnsafeBufferPointer<Float>, box: Int, threads: Int? = nil) -> SIMD3<Double>? {
        centreOfMass(planeSums: centreOfMassPlaneSums(map, box: box, planes: 0..<box, threads: threads))
    }

    /// Per z-plane `z` of `planes`, the positive density's `(Σ v, Σ v·x, Σ v·y)` at `3z…3z+2` of a `3·box` array,
    /// zero for the other planes: what `centreOfMass(planeSums:)` needs, so that ranks holding different z-slabs
    /// can add their arrays (each plane nonzero on one rank: exact) and get the centre one rank would.
    public static func centreOfMassPlaneSums(_ map: UnsafeBufferPointer<Float>, box: Int, planes: Range<Int>,
                                             threads: Int? = nil) -> [Double] {
        precondition(map.count == box * box * box, "centreOfMass: \(map.count) voxels, box \(box)")
        var sums = [Double](repeating: 0, count: 3 * box)
        guard let base = map.baseAddress else { return sums }
        nonisolated(unsafe) let m = base
        sums.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer.baseAddress!
            ParallelFor.run(count: planes.count, threads: threads) { zs in
                for z in zs.lowerBound + planes.lowerBound..<zs.upperBound + planes.lowerBound {
                    var plane = 0.0, px = 0.0, py = 0.0
                    for y in 0..<box {
                        let row = m + box * (y + box * z)
                        var rowSum = 0.0, rowX = 0.0
                        for x in 0..<box {
                            let v = Double(max(row[x], 0))
                            rowSum += v
                            rowX += v * Double(x)
                        }
                        plane += rowSum
                        px += rowX
                        py += rowSum * Double(y)
                    }
                    (out[3 * z], out[3 * z + 1], out[3 * z + 2]) = (plane, px, py)
                }
            }
        }
        return sums
    }

    /// The centre of mass from every plane's `centreOfMassPlaneSums`, added in plane order; `nil` when no voxel is
    /// positive.
    public static func centreOfMass(planeSums sums: [Double]) -> SIMD3<Double>? {
        var total = 0.0, sx = 0.0, sy = 0.0, sz = 0.0
        for z in 0..<(sums.count / 3) {
            total += sums[3 * z]
            sx += sums[3 * z + 1]
            sy += sums[3 * z + 2]
            sz += sums[3 * z] * Double(z)
        }
        guard total > 0 else { return nil }
        return SIMD3(sx, sy, sz) / total
    }

    /// `centreOfMass` of an array.
    public static func centreOfMass(_ map: [Float], box: Int) -> SIMD3<Double>? {
        map.withUnsafeBufferPointer { centreOfMass($0, box: box) }
    }

    /// Translates the map by `shift` (voxels, (x, y, z); any real values): the new map is
    /// `V'(r) = V(r − shift)`, so content at voxel `p` moves to `p + shift`.
    ///
    /// Method: a Fourier phase ramp, `V̂'(k) = V̂(k)·exp(−2πi k·shift/box)` on the `box³` FFT (`RealFFT`, estimated
    /// plan, `fftwThreads` threads, default all cores). It is exact (to float rounding) for band-limited maps,
    /// sub-voxel, with no interpolation blur; the shift is *circular* (what leaves one face re-enters at the
    /// opposite one), harmless for a particle that sits well inside its box. For even `box` the Nyquist
    /// frequency `±box/2` of each axis is multiplied by the real `cos(π·shift_a)` (the Hermitian mean of its two
    /// ramps), which keeps the result real. `shift == 0` returns at once. Allocates the FFT buffers (two arrays
    /// of ≈ `box³` floats), nothing per voxel.
    public static func shift(_ map: UnsafeMutableBufferPointer<Float>, box: Int, by shift: SIMD3<Double>,
                             fftwThreads: Int? = nil) {
        precondition(map.count == box * box * box, "shift: \(map.count) voxels, box \(box)")
        guard shift != .zero, let base = map.baseAddress else { return }
        let fft = RealFFT<Float>(cube: box, rigor: .estimate, fftwThreads: fftwThreads ?? ParallelFor.defaultThreads)
        let real = AlignedBuffer<Float>(count: fft.realCount)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        real.baseAddress.update(from: base, count: fft.realCount)
        fft.forward(real.baseAddress, spectrum.baseAddress)

        /// Ramp `exp(−2πi k·s/box)` for every FFT index of one axis (`count` indices: `box/2 + 1` for x).
        func ramp(_ s: Double, count: Int) -> [SIMD2<Float>] {
            (0..<count).map { i in
                let k = FourierIndexing.signedFrequency(index: i, size: box)
                if box % 2 == 0 && i == box / 2 { return SIMD2(Float(cos(Double.pi * s)), 0) }
                let angle = -2 * Double.pi * Double(k) * s / Double(box)
                return SIMD2(Float(cos(angle)), Float(sin(angle)))
            }
        }
        let hx = box / 2 + 1
        let rx = ramp(shift.x, count: hx), ry = ramp(shift.y, count: box), rz = ramp(shift.z, count: box)
        @inline(__always) func mul(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> SIMD2<Float> {
            SIMD2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x)
        }
        rx.withUnsafeBufferPointer { px in
            for z in 0..<box {
                for y in 0..<box {
                    let pyz = mul(ry[y], rz[z])
                    let row = spectrum.baseAddress + hx * (y + box * z)
                    for x in 0..<hx { row[x] = mul(row[x], mul(px[x], pyz)) }
                }
            }
        }
        fft.inverse(spectrum.baseAddress, real.baseAddress)
        base.update(from: real.baseAddress, count: fft.realCount)
    }

    /// `shift(_:box:by:fftwThreads:)` on an array.
    public static func shift(_ map: inout [Float], box: Int, by shift: SIMD3<Double>, fftwThreads: Int? = nil) {
        map.withUnsafeMutableBufferPointer { Self.shift($0, box: box, by: shift, fftwThreads: fftwThreads) }
    }

    /// Re-centres the map: translates it (with `shift(_:box:by:fftwThreads:)`, a sub-voxel Fourier phase ramp,
    /// circular) so that the centre of mass of its positive density (`centreOfMass`) moves to the centre voxel
    /// `(box/2, box/2, box/2)`. Returns the applied shift in voxels, `centre − centreOfMass` (x, y, z), i.e. the
    /// content moved by `+shift`: `V'(r) = V(r − shift)`; `.zero` (map untouched) when no voxel is positive.
    ///
    /// Poses must follow: the projection of the new map at rotation `R` is the old map's projection translated
    /// by the image-plane (first two) components of `shift` rotated into the image frame by `R`, so each
    /// particle's in-plane translation must absorb that 2-D shift (with the sign of the engine's translation
    /// convention, see `FourierVolume.project(rotation:translation_px:radius_px:into:)`).
    /// The centre of mass after the shift equals `box/2` up to the tiny change of the positive part that the
    /// ramp's ringing causes (well below 0.05 voxel for smooth maps).
    @discardableResult
    public static func recentre(_ map: UnsafeMutableBufferPointer<Float>, box: Int,
                                fftwThreads: Int? = nil) -> SIMD3<Double> {
        guard let com = centreOfMass(UnsafeBufferPointer(map), box: box) else { return .zero }
        let s = SIMD3<Double>(repeating: Double(box / 2)) - com
        shift(map, box: box, by: s, fftwThreads: fftwThreads)
        return s
    }

    /// `recentre` on an array.
    @discardableResult
    public static func recentre(_ map: inout [Float], box: Int, fftwThreads: Int? = nil) -> SIMD3<Double> {
        map.withUnsafeMutableBufferPointer { recentre($0, box: box, fftwThreads: fftwThreads) }
    }
}
