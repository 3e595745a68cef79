import DuetCore
import Foundation

/// Per-image parameters of the slice kernels: the two rotated, oversampled axes and the translation phases.
///
/// Geometry (RELION's `Projector::project`, checked against `relion_project` in the tests): image frequency
/// `(kx, ky)` samples the volume at padded frequency `scale · (kx · row0 + ky · row1)`, where `row0`, `row1` are
/// the first two rows of the RELION rotation matrix.
struct SliceGeometry {
    var axisX: SIMD3<Float>
    var axisY: SIMD3<Float>

    init(rotation: Rotation, scale: Double) {
        axisX = SIMD3<Float>(rotation.row0 * scale)
        axisY = SIMD3<Float>(rotation.row1 * scale)
    }
}

/// Translation phase tables of one image: a translation by `t` pixels multiplies centred coefficient `(kx, ky)`
/// by `exp(−2πi (kx·tx + ky·ty)/box)` = `phaseX[kx] · phaseY[row]`, `box` the image's edge and `row` a row of the
/// half-plane layout the slice is stored in (`layoutBox` rows, FFT order: `SliceLayout`).
enum TranslationPhases {
    /// Fills `phaseX[0…layoutBox/2]` and `phaseY[0..<layoutBox]` for translation `t` (pixels of a `box`² image).
    static func fill(translation t: SIMD2<Double>, box: Int, layoutBox: Int? = nil,
                     phaseX: UnsafeMutablePointer<SIMD2<Float>>, phaseY: UnsafeMutablePointer<SIMD2<Float>>) {
        let rows = layoutBox ?? box
        let w = -2 * Double.pi / Double(box)
        for x in 0...(rows / 2) {
            let a = w * Double(x) * t.x
            phaseX[x] = SIMD2(Float(cos(a)), Float(sin(a)))
        }
        for row in 0..<rows {
            let ky = row <= rows / 2 ? row : row - rows
            let a = w * Double(ky) * t.y
            phaseY[row] = SIMD2(Float(cos(a)), Float(sin(a)))
        }
    }

    /// Runs `body` with stack-allocated phase tables for `t` in the layout of `layoutBox` rows (default `box`), or
    /// `nil` tables when `t` is zero.
    static func with<R>(translation t: SIMD2<Double>, box: Int, layoutBox: Int? = nil,
                        _ body: (UnsafePointer<SIMD2<Float>>?, UnsafePointer<SIMD2<Float>>?) -> R) -> R {
        if t == .zero { return body(nil, nil) }
        let rows = layoutBox ?? box
        return withUnsafeTemporaryAllocation(of: SIMD2<Float>.self, capacity: rows / 2 + 1 + rows) { table in
            let px = table.baseAddress!, py = px + (rows / 2 + 1)
            fill(translation: t, box: box, layoutBox: rows, phaseX: px, phaseY: py)
            return body(UnsafePointer(px), UnsafePointer(py))
        }
    }
}

/// The half-plane layout a slice of image radius `radius_px` is stored in: `box` rows of `box/2 + 1` (FFT order:
/// rows `0…box/2` hold `ky = row`, the others `ky = row − box`). The whole image's layout, or the smallest even
/// layout that holds the radius (`compact`), so that slices cost what their radius needs, not the image's box:
/// coefficient `(kx, ky)` means the same frequency of the same image in either.
public struct SliceLayout: Sendable, Equatable {
    public let box: Int
    /// Complex values per slice.
    public var complexCount: Int { box * (box / 2 + 1) }

    public init(box: Int) { self.box = box }

    /// The smallest even layout, at most `imageBox`, whose rows hold every frequency of radius ≤ `radius_px`.
    public static func compact(radius_px r: Int, imageBox: Int) -> SliceLayout {
        SliceLayout(box: min(imageBox, 2 * r + 2))
    }

    /// Index of frequency `(kx, ky)` (`0 ≤ kx ≤ box/2`, `|ky| < box/2`).
    @inlinable public func index(kx: Int, ky: Int) -> Int {
        (ky >= 0 ? ky : ky + box) * (box / 2 + 1) + kx
    }
}

@inline(__always) func complexMultiply(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> SIMD2<Float> {
    SIMD2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x)
}

@inline(__always) func complexMultiplyConjugate(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> SIMD2<Float> {
    SIMD2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y)   // a · conj(b)
}

/// Largest `x ≥ 0` with `x² + y² ≤ r²` (−1 if none).
@inline(__always) func rowHalfWidth(y: Int, radius r: Int) -> Int {
    let rest = r * r - y * y
    if rest < 0 { return -1 }
    var x = Int(Double(rest).squareRoot())
    while x * x > rest { x -= 1 }
    while (x + 1) * (x + 1) <= rest { x += 1 }
    return x
}

/// The image-frequency `y` of half-plane row `row`, or `nil` if the row lies outside radius `r` (RELION's rule:
/// rows `0…r` are `+row`, rows `box−r…box−1` are `row − box`).
@inline(__always) func rowFrequency(_ row: Int, box: Int, radius r: Int) -> Int? {
    if row <= r { return row }
    if row >= box - r { return row - box }
    return nil
}

/// Extracts one central slice by trilinear interpolation into the half-plane `out` (`layoutBox` rows of
/// `layoutBox/2 + 1`, `SliceLayout`; `r < layoutBox/2` unless it is the image's box), zero outside radius `r`.
/// `volume` is the centred storage of a `FourierGrid`.
func extractSlice(volume: UnsafePointer<SIMD2<Float>>, grid: FourierGrid, geometry g: SliceGeometry, radius r: Int,
                  layoutBox box: Int, phaseX: UnsafePointer<SIMD2<Float>>?, phaseY: UnsafePointer<SIMD2<Float>>?,
                  out: UnsafeMutablePointer<SIMD2<Float>>) {
    let hx = box / 2 + 1
    let nx = grid.nx, nxy = grid.nx * grid.ny
    let offset = Float(grid.halfExtent)
    for row in 0..<box {
        let o = out + row * hx
        guard let y = rowFrequency(row, box: box, radius: r) else {
            o.update(repeating: .zero, count: hx)
            continue
        }
        let xMax = rowHalfWidth(y: y, radius: r)
        let base = Float(y) * g.axisY
        let rowPhase = phaseY?[row] ?? SIMD2(1, 0)
        if xMax >= 0 {
            for x in 0...xMax {
                var p = base + Float(x) * g.axisX
                // Friedel: only x ≥ 0 is stored; V(−k) = conj V(k).
                let sign: Float = p.x < 0 ? -1 : 1
                p *= sign
                let px = p.x, py = p.y + offset, pz = p.z + offset   // all ≥ 0: truncation is floor
                let x0 = Int(px), y0 = Int(py), z0 = Int(pz)
                let fx = px - Float(x0), fy = py - Float(y0), fz = pz - Float(z0)
                let q = volume + (x0 + nx * y0 + nxy * z0)
                let c000 = q[0], c100 = q[1], c010 = q[nx], c110 = q[nx + 1]
                let c001 = q[nxy], c101 = q[nxy + 1], c011 = q[nxy + nx], c111 = q[nxy + nx + 1]
                let c00 = c000 + (c100 - c000) * fx, c10 = c010 + (c110 - c010) * fx
                let c01 = c001 + (c101 - c001) * fx, c11 = c011 + (c111 - c011) * fx
                let c0 = c00 + (c10 - c00) * fy, c1 = c01 + (c11 - c01) * fy
                var v = c0 + (c1 - c0) * fz
                v.y *= sign
                if let phaseX { v = complexMultiply(v, complexMultiply(phaseX[x], rowPhase)) }
                o[x] = v
            }
        }
        if xMax + 1 < hx { (o + (xMax + 1)).update(repeating: .zero, count: hx - xMax - 1) }
    }
}

/// The eight trilinear weights of one sample, in the order (x, y, z) = 000, 100, 010, 110, 001, 101, 011, 111.
typealias TrilinearWeights = SIMD8<Float>

/// Where `insertSlice` puts a sample: `value` and `weight`, each times the trilinear weights `t`, added to the
/// eight storage cells from `(x0, y0, z0)` (`FourierGrid` storage coordinates: `x0 ∈ 0…H`, `y0, z0 ∈ 0…2H`) to
/// `(x0 + 1, y0 + 1, z0 + 1)`.
protocol TrilinearScatter {
    /// Whether a sample whose cells start at storage plane `z0` adds anything (a worker's slab of planes).
    func reaches(z0: Int) -> Bool
    /// Whether any sample whose cells start at a storage plane in `planes` adds anything.
    func reaches(anyOf planes: ClosedRange<Int>) -> Bool
    func add(x0: Int, y0: Int, z0: Int, value v: SIMD2<Float>, weight w: Float, _ t: TrilinearWeights)
}

/// Float accumulation on the whole `FourierGrid` storage (`BackProjector`).
struct FloatScatter: TrilinearScatter {
    let numerator: UnsafeMutablePointer<SIMD2<Float>>
    let weights: UnsafeMutablePointer<Float>
    let nx: Int, nxy: Int

    @inline(__always) func reaches(z0: Int) -> Bool { true }
    @inline(__always) func reaches(anyOf planes: ClosedRange<Int>) -> Bool { true }

    @inline(__always) func add(x0: Int, y0: Int, z0: Int, value v: SIMD2<Float>, weight w: Float, _ t: TrilinearWeights) {
        let i = x0 + nx * y0 + nxy * z0
        let q = numerator + i
        q[0] += v * t[0]; q[1] += v * t[1]
        q[nx] += v * t[2]; q[nx + 1] += v * t[3]
        q[nxy] += v * t[4]; q[nxy + 1] += v * t[5]
        q[nxy + nx] += v * t[6]; q[nxy + nx + 1] += v * t[7]
        let qw = weights + i
        qw[0] += w * t[0]; qw[1] += w * t[1]
        qw[nx] += w * t[2]; qw[nx + 1] += w * t[3]
        qw[nxy] += w * t[4]; qw[nxy + 1] += w * t[5]
        qw[nxy + nx] += w * t[6]; qw[nxy + nx + 1] += w * t[7]
    }
}

/// The adjoint of `extractSlice`: adds `conj(phase) · slice` and `sliceWeight` into `target` by trilinear scatter
/// (Friedel-consistent: a sample at `x < 0` goes, conjugated, to `−k`). `sliceWeights == nil` means weight 1
/// everywhere. The slice is in the layout of `layoutBox` rows (`SliceLayout`).
func insertSlice<Target: TrilinearScatter>(into target: Target, grid: FourierGrid, geometry g: SliceGeometry,
                                           radius r: Int, layoutBox box: Int, phaseX: UnsafePointer<SIMD2<Float>>?,
                                           phaseY: UnsafePointer<SIMD2<Float>>?, slice: UnsafePointer<SIMD2<Float>>,
                                           sliceWeights: UnsafePointer<Float>?) {
    // Weight 1 everywhere is read through a one-element table with stride 0, so the loop has no branch on it.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 1) { one in
        one[0] = 1
        let weightStride = sliceWeights == nil ? 0 : 1
        let weightBase = sliceWeights ?? UnsafePointer(one.baseAddress!)
        let hx = box / 2 + 1
        let offset = Float(grid.halfExtent)
        for row in 0..<box {
            guard let y = rowFrequency(row, box: box, radius: r) else { continue }
            let xMax = rowHalfWidth(y: y, radius: r)
            if xMax < 0 { continue }
            let s = slice + row * hx
            let sw = weightBase + weightStride * row * hx
            let base = Float(y) * g.axisY
            // The row's heights lie within ±(the larger |z| of its ends): z is linear along the row (rounding is
            // monotonic) and the Friedel flip only changes its sign.
            let reach = max(abs(base.z), abs(base.z + Float(xMax) * g.axisX.z))
            guard target.reaches(anyOf: Int(offset - reach)...Int(offset + reach)) else { continue }
            let rowPhase = phaseY?[row] ?? SIMD2(1, 0)
            for x in 0...xMax {
                var p = base + Float(x) * g.axisX
                let sign: Float = p.x < 0 ? -1 : 1
                p *= sign
                let px = p.x, py = p.y + offset, pz = p.z + offset
                let x0 = Int(px), y0 = Int(py), z0 = Int(pz)
                guard target.reaches(z0: z0) else { continue }
                var v = s[x]
                if let phaseX { v = complexMultiplyConjugate(v, complexMultiply(phaseX[x], rowPhase)) }
                v.y *= sign
                let fx = px - Float(x0), fy = py - Float(y0), fz = pz - Float(z0)
                let gx = 1 - fx, gy = 1 - fy, gz = 1 - fz
                let t = TrilinearWeights(gx * gy * gz, fx * gy * gz, gx * fy * gz, fx * fy * gz,
                                         gx * gy * fz, fx * gy * fz, gx * fy * fz, fx * fy * fz)
                target.add(x0: x0, y0: y0, z0: z0, value: v, weight: sw[x * weightStride], t)
            }
        }
    }
}
