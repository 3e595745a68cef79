import CFFTW

/// Floating-point types FFTW can transform: `Float` (the `fftwf_` library) and `Double` (`fftw_`). Complex values
/// are `SIMD2<Self>` (real, imaginary), which has the memory layout of FFTW's `fftw(f)_complex`.
///
/// The static members are the thin bridge to the C library used by `FFTPlanCache` and `RealFFT`; code outside
/// this module has no reason to call them.
public protocol FFTWReal: BinaryFloatingPoint, SIMDScalar, Codable, Sendable {
    /// Which FFTW library transforms this type.
    static var fftPrecision: FFTPrecision { get }
    /// Plans a real-to-complex (`forward == true`) or complex-to-real transform of shape `dims` (slowest first) on
    /// the given arrays; `nil` if FFTW cannot.
    static func fftwPlan(forward: Bool, dims: [Int32], real: UnsafeMutablePointer<Self>,
                         complex: UnsafeMutablePointer<SIMD2<Self>>, flags: UInt32) -> OpaquePointer?
    /// New-array execution of a forward plan (thread-safe in FFTW).
    static func fftwExecuteForward(_ plan: OpaquePointer, _ real: UnsafeMutablePointer<Self>,
                                   _ complex: UnsafeMutablePointer<SIMD2<Self>>)
    /// New-array execution of an inverse plan (thread-safe in FFTW; overwrites `complex`).
    static func fftwExecuteInverse(_ plan: OpaquePointer, _ complex: UnsafeMutablePointer<SIMD2<Self>>,
                                   _ real: UnsafeMutablePointer<Self>)
    /// FFTW's SIMD alignment class of a pointer (0 for an `fftw_malloc`ed address).
    static func fftwAlignment(of pointer: UnsafeMutableRawPointer) -> Int32
}

/// The two FFTW precisions.
public enum FFTPrecision: Hashable, Sendable {
    case single, double
}

extension Float: FFTWReal {
    public static var fftPrecision: FFTPrecision { .single }

    public static func fftwPlan(forward: Bool, dims: [Int32], real: UnsafeMutablePointer<Float>,
                                complex: UnsafeMutablePointer<SIMD2<Float>>, flags: UInt32) -> OpaquePointer? {
        let c = UnsafeMutablePointer<fftwf_complex>(OpaquePointer(complex))
        return dims.withUnsafeBufferPointer { n in
            forward ? fftwf_plan_dft_r2c(Int32(n.count), n.baseAddress, real, c, flags)
                    : fftwf_plan_dft_c2r(Int32(n.count), n.baseAddress, c, real, flags)
        }
    }

    public static func fftwExecuteForward(_ plan: OpaquePointer, _ real: UnsafeMutablePointer<Float>,
                                          _ complex: UnsafeMutablePointer<SIMD2<Float>>) {
        fftwf_execute_dft_r2c(plan, real, UnsafeMutablePointer<fftwf_complex>(OpaquePointer(complex)))
    }

    public static func fftwExecuteInverse(_ plan: OpaquePointer, _ complex: UnsafeMutablePointer<SIMD2<Float>>,
                                          _ real: UnsafeMutablePointer<Float>) {
        fftwf_execute_dft_c2r(plan, UnsafeMutablePointer<fftwf_complex>(OpaquePointer(complex)), real)
    }

    public static func fftwAlignment(of pointer: UnsafeMutableRawPointer) -> Int32 {
        fftwf_alignment_of(pointer.assumingMemoryBound(to: Float.self))
    }
}

extension Double: FFTWReal {
    public static var fftPrecision: FFTPrecision { .double }

    public static func fftwPlan(forward: Bool, dims: [Int32], real: UnsafeMutablePointer<Double>,
                                complex: UnsafeMutablePointer<SIMD2<Double>>, flags: UInt32) -> OpaquePointer? {
        let c = UnsafeMutablePointer<fftw_complex>(OpaquePointer(complex))
        return dims.withUnsafeBufferPointer { n in
            forward ? fftw_plan_dft_r2c(Int32(n.count), n.baseAddress, real, c, flags)
                    : fftw_plan_dft_c2r(Int32(n.count), n.baseAddress, c, real, flags)
        }
    }

    public static func fftwExecuteForward(_ plan: OpaquePointer, _ real: UnsafeMutablePointer<Double>,
                                          _ complex: UnsafeMutablePointer<SIMD2<Double>>) {
        fftw_execute_dft_r2c(plan, real, UnsafeMutablePointer<fftw_complex>(OpaquePointer(complex)))
    }

    public static func fftwExecuteInverse(_ plan: OpaquePointer, _ complex: UnsafeMutablePointer<SIMD2<Double>>,
                                          _ real: UnsafeMutablePointer<Double>) {
        fftw_execute_dft_c2r(plan, UnsafeMutablePointer<fftw_complex>(OpaquePointer(complex)), real)
    }

    public static func fftwAlignment(of pointer: UnsafeMutableRawPointer) -> Int32 {
        fftw_alignment_of(pointer.assumingMemoryBound(to: Double.self))
    }
}
