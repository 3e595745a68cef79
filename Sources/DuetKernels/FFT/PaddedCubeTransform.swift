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
/// only one `box × (2·limit + 1)` plane per worker is held between them). One caller at a time.
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
    /// Between the x pass and the y pass: `[z][y][kx]` (stride `maxLimit + 1`) in `forward`, `[kx][z][y]` in
    /// `inverse`, so that a rank's z-slab, or its `kx` planes, is one consecutive segment to exchange.
    private let planes: AlignedBuffer<SIMD2<Float>>

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
    /// `threads` workers (each frequency from one). Collective over `share`'s ranks (`exchange` between the passes).
    func forward(map: UnsafePointer<Float>, limit: Int, threads: Int?, share: RankShare,
                 exchange: SegmentExchange<SIMD2<Float>>,
                 emit: @Sendable (_ kx: Int, _ ky: Int, _ kz: Int, _ value: SIMD2<Float>) -> Void) rethrows {
        precondition(limit >= 0 && limit <= maxLimit, "PaddedCubeTransform: limit \(limit) > \(maxLimit)")
        let b = box, p = padded, o = offset, width = limit + 1, depth = maxLimit + 1
        nonisolated(unsafe) let map = map, planes = planes.baseAddress
        nonisolated(unsafe) let rowForward = rowForward, lineForward = lineForward
        // x: each map row of the z-slab, zero-padded, to its coefficients kx ≤ limit.
        let slabs = share.zSlabs(box: b), slab = slabs[share.rank]
        ParallelFor.run(count: slab.count * b, threads: threads) { rows in
            withLines { real, _, out in
                for row in rows.lowerBound + slab.lowerBound * b..<rows.upperBound + slab.lowerBound * b {
                    real.update(repeating: 0, count: p)
                    (real + o).update(from: map + row * b, count: b)
                    fftwf_execute_dft_r2c(rowForward, real, out)
                    let target = planes + row * depth
                    for kx in 0..<width { target[kx] = SIMD2(out[kx].0, out[kx].1) }
                }
            }
        }
        if share.size > 1 { try exchange(planes, slabs.map { $0.count * b * depth }) }
        // y then z, one kx plane at a time.
        forEachPlane(limit: limit, planes: share.kxPlanes(limit: limit, box: b)[share.rank], threads: threads) {
            kx, plane, line, out in
            let rows = 2 * limit + 1
            for z in 0..<b {
                line.update(repeating: (0, 0), count: p)
                for y in 0..<b {
                    let v = planes[(z * b + y) * depth + kx]
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
    /// Collective over `share`'s ranks (`exchange` between the passes).
    func inverse(limit: Int, threads: Int?, share: RankShare, exchange: SegmentExchange<SIMD2<Float>>,
                 into map: UnsafeMutablePointer<Float>,
                 coefficient: @Sendable (_ kx: Int, _ ky: Int, _ kz: Int) -> SIMD2<Float>) rethrows {
        precondition(limit >= 0 && limit <= maxLimit, "PaddedCubeTransform: limit \(limit) > \(maxLimit)")
        let b = box, p = padded, o = offset, width = limit + 1
        nonisolated(unsafe) let map = map, planes = planes.baseAddress
        nonisolated(unsafe) let rowInverse = rowInverse, lineInverse = lineInverse
        // z then y, one kx plane at a time.
        let kxShares = share.kxPlanes(limit: limit, box: b)
        forEachPlane(limit: limit, planes: kxShares[share.rank], threads: threads) { kx, plane, line, out in
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
            let target = planes + kx * b * b
            for z in 0..<b {
                line.update(repeating: (0, 0), count: p)
                for ky in -limit...limit { line[(ky + p) % p] = plane[z * rows + ky + limit] }
                fftwf_execute_dft(lineInverse, line, out)
                for y in 0..<b { target[z * b + y] = SIMD2(out[o + y].0, out[o + y].1) }
            }
        }
        if share.size > 1 { try exchange(planes, kxShares.map { $0.count * b * b }) }
        // x: each row's coefficients kx ≤ limit, zero above, to the map's row; the z-slab's planes one at a time,
        // each first turned to `[y][kx]` (one pass over the kx planes' rows of that z).
        let scale = 1 / (Float(p) * Float(p) * Float(p))
        let slab = share.zSlab(box: b)
        ParallelFor.run(count: slab.count, threads: threads) { zs in
            let tile = AlignedBuffer<SIMD2<Float>>(count: b * width)
            withLines { real, spectrum, _ in
                for z in zs.lowerBound + slab.lowerBound..<zs.upperBound + slab.lowerBound {
                    for kx in 0..<width {
                        let source = planes + (kx * b + z) * b
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
