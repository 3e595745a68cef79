import DuetCore
import Foundation

/// Accumulates back-projected slices on a `FourierGrid` (RELION's `BackProjector` with `TRILINEAR`): a complex
/// numerator `Σ weight·data` and a real weight `Σ weight·w` (e.g. `CTF·image` and `CTF²`), both in the centred
/// half-volume layout of `FourierGrid`.
///
/// Insertion is the exact adjoint of `FourierVolume.project` (same geometry, same trilinear weights, Friedel
/// flip with conjugation, conjugate translation phase): for the real inner product `⟨a, b⟩ = Re Σ conj(a)·b`,
/// `⟨project(V), u⟩ = ⟨V, insert(u)⟩` on the numerator.
///
/// Threading: `insert(count:…)` runs on several workers, each adding into its own full-size accumulator (kept
/// between calls, so memory is `threads ×` one accumulator), then sums them into `numerator`/`weight` over the
/// z-planes the radius reaches. The single-slice `insert(slice:…)` is not thread-safe.
public final class BackProjector: @unchecked Sendable {
    /// Geometry and storage layout.
    public let grid: FourierGrid
    /// `Σ` trilinear-weighted, translation-corrected slice coefficients (centred, `grid.count` elements).
    public let numerator: AlignedBuffer<SIMD2<Float>>
    /// `Σ` trilinear-weighted slice weights (`grid.count` elements).
    public let weight: AlignedBuffer<Float>

    private var workerAccumulators: [(AlignedBuffer<SIMD2<Float>>, AlignedBuffer<Float>)] = []

    /// An empty accumulator on `grid`.
    public init(grid: FourierGrid) {
        self.grid = grid
        numerator = AlignedBuffer(count: grid.count)
        weight = AlignedBuffer(count: grid.count)
    }

    /// Sets numerator and weight to zero.
    public func reset() {
        numerator.zero()
        weight.zero()
    }

    /// Adds one slice: `slice` is a centred half-plane (`grid.box` rows of `box/2 + 1`) of an image seen at
    /// `rotation`, translated by `translation_px` relative to the projection (the same meaning as in
    /// `FourierVolume.project`; the translation is undone before insertion); `sliceWeights` (same layout, real;
    /// `nil` = 1) go into `weight`. Only coefficients of image radius ≤ `radius_px` (default `grid.maxRadius_px`)
    /// are used. Does not allocate.
    public func insert(slice: UnsafePointer<SIMD2<Float>>, sliceWeights: UnsafePointer<Float>?, rotation: Rotation,
                       translation_px: SIMD2<Double> = .zero, radius_px: Int? = nil) {
        withExtendedLifetime(self) {
            insert(into: numerator.baseAddress, weight.baseAddress, slice: slice, sliceWeights: sliceWeights,
                   rotation: rotation, translation_px: translation_px, radius: radius_px ?? grid.maxRadius_px,
                   layoutBox: grid.box)
        }
    }

    /// Adds `rotations.count` slices on `threads` workers (default: all cores): slice `i` at
    /// `slices + i · sliceStride`, its weights at `sliceWeights + i · weightStride` (strides in elements), in
    /// `layout` (default: the image's; `SliceLayout`).
    public func insert(slices: UnsafePointer<SIMD2<Float>>, sliceStride: Int,
                       sliceWeights: UnsafePointer<Float>?, weightStride: Int,
                       rotations: [Rotation], translations_px: [SIMD2<Double>]? = nil,
                       radius_px: Int? = nil, layout: SliceLayout? = nil, threads: Int? = nil) {
        let count = rotations.count
        let r = radius_px ?? grid.maxRadius_px
        let layoutBox = (layout ?? SliceLayout(box: grid.box)).box
        precondition(layoutBox == grid.box || 2 * r < layoutBox, "BackProjector.insert: layout too small")
        precondition(translations_px == nil || translations_px!.count == count)
        let workers = min(count, max(1, threads ?? ParallelFor.defaultThreads))
        guard workers > 0 else { return }
        while workerAccumulators.count < workers - 1 {
            workerAccumulators.append((AlignedBuffer(count: grid.count), AlignedBuffer(count: grid.count)))
        }
        var numerators = [numerator.baseAddress], weights = [weight.baseAddress]
        for (n, w) in workerAccumulators.prefix(workers - 1) {
            numerators.append(n.baseAddress)
            weights.append(w.baseAddress)
        }
        nonisolated(unsafe) let slices = slices, sliceWeights = sliceWeights
        nonisolated(unsafe) let targetsN = numerators, targetsW = weights
        withExtendedLifetime((self, workerAccumulators)) {
            ParallelFor.runPerWorker(count: count, workers: workers) { worker, range in
                for i in range {
                    self.insert(into: targetsN[worker], targetsW[worker], slice: slices + i * sliceStride,
                                sliceWeights: sliceWeights.map { $0 + i * weightStride }, rotation: rotations[i],
                                translation_px: translations_px?[i] ?? .zero, radius: r, layoutBox: layoutBox)
                }
            }
            if workers > 1 { reduceWorkers(count: workers - 1, radius: r, numerators: targetsN, weights: targetsW) }
        }
    }

    private func insert(into n: UnsafeMutablePointer<SIMD2<Float>>, _ w: UnsafeMutablePointer<Float>,
                        slice: UnsafePointer<SIMD2<Float>>, sliceWeights: UnsafePointer<Float>?, rotation: Rotation,
                        translation_px: SIMD2<Double>, radius r: Int, layoutBox: Int) {
        precondition(r >= 0 && r <= grid.maxRadius_px, "BackProjector.insert: radius \(r) > \(grid.maxRadius_px)")
        let geometry = SliceGeometry(rotation: rotation, scale: grid.scale)
        TranslationPhases.with(translation: translation_px, box: grid.box, layoutBox: layoutBox) { px, py in
            insertSlice(into: FloatScatter(numerator: n, weights: w, nx: grid.nx, nxy: grid.nx * grid.ny), grid: grid,
                        geometry: geometry, radius: r, layoutBox: layoutBox, phaseX: px, phaseY: py, slice: slice,
                        sliceWeights: sliceWeights)
        }
    }

    /// Adds worker accumulators 1… into 0 (the public arrays) and zeroes them, over the z-planes that radius
    /// `r` can reach, in parallel over planes.
    private func reduceWorkers(count: Int, radius r: Int, numerators: [UnsafeMutablePointer<SIMD2<Float>>],
                               weights: [UnsafeMutablePointer<Float>]) {
        let h = grid.halfExtent
        let reach = min(h, Int((grid.scale * Double(r)).rounded(.down)) + 1)
        let plane = grid.nx * grid.ny
        nonisolated(unsafe) let numerators = numerators, weights = weights
        let first = h - reach, planes = 2 * reach + 1
        ParallelFor.run(count: planes) { range in
            for zi in range {
                let start = (first + zi) * plane
                for k in 1...count {
                    let dn = numerators[0] + start, sn = numerators[k] + start
                    let dw = weights[0] + start, sw = weights[k] + start
                    for i in 0..<plane {
                        dn[i] += sn[i]
                        dw[i] += sw[i]
                    }
                    sn.update(repeating: .zero, count: plane)
                    sw.update(repeating: 0, count: plane)
                }
            }
        }
    }
}
