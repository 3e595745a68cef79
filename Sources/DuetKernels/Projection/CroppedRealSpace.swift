import Foundation

/// Real-space work on a `FourierVolume` at the box its resolution needs (Fourier cropping, as CryoSPARC's
/// ab-initio does): the volume's coefficients of padded radius `< box` are brought to a `box³` map of larger
/// voxels, worked on there, and put back, the volume keeping nothing beyond that radius. Its cost follows the
/// resolution, not the volume's own box.
///
/// Both the volume's grid and this one are padded twice (`FourierGrid` padding 2), so padded frequency `j` means the
/// same physical frequency in both (`j / (2 · box · pixel)` with `box · pixel` the same physical edge): cropping is
/// a copy of the coefficients, and the cropped map is the volume's map band-limited to image radius `box/2`,
/// sampled at `volumeBox / box` times the volume's pixel size (on a scale `(volumeBox / box)³` times the volume's
/// own map, as the unnormalised transforms of different sizes give it; the real-space work must not depend on
/// the map's scale). Steps as `FourierVolume.map` and `init(map:)`: padded inverse transform, central window,
/// trilinear gridding correction; its inverse on the way back.
///
/// The 3-D transforms are `PaddedCubeTransform`'s (1-D passes that skip the padding and the coefficients beyond
/// the travelling radius) on `threads` workers, with results independent of the thread count. Buffers and plans
/// are made once per box and reused (one `CroppedRealSpace` per box; one caller at a time).
public final class CroppedRealSpace {
    /// Edge of the cropped map.
    public let box: Int
    /// The cropped map, `box³`, x fastest, origin at `box/2`: filled by `load`, read by `store`.
    public let map: AlignedBuffer<Float>
    private let paddedBox: Int
    private let threads: Int?
    private let transform: PaddedCubeTransform
    /// `map` divided by the gridding correction, on its way to `store`'s transform.
    private let staging: AlignedBuffer<Float>
    /// `sinc²` by integer squared distance from the centre, `0…3(box/2)²`.
    private let gridding: [Float]
    /// The ball's coefficients as the ranks of a `RankShare` exchange them (made on first use by several ranks).
    private var exchanged: AlignedBuffer<SIMD2<Float>>?

    public init(box: Int, threads: Int? = nil) {
        precondition(box >= 4 && box % 2 == 0, "CroppedRealSpace: box \(box) must be even and ≥ 4")
        self.box = box
        paddedBox = 2 * box
        self.threads = threads
        transform = PaddedCubeTransform(box: box, maxLimit: box - 1)
        map = AlignedBuffer(count: box * box * box)
        staging = AlignedBuffer(count: box * box * box)
        let c = box / 2, p = paddedBox
        gridding = (0...(3 * c * c)).map {
            Float(GriddingCorrection.factor(radius: Double($0).squareRoot(), paddedBox: p))
        }
    }

    /// The smallest even box with only factors 2, 3, 5 and 7 (`FFTSize`), at least `minimum` and 4; the volume's
    /// own box (rounded up to even) where that is no smaller.
    public static func box(atLeast minimum: Int, volumeBox: Int) -> Int {
        let b = FFTSize.even(atLeast: max(4, minimum), primes: [2, 3, 5, 7])
        return b < volumeBox ? b : volumeBox + volumeBox % 2
    }

    /// Padded radius of the coefficients that travel: `< paddedBox/2`, so no coefficient lies on the cropped cube's
    /// Nyquist planes (whose two signed frequencies share one transform element).
    private func travellingRadius(_ volume: FourierVolume) -> Int {
        min(box - 1, volume.grid.sphereRadius, volume.grid.halfExtent)
    }

    /// Fills `map` with `volume`'s map cropped to this box.
    public func load(from volume: FourierVolume) {
        load(from: volume, share: .whole) { _, _, _, _, _, _, _ in }
    }

    /// `load(from:)` with the transform divided among `share`'s ranks (collective over them, `transpose` their
    /// distributed transpose): fills the z-slab `share.zSlab(box:)` of `map` only.
    public func load(from volume: FourierVolume, share: RankShare, transpose: BlockTranspose) rethrows {
        precondition(volume.grid.paddedBox == 2 * volume.grid.box, "CroppedRealSpace: the volume must be padded twice")
        let grid = volume.grid
        nonisolated(unsafe) let coefficients = volume.data.baseAddress
        try withExtendedLifetime(volume.data) {
            try transform.inverse(limit: travellingRadius(volume), threads: threads, share: share, transpose: transpose,
                                  into: map.baseAddress) { x, y, z in
                coefficients[grid.index(x: x, y: y, z: z)]
            }
        }
        applyGridding(from: map.baseAddress, to: map.baseAddress, dividing: false, planes: share.zSlab(box: box))
    }

    /// Puts `map` back into `volume`, moved by `shift_px` voxels (x, y, z; `V'(r) = V(r − shift)`, a phase ramp
    /// on the coefficients, sub-voxel and exact for a band-limited map): the coefficients this box carries are
    /// replaced, every other coefficient of `volume` is set to zero. `map` is left as it was.
    public func store(into volume: FourierVolume, shift_px: SIMD3<Double> = .zero) {
        store(into: volume, shift_px: shift_px, share: .whole, transpose: { _, _, _, _, _, _, _ in },
              exchange: { _, _ in })
    }

    /// `store(into:shift_px:)` divided among `share`'s ranks (collective over them: `transpose` their distributed
    /// transpose, `exchange` their allgather): each reads its z-slab of `map` and transforms its `kx` planes, and
    /// every rank ends with the whole volume, the same values as one rank gives.
    public func store(into volume: FourierVolume, shift_px: SIMD3<Double>, share: RankShare,
                      transpose: BlockTranspose, exchange: SegmentExchange<SIMD2<Float>>) rethrows {
        applyGridding(from: map.baseAddress, to: staging.baseAddress, dividing: true, planes: share.zSlab(box: box))
        // exp(−2πi j·shift/paddedBox) per axis: a shift of the cropped map's voxels is one of the padded cube's.
        let limit = travellingRadius(volume), p = paddedBox
        func ramp(_ s: Double) -> [SIMD2<Float>] {
            (-limit...limit).map { j in
                let angle = -2 * Double.pi * Double(j) * s / Double(p)
                return SIMD2(Float(cos(angle)), Float(sin(angle)))
            }
        }
        let rx = ramp(shift_px.x), ry = ramp(shift_px.y), rz = ramp(shift_px.z)
        let grid = volume.grid
        volume.data.zero()
        nonisolated(unsafe) let coefficients = volume.data.baseAddress
        @Sendable func put(_ x: Int, _ y: Int, _ z: Int, _ value: SIMD2<Float>) {
            let phase = complexMultiply(rx[x + limit], complexMultiply(ry[y + limit], rz[z + limit]))
            coefficients[grid.index(x: x, y: y, z: z)] = complexMultiply(value, phase)
        }
        guard share.size > 1 else {
            try withExtendedLifetime(volume.data) {
                try transform.forward(map: staging.baseAddress, limit: limit, threads: threads, share: share,
                                      transpose: transpose, emit: put)
            }
            return
        }
        // Several ranks: each rank's kx planes of the ball, packed line by line, then gathered by every rank.
        let ball = BallLines(limit: limit)
        if exchanged?.count ?? -1 < ball.count { exchanged = nil; exchanged = AlignedBuffer(count: ball.count) }
        nonisolated(unsafe) let packed = exchanged!.baseAddress
        try transform.forward(map: staging.baseAddress, limit: limit, threads: threads, share: share,
                              transpose: transpose) { x, y, z, value in
            packed[ball.start(kx: x, ky: y) + z] = value
        }
        let kxShares = share.kxPlanes(limit: limit)
        try exchange(packed, kxShares.map { ball.start(kx: $0.upperBound, ky: -limit) - ball.start(kx: $0.lowerBound, ky: -limit) })
        withExtendedLifetime(volume.data) {
            ParallelFor.run(count: limit + 1, threads: threads) { kxs in
                for x in kxs {
                    for y in -limit...limit where x * x + y * y <= limit * limit {
                        let kzMax = PaddedCubeTransform.halfWidth(limit * limit - x * x - y * y)
                        for z in -kzMax...kzMax { put(x, y, z, packed[ball.start(kx: x, ky: y) + z]) }
                    }
                }
            }
        }
    }

    /// `to = from · sinc²` (or `/ sinc²` when `dividing`), the trilinear gridding correction of `FourierVolume.map`
    /// and `init(map:)`, voxel by voxel (`from` may be `to`), on the z-planes `planes`.
    private func applyGridding(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>,
                               dividing: Bool, planes slab: Range<Int>) {
        let b = box, c = box / 2
        nonisolated(unsafe) let source = source, target = target
        gridding.withUnsafeBufferPointer { table in
            nonisolated(unsafe) let t = table.baseAddress!
            ParallelFor.run(count: slab.count, threads: threads) { planes in
                for z in planes.lowerBound + slab.lowerBound..<planes.upperBound + slab.lowerBound {
                    for y in 0..<b {
                        let row = b * (y + b * z), yz = (y - c) * (y - c) + (z - c) * (z - c)
                        for x in 0..<b {
                            let factor = t[(x - c) * (x - c) + yz]
                            target[row + x] = dividing ? source[row + x] / factor : source[row + x] * factor
                        }
                    }
                }
            }
        }
    }

    /// `map` on the grid of a `volumeBox³` map (the volume this space crops): Fourier padding of the cropped map
    /// (exact for its band, which holds everything the volume carries), on the scale of the volume's own map.
    public func uncropped(volumeBox: Int) -> [Float] {
        precondition(volumeBox >= box - 1, "CroppedRealSpace.uncropped: box \(volumeBox) < \(box)")
        guard volumeBox != box else { return map.toArray() }
        let small = RealFFT<Float>(cube: box, rigor: .estimate)
        let large = RealFFT<Float>(cube: volumeBox, rigor: .estimate)
        let from = AlignedBuffer<SIMD2<Float>>(count: small.complexCount)
        let to = AlignedBuffer<SIMD2<Float>>(count: large.complexCount)
        small.forwardCentred(map.baseAddress, from.baseAddress)
        // Frequencies below the cropped Nyquist travel (the Nyquist planes hold nothing the volume carries).
        let limit = box / 2 - 1, hs = box / 2 + 1, hl = volumeBox / 2 + 1
        for z in -limit...limit {
            for y in -limit...limit {
                let source = from.baseAddress + hs * (FourierIndexing.index(frequency: y, size: box)
                                                      + box * FourierIndexing.index(frequency: z, size: box))
                let target = to.baseAddress + hl * (FourierIndexing.index(frequency: y, size: volumeBox)
                                                    + volumeBox * FourierIndexing.index(frequency: z, size: volumeBox))
                target.update(from: source, count: limit + 1)
            }
        }
        // The cropped map's sum over its larger voxels is (box / volumeBox)³ times the volume's over its own, which
        // its scale (volumeBox / box)³ undoes: the coefficients are the volume's, with no factor.
        var result = [Float](repeating: 0, count: volumeBox * volumeBox * volumeBox)
        result.withUnsafeMutableBufferPointer { large.inverseCentred(to.baseAddress, $0.baseAddress!) }
        return result
    }
}

/// The coefficients `kx ≥ 0`, `kx² + ky² + kz² ≤ limit²` of a ball packed line by line (`kx`, then `ky`, then `kz`
/// fastest), so that consecutive `kx` planes are one consecutive segment.
struct BallLines: Sendable {
    let limit: Int
    /// Index of `(kx, ky, 0)` per line (`kx`-major over `ky ∈ −limit…limit`; a line outside the disc takes no room
    /// and holds the next line's first index), and one more entry: the count.
    private let centres: [Int]
    /// Number of coefficients.
    var count: Int { centres[centres.count - 1] }

    init(limit: Int) {
        self.limit = limit
        var centres = [Int](), next = 0
        for kx in 0...limit {
            for ky in -limit...limit {
                guard kx * kx + ky * ky <= limit * limit else { centres.append(next); continue }
                let kzMax = PaddedCubeTransform.halfWidth(limit * limit - kx * kx - ky * ky)
                centres.append(next + kzMax)
                next += 2 * kzMax + 1
            }
        }
        centres.append(next)
        self.centres = centres
    }

    /// Index of `(kx, ky, 0)`, so that `(kx, ky, kz)` is at `start + kz`. `start(kx:, ky: −limit)` is where plane
    /// `kx` begins (its first line lies outside the disc unless `kx = 0`, whose first line is the single `kz = 0`),
    /// and for `kx = limit + 1` the count.
    @inline(__always) func start(kx: Int, ky: Int) -> Int { centres[kx * (2 * limit + 1) + ky + limit] }
}
