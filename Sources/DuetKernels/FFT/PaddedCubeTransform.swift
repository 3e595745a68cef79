import CFFTW

/// The centred 3-D Fourier transform between a `box³` map at the centre of a zero-padded cube of edge
/// `padded = 2·box` and that cube's coefficients of padded radius ≤ `limit` (`limit < box`), as 1-D transforms
/// along x, then y, then z that skip both the padding and the coefficients outside the radius: a fraction of the
/// memory and work of a full `padded³` transform.
///
/// Conventions are `RealFFT.forwardCentred` / `inverseCentred` on the padded cube (`FourierCentring`): the map's
/// origin is at index `box/2`, the cube's at `box`, coefficients are taken about that origin, unnormalised; the
/// inverse divides by `padded³`. The coefficient of frequency `(kx, ky, kz)` (`kx ≥ 0`) is the cube's half-spectrum
/// element; the inverse treats the half-spectrum as FFTW's complex-to-real transform does (the imaginary part of
/// the `kx = 0` plane's Hermitian-inconsistent part is dropped).
///
/// Every 1-D transform runs one FFTW plan (`FFTW_ESTIMATE`) on an aligned line of its worker, so the results do
/// not depend on the thread count, nor on the ranks a `RankShare` divides the passes among. Work is split by
/// row for x and by `kx` plane for y and z (a `kx` plane's y and z transforms run back to back on one worker, so
/// only one `box × (2·limit + 1)` plane per worker is held between them). Between the x pass and the y pass the
/// values are tuples of `box` complex values along y, one per `(kx, z)`: on one rank `[kx][z][y]`; divided among
/// ranks, each holds its z-slab's `[z][kx][y]` for the x pass and its `kx` planes' `[kx][z][y]` for the y and z
/// passes, and a distributed transpose (`BlockTranspose`: FFTW-MPI's) moves each rank's block between them.
/// One caller at a time.
final class PaddedCubeTransform: @unchecked Sendable {
    let box: Int
    let padded: Int
    /// The largest radius a call may use.
    let maxLimit: Int
    /// Index of the map's first voxel along each axis of the padded cube.
    private let offset: Int
    /// Length-`padded` real transforms along x (r2c / c2r, unnormalised).
    private let rowForward: OpaquePointer, rowInverse: OpaquePointer
    /// Length-`padded` complex transforms along y and z (FFTW_FORWARD / FFTW_BACKWARD).
    private let lineForward: OpaquePointer, lineInverse: OpaquePointer
    /// The `[kx][z][y]` tuples of the y and z passes (this rank's `kx` planes).
    private let planes: AlignedBuffer<SIMD2<Float>>
    /// Divided among ranks: the `[z][kx][y]` tuples of this rank's z-slab for the x pass (made on first use).
    private var slab: AlignedBuffer<SIMD2<Float>>?

    init(box: Int, maxLimit: Int) {
        precondition(box >= 2 && maxLimit >= 0 && maxLimit < box, "PaddedCubeTransform: box \(box), limit \(maxLimit)")
        self.box = box
        padded = 2 * box
        self.maxLimit = maxLimit
        offset = padded / 2 - box / 2
        planes = AlignedBuffer(count: box * box * (maxLimit + 1))
        (rowForward, rowInverse, lineForward, lineInverse) = FFTPlanCache.shared.lineTransforms(length: padded)
    }

    /// Transforms `map` (`box³`, x fastest; only `share`'s z-slab is read) and calls `emit(kx, ky, kz, coefficient)`
    /// once for every frequency of `share`'s `kx` planes with `kx² + ky² + kz² ≤ limit²`, concurrently from
    /// `threads` workers (each frequency from one). Collective over `share`'s ranks (`transpose` between the passes).
    func forward(map: UnsafePointer<Float>, limit: Int, threads: Int?, share: RankShare, transpose: BlockTranspose,
                 emit: @Sendable (_ kx: Int, _ ky: Int, _ kz: Int, _ value: SIMD2<Float>) -> Void) rethrows {
        precondition(limit >= 0 && limit <= maxLimit, "PaddedCubeTransform: limit \(limit) > \(maxLimit)")
        let b = box, p = padded, o = offset, width = limit + 1
        let zs = share.zSlab(box: b), kxs = share.kxPlanes(limit: limit)[share.rank]
        let (tupleOrigin, zStride, kxStride) = xPassLayout(share: share, limit: limit)
        nonisolated(unsafe) let map = map, planes = planes.baseAddress, origin = tupleOrigin
        nonisolated(unsafe) let rowForward = rowForward, lineForward = lineForward
        // x: each map row of the z-slab, zero-padded, to its coefficients kx ≤ limit.
        ParallelFor.run(count: zs.count * b, threads: threads) { rows in
            withLines { real, _, out in
                for row in rows.lowerBound + zs.lowerBound * b..<rows.upperBound + zs.lowerBound * b {
                    let z = row / b, y = row % b
                    real.update(repeating: 0, count: p)
                    (real + o).update(from: map + row * b, count: b)
                    fftwf_execute_dft_r2c(rowForward, real, out)
                    let target = origin + (z - zs.lowerBound) * zStride + y
                    for kx in 0..<width { target[kx * kxStride] = SIMD2(out[kx].0, out[kx].1) }
                }
            }
        }
        if share.size > 1 {
            try transposeTuples(slab!.baseAddress, into: planes, rows: b, columns: width,
                                rowBlock: share.zBlock(box: b), columnBlock: share.kxBlock(limit: limit), transpose)
        }
        // y then z, one kx plane at a time.
        forEachPlane(limit: limit, planes: kxs, threads: threads) { kx, plane, line, out in
            let rows = 2 * limit + 1
            for z in 0..<b {
                line.update(repeating: (0, 0), count: p)
                let source = planes + ((kx - kxs.lowerBound) * b + z) * b
                for y in 0..<b {
                    let v = source[y]
                    line[o + y] = (v.x, v.y)
                }
                fftwf_execute_dft(lineForward, line, out)
                for ky in -limit...limit { plane[z * rows + ky + limit] = out[(ky + p) % p] }
            }
            for ky in -limit...limit where kx * kx + ky * ky <= limit * limit {
                line.update(repeating: (0, 0), count: p)
                for z in 0..<b { line[o + z] = plane[z * rows + ky + limit] }
                fftwf_execute_dft(lineForward, line, out)
                let kzMax = Self.halfWidth(limit * limit - kx * kx - ky * ky)
                for kz in -kzMax...kzMax {
                    let v = out[(kz + p) % p]
                    // About the cube's centre p/2: (−1)^(kx+ky+kz).
                    let sign: Float = (kx + ky + kz) & 1 == 0 ? 1 : -1
                    emit(kx, ky, kz, SIMD2(v.0, v.1) * sign)
                }
            }
        }
    }

    /// The map (`box³`, x fastest, into `map`; only `share`'s z-slab is written) whose padded cube has the
    /// coefficients `coefficient(kx, ky, kz)` for `kx ≥ 0`, `kx² + ky² + kz² ≤ limit²` and zero elsewhere, divided
    /// by `padded³`. `coefficient` is called concurrently from `threads` workers, for `share`'s `kx` planes.
    /// Collective over `share`'s ranks (`transpose` between the passes).
    func inverse(limit: Int, threads: Int?, share: RankShare, transpose: BlockTranspose,
                 into map: UnsafeMutablePointer<Float>,
                 coefficient: @Sendable (_ kx: Int, _ ky: Int, _ kz: Int) -> SIMD2<Float>) rethrows {
        precondition(limit >= 0 && limit <= maxLimit, "PaddedCubeTransform: limit \(limit) > \(maxLimit)")
        let b = box, p = padded, o = offset, width = limit + 1
        let zs = share.zSlab(box: b), kxs = share.kxPlanes(limit: limit)[share.rank]
        let (tupleOrigin, zStride, kxStride) = xPassLayout(share: share, limit: limit)
        nonisolated(unsafe) let map = map, planes = planes.baseAddress, origin = tupleOrigin
        nonisolated(unsafe) let rowInverse = rowInverse, lineInverse = lineInverse
        // z then y, one kx plane at a time.
        forEachPlane(limit: limit, planes: kxs, threads: threads) { kx, plane, line, out in
            let rows = 2 * limit + 1
            for ky in -limit...limit {
                guard kx * kx + ky * ky <= limit * limit else {
                    for z in 0..<b { plane[z * rows + ky + limit] = (0, 0) }
                    continue
                }
                line.update(repeating: (0, 0), count: p)
                let kzMax = Self.halfWidth(limit * limit - kx * kx - ky * ky)
                for kz in -kzMax...kzMax {
                    let sign: Float = (kx + ky + kz) & 1 == 0 ? 1 : -1
                    let v = coefficient(kx, ky, kz) * sign
                    line[(kz + p) % p] = (v.x, v.y)
                }
                fftwf_execute_dft(lineInverse, line, out)
                for z in 0..<b { plane[z * rows + ky + limit] = out[o + z] }
            }
            let target = planes + (kx - kxs.lowerBound) * b * b
            for z in 0..<b {
                line.update(repeating: (0, 0), count: p)
                for ky in -limit...limit { line[(ky + p) % p] = plane[z * rows + ky + limit] }
                fftwf_execute_dft(lineInverse, line, out)
                for y in 0..<b { target[z * b + y] = SIMD2(out[o + y].0, out[o + y].1) }
            }
        }
        if share.size > 1 {
            try transposeTuples(planes, into: slab!.baseAddress, rows: width, columns: b,
                                rowBlock: share.kxBlock(limit: limit), columnBlock: share.zBlock(box: b), transpose)
        }
        // x: each row's coefficients kx ≤ limit, zero above, to the map's row; the z-slab's planes one at a time,
        // each first turned to `[y][kx]` (one pass over the kx tuples of that z).
        let scale = 1 / (Float(p) * Float(p) * Float(p))
        ParallelFor.run(count: zs.count, threads: threads) { zRange in
            let tile = AlignedBuffer<SIMD2<Float>>(count: b * width)
            withLines { real, spectrum, _ in
                for z in zRange.lowerBound + zs.lowerBound..<zRange.upperBound + zs.lowerBound {
                    for kx in 0..<width {
                        let source = origin + (z - zs.lowerBound) * zStride + kx * kxStride
                        for y in 0..<b { tile.baseAddress[y * width + kx] = source[y] }
                    }
                    for y in 0..<b {
                        spectrum.update(repeating: (0, 0), count: p / 2 + 1)
                        let source = tile.baseAddress + y * width
                        for kx in 0..<width { spectrum[kx] = (source[kx].x, source[kx].y) }
                        fftwf_execute_dft_c2r(rowInverse, spectrum, real)
                        let target = map + (z * b + y) * b
                        for x in 0..<b { target[x] = real[o + x] * scale }
                    }
                }
            }
        }
    }

    /// Where the x pass finds the `box` values along y of `(z, kx)` (`z` in `share`'s slab, `kx ≤ limit`):
    /// `origin + (z − slab start)·zStride + kx·kxStride`; in `planes` as `[kx][z][y]` on one rank, in `slab` as
    /// `[z][kx][y]` (made here on first use, as large as a transpose at `maxLimit` needs) when divided.
    private func xPassLayout(share: RankShare, limit: Int) -> (origin: UnsafeMutablePointer<SIMD2<Float>>, zStride: Int,
                                                              kxStride: Int) {
        guard share.size > 1 else { return (planes.baseAddress, box, box * box) }
        let needed = max(share.zBlock(box: box) * (maxLimit + 1), share.kxBlock(limit: maxLimit) * box) * box
        if slab?.count ?? -1 < needed { slab = nil; slab = AlignedBuffer(count: needed) }
        return (slab!.baseAddress, (limit + 1) * box, box)
    }

    /// `transpose` of a `rows × columns` matrix of `box`-value tuples distributed by blocks of rows.
    private func transposeTuples(_ input: UnsafeMutablePointer<SIMD2<Float>>, into output: UnsafeMutablePointer<SIMD2<Float>>,
                                 rows: Int, columns: Int, rowBlock: Int, columnBlock: Int,
                                 _ transpose: BlockTranspose) rethrows {
        // A complex value is two floats (real, imaginary), as FFTW lays them out.
        try transpose(UnsafeMutableRawPointer(input).assumingMemoryBound(to: Float.self),
                      UnsafeMutableRawPointer(output).assumingMemoryBound(to: Float.self),
                      rows, columns, 2 * box, rowBlock, columnBlock)
    }

    /// Runs `body(kx, plane, line, out)` for every `kx` of `planes` (within `0…limit`), on `threads` workers taking
    /// every `workers`-th plane (the planes near `kx = 0` hold the most coefficients), each with its own scratch: a
    /// `box × (2·limit + 1)` plane and two lines of `padded` complex values.
    private func forEachPlane(limit: Int, planes: Range<Int>, threads: Int?,
                              _ body: (Int, UnsafeMutablePointer<fftwf_complex>, UnsafeMutablePointer<fftwf_complex>,
                                       UnsafeMutablePointer<fftwf_complex>) -> Void) {
        guard !planes.isEmpty else { return }
        let workers = min(planes.count, max(1, threads ?? ParallelFor.defaultThreads))
        let planeCount = box * (2 * limit + 1)
        nonisolated(unsafe) let body = body
        ParallelFor.runPerWorker(count: workers, workers: workers) { _, mine in
            for worker in mine {
                let plane = AlignedBuffer<SIMD2<Float>>(count: planeCount)
                withLines { _, line, out in
                    plane.baseAddress.withMemoryRebound(to: fftwf_complex.self, capacity: planeCount) { p in
                        for kx in stride(from: planes.lowerBound + worker, to: planes.upperBound, by: workers) {
                            body(kx, p, line, out)
                        }
                    }
                }
            }
        }
    }

    /// Runs `body(real, line, out)` with a worker's aligned scratch: `padded + 2` reals and two lines of `padded`
    /// complex values (FFTW's plans were made on aligned arrays).
    private func withLines<R>(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<fftwf_complex>,
                                       UnsafeMutablePointer<fftwf_complex>) -> R) -> R {
        let real = AlignedBuffer<Float>(count: padded + 2)
        let line = AlignedBuffer<SIMD2<Float>>(count: padded), out = AlignedBuffer<SIMD2<Float>>(count: padded)
        return line.baseAddress.withMemoryRebound(to: fftwf_complex.self, capacity: padded) { l in
            out.baseAddress.withMemoryRebound(to: fftwf_complex.self, capacity: padded) { o in
                body(real.baseAddress, l, o)
            }
        }
    }

    /// Largest `k ≥ 0` with `k² ≤ n` (`n ≥ 0`).
    static func halfWidth(_ n: Int) -> Int {
        var k = Int(Double(n).squareRoot())
        while k * k > n { k -= 1 }
        while (k + 1) * (k + 1) <= n { k += 1 }
        return k
    }
}
