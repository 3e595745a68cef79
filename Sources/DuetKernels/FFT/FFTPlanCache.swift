import CFFTW
import Foundation

/// How hard FFTW searches for a fast plan.
public enum FFTPlanRigor: Hashable, Sendable {
    /// `FFTW_ESTIMATE`: instant planning, somewhat slower transforms.
    case estimate
    /// `FFTW_MEASURE`: times candidate algorithms (about 0.5 s for a 128³ pair); best for transforms run many times.
    case measure
    /// `measure` for transforms of at most 2²⁰ real elements (every 2-D image), `estimate` above (3-D volumes,
    /// transformed rarely, where measuring a padded 512³ grid would take minutes).
    case automatic

    func resolved(elementCount: Int) -> FFTPlanRigor {
        if case .automatic = self { return elementCount <= 1 << 20 ? .measure : .estimate }
        return self
    }
}

/// A process-wide cache of FFTW plans keyed by precision, direction, shape, alignment, rigor and thread count.
///
/// FFTW's planner is not thread-safe, so every lookup and every plan creation happens under one lock. Execution
/// is thread-safe with FFTW's new-array functions, which is how `RealFFT` runs the cached plans: any number of
/// threads may execute one plan at the same time on different arrays.
///
/// Plans are created on scratch arrays from `fftw_malloc` (so the planner's `FFTW_MEASURE` runs never touch
/// caller data) and are kept for the life of the process. An "unaligned" plan (`FFTW_UNALIGNED`) is made on
/// request for arrays whose address is not SIMD-aligned (e.g. images of an odd box packed back to back).
public final class FFTPlanCache: @unchecked Sendable {
    /// The cache every `RealFFT` uses.
    public static let shared = FFTPlanCache()

    struct Key: Hashable {
        var precision: FFTPrecision
        var forward: Bool
        var dims: [Int]
        var aligned: Bool
        var rigor: FFTPlanRigor
        var threads: Int
    }

    private let lock = NSLock()
    private var plans: [Key: OpaquePointer] = [:]
    private var linePlans: [Int: (OpaquePointer, OpaquePointer, OpaquePointer, OpaquePointer)] = [:]

    private init() {
        lock.lock()
        _ = fftwf_init_threads()
        _ = fftw_init_threads()
        lock.unlock()
    }

    /// Number of plans created so far.
    public var planCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return plans.count
    }

    /// Single-precision 1-D plans of `length` (`FFTW_ESTIMATE`, one thread, aligned arrays), created on first use:
    /// real-to-complex, complex-to-real, and complex forward (`FFTW_FORWARD`) and backward, all unnormalised and
    /// out of place (`PaddedCubeTransform`'s lines).
    func lineTransforms(length n: Int) -> (r2c: OpaquePointer, c2r: OpaquePointer, forward: OpaquePointer,
                                          backward: OpaquePointer) {
        lock.lock()
        defer { lock.unlock() }
        if let plans = linePlans[n] { return plans }
        let real = AlignedBuffer<Float>(count: n + 2)
        let a = AlignedBuffer<SIMD2<Float>>(count: n), b = AlignedBuffer<SIMD2<Float>>(count: n)
        let flags = UInt32(FFTW_ESTIMATE)
        fftwf_plan_with_nthreads(1)
        let plans = a.baseAddress.withMemoryRebound(to: fftwf_complex.self, capacity: n) { x in
            b.baseAddress.withMemoryRebound(to: fftwf_complex.self, capacity: n) { y in
                (fftwf_plan_dft_r2c_1d(Int32(n), real.baseAddress, x, flags),
                 fftwf_plan_dft_c2r_1d(Int32(n), x, real.baseAddress, flags),
                 fftwf_plan_dft_1d(Int32(n), x, y, FFTW_FORWARD, flags),
                 fftwf_plan_dft_1d(Int32(n), x, y, FFTW_BACKWARD, flags))
            }
        }
        guard let r2c = plans.0, let c2r = plans.1, let forward = plans.2, let backward = plans.3 else {
            fatalError("FFTW could not plan 1-D transforms of length \(n)")
        }
        linePlans[n] = (r2c, c2r, forward, backward)
        return (r2c, c2r, forward, backward)
    }

    /// The plan for a transform of `dims` (slowest first) in precision `T`, created on first use.
    func plan<T: FFTWReal>(_ type: T.Type, forward: Bool, dims: [Int], aligned: Bool, rigor: FFTPlanRigor,
                           threads: Int) -> OpaquePointer {
        let realCount = dims.reduce(1, *)
        let key = Key(precision: T.fftPrecision, forward: forward, dims: dims, aligned: aligned,
                      rigor: rigor.resolved(elementCount: realCount), threads: max(1, threads))
        lock.lock()
        defer { lock.unlock() }
        if let plan = plans[key] { return plan }
        let complexCount = dims.dropLast().reduce(1, *) * (dims.last! / 2 + 1)
        let real = AlignedBuffer<T>(count: realCount + 2)
        let complex = AlignedBuffer<SIMD2<T>>(count: complexCount + 1)
        var flags: UInt32 = key.rigor == .measure ? UInt32(FFTW_MEASURE) : UInt32(FFTW_ESTIMATE)
        // Unaligned plans are made on arrays offset by one element so that FFTW sees the misalignment too.
        let realPointer = aligned ? real.baseAddress : real.baseAddress + 1
        let complexPointer = complex.baseAddress
        if !aligned { flags |= UInt32(FFTW_UNALIGNED) }
        switch T.fftPrecision {
        case .single: fftwf_plan_with_nthreads(Int32(key.threads))
        case .double: fftw_plan_with_nthreads(Int32(key.threads))
        }
        guard let plan = T.fftwPlan(forward: forward, dims: dims.map { Int32($0) }, real: realPointer,
                                    complex: complexPointer, flags: flags) else {
            fatalError("FFTW could not plan a \(forward ? "r2c" : "c2r") transform of shape \(dims)")
        }
        plans[key] = plan
        return plan
    }
}
