import Foundation

/// Real-to-complex (forward) and complex-to-real (inverse) discrete Fourier transforms over FFTW, in `Float` or
/// `Double`, for 2-D images and 3-D volumes, one at a time or in batches executed on several threads.
///
/// **Normalisation (the one place Duet defines it):** the forward transform is *unnormalised*,
/// `F[k] = Σₓ f[x]·exp(−2πi k·x/N)`; the inverse divides by the number of real elements `N`, so
/// `inverse(forward(f)) == f`. Consequently the forward transform of a 2-D line-integral projection equals the
/// central section of the forward transform of the volume (the Fourier-slice theorem holds with no scale factor).
///
/// **Layout:** row-major, slowest axis first, as FFTW: `shape == [ny, nx]` for an image of `nx` columns,
/// `[nz, ny, nx]` for a volume. The complex half-spectrum has `shape.dropLast() × (nx/2 + 1)` elements, DC at
/// index 0, the x frequency `0 … nx/2` along the fastest axis and the other axes in FFT order (see
/// `FourierIndexing`). The transforms are with respect to the array origin at index 0; for images centred at
/// `box/2` use `FourierCentring`.
///
/// **Arrays:** any addresses work; those allocated by `AlignedBuffer` (and batch strides that keep the SIMD
/// alignment) use FFTW's aligned plans, others a slower unaligned plan. The inverse *overwrites its complex
/// input* (FFTW has no input-preserving multi-dimensional c2r).
///
/// A `RealFFT` is a cheap value: plans come from `FFTPlanCache.shared`, are made once per shape and kept.
public struct RealFFT<T: FFTWReal>: Sendable {
    /// Dimensions, slowest first: `[ny, nx]` or `[nz, ny, nx]`.
    public let shape: [Int]
    /// Number of real elements, the product of `shape`.
    public let realCount: Int
    /// Number of complex elements of the half-spectrum: `shape.dropLast().product × (nx/2 + 1)`.
    public let complexCount: Int
    /// Threads FFTW itself uses inside one transform (use 1 for batches, which are parallel over images).
    public let fftwThreads: Int
    public let rigor: FFTPlanRigor

    nonisolated(unsafe) private let forwardPlan: OpaquePointer
    nonisolated(unsafe) private let inversePlan: OpaquePointer

    /// Prepares (or fetches from the cache) the plans for `shape` (slowest first, rank 1–3, every size ≥ 1).
    public init(shape: [Int], rigor: FFTPlanRigor = .automatic, fftwThreads: Int = 1) {
        precondition((1...3).contains(shape.count) && shape.allSatisfy { $0 >= 1 }, "RealFFT: bad shape \(shape)")
        self.shape = shape
        self.rigor = rigor
        self.fftwThreads = max(1, fftwThreads)
        realCount = shape.reduce(1, *)
        complexCount = shape.dropLast().reduce(1, *) * (shape.last! / 2 + 1)
        forwardPlan = FFTPlanCache.shared.plan(T.self, forward: true, dims: shape, aligned: true, rigor: rigor,
                                               threads: self.fftwThreads)
        inversePlan = FFTPlanCache.shared.plan(T.self, forward: false, dims: shape, aligned: true, rigor: rigor,
                                               threads: self.fftwThreads)
    }

    /// A 2-D transform of images `nx` columns wide and `ny` rows high.
    public init(imageWidth nx: Int, height ny: Int, rigor: FFTPlanRigor = .automatic) {
        self.init(shape: [ny, nx], rigor: rigor)
    }

    /// A 3-D transform of a cubic volume of edge `box`.
    public init(cube box: Int, rigor: FFTPlanRigor = .automatic, fftwThreads: Int = 1) {
        self.init(shape: [box, box, box], rigor: rigor, fftwThreads: fftwThreads)
    }

    private func plan(forward: Bool, _ a: UnsafeMutableRawPointer, _ b: UnsafeMutableRawPointer) -> OpaquePointer {
        if T.fftwAlignment(of: a) == 0 && T.fftwAlignment(of: b) == 0 { return forward ? forwardPlan : inversePlan }
        return FFTPlanCache.shared.plan(T.self, forward: forward, dims: shape, aligned: false, rigor: rigor,
                                        threads: fftwThreads)
    }

    /// Forward transform of `realCount` reals into `complexCount` complex values (unnormalised). The input is
    /// not modified.
    public func forward(_ input: UnsafePointer<T>, _ output: UnsafeMutablePointer<SIMD2<T>>) {
        let real = UnsafeMutablePointer(mutating: input)
        T.fftwExecuteForward(plan(forward: true, real, output), real, output)
    }

    /// Inverse transform of `complexCount` complex values into `realCount` reals, divided by `realCount`.
    /// **Overwrites `input`.**
    public func inverse(_ input: UnsafeMutablePointer<SIMD2<T>>, _ output: UnsafeMutablePointer<T>) {
        T.fftwExecuteInverse(plan(forward: false, input, output), input, output)
        let scale = 1 / T(realCount)
        for i in 0..<realCount { output[i] *= scale }
    }

    /// Forward transforms of `count` arrays: array `i` is read at `input + i·inputStride` and written at
    /// `output + i·outputStride` (strides in elements, at least `realCount`/`complexCount`). Runs on `threads`
    /// workers (default: all cores), each executing the cached plan on its own images.
    public func forwardBatch(count: Int, input: UnsafePointer<T>, inputStride: Int,
                             output: UnsafeMutablePointer<SIMD2<T>>, outputStride: Int, threads: Int? = nil) {
        precondition(inputStride >= realCount && outputStride >= complexCount, "RealFFT.forwardBatch: stride too small")
        nonisolated(unsafe) let input = input, output = output
        let fft = self
        ParallelFor.run(count: count, threads: threads) { range in
            for i in range { fft.forward(input + i * inputStride, output + i * outputStride) }
        }
    }

    /// Inverse transforms (each divided by `realCount`) of `count` arrays at strides as in `forwardBatch`.
    /// **Overwrites the inputs.**
    public func inverseBatch(count: Int, input: UnsafeMutablePointer<SIMD2<T>>, inputStride: Int,
                             output: UnsafeMutablePointer<T>, outputStride: Int, threads: Int? = nil) {
        precondition(inputStride >= complexCount && outputStride >= realCount, "RealFFT.inverseBatch: stride too small")
        nonisolated(unsafe) let input = input, output = output
        let fft = self
        ParallelFor.run(count: count, threads: threads) { range in
            for i in range { fft.inverse(input + i * inputStride, output + i * outputStride) }
        }
    }

    /// Convenience: the forward transform of an array of `realCount` values.
    public func forward(_ input: [T]) -> [SIMD2<T>] {
        precondition(input.count == realCount, "RealFFT.forward: \(input.count) values, expected \(realCount)")
        let a = AlignedBuffer<T>(input)
        let out = AlignedBuffer<SIMD2<T>>(count: complexCount)
        forward(a.baseAddress, out.baseAddress)
        return out.toArray()
    }

    /// Convenience: the inverse transform of an array of `complexCount` values (the array is not modified).
    public func inverse(_ input: [SIMD2<T>]) -> [T] {
        precondition(input.count == complexCount, "RealFFT.inverse: \(input.count) values, expected \(complexCount)")
        let a = AlignedBuffer<SIMD2<T>>(input)
        let out = AlignedBuffer<T>(count: realCount)
        inverse(a.baseAddress, out.baseAddress)
        return out.toArray()
    }
}
