import CFFTW
import Foundation

/// Private seam: 3-D real-to-complex FFT of a cubic volume for the FSC code, straight over FFTW (double precision,
/// `FFTW_ESTIMATE`). The shared FFT layer (`Sources/DuetKernels/FFT`) can replace it later: only `forward` and
/// `inverse` are used.
///
/// Layout: real volume `[z][y][x]` (x fastest), `box³` floats; spectrum FFTW half transform `[kz][ky][kx]`,
/// `kx = 0..box/2`, stored interleaved (re, im) as `2 · box · box · (box/2 + 1)` doubles, unnormalised forward
/// transform; `inverse` divides by `box³` so that `inverse(forward(v)) == v`.
final class FSCVolumeFFT {
    let box: Int
    let halfCount: Int
    private let real: UnsafeMutablePointer<Double>
    private let spectrum: UnsafeMutablePointer<fftw_complex>
    private let forwardPlan: fftw_plan
    private let inversePlan: fftw_plan

    /// FFTW's planner is not thread-safe; `fftw_make_planner_thread_safe` (FFTW ≥ 3.3.5) serialises planning
    /// against every other planner call in the process, including the shared FFT layer's.
    private static let plannerMadeThreadSafe: Bool = {
        fftw_make_planner_thread_safe()
        return true
    }()
    private static let lock = NSLock()

    init(box: Int) {
        precondition(box > 1, "FSCVolumeFFT: box must be > 1")
        self.box = box
        halfCount = box * box * (box / 2 + 1)
        real = UnsafeMutablePointer<Double>.allocate(capacity: box * box * box)
        spectrum = UnsafeMutablePointer<fftw_complex>.allocate(capacity: halfCount)
        _ = Self.plannerMadeThreadSafe
        Self.lock.lock()
        forwardPlan = fftw_plan_dft_r2c_3d(Int32(box), Int32(box), Int32(box), real, spectrum, FFTW_ESTIMATE)!
        inversePlan = fftw_plan_dft_c2r_3d(Int32(box), Int32(box), Int32(box), spectrum, real, FFTW_ESTIMATE)!
        Self.lock.unlock()
    }

    deinit {
        Self.lock.lock()
        fftw_destroy_plan(forwardPlan)
        fftw_destroy_plan(inversePlan)
        Self.lock.unlock()
        real.deallocate()
        spectrum.deallocate()
    }

    /// Forward transform of `volume` (`box³` values), optionally multiplied voxel by voxel by `mask` first.
    func forward(_ volume: UnsafeBufferPointer<Float>, mask: UnsafeBufferPointer<Float>? = nil) -> [Double] {
        let n = box * box * box
        precondition(volume.count == n, "FSC: volume has \(volume.count) voxels, expected \(n)")
        if let mask {
            precondition(mask.count == n, "FSC: mask has \(mask.count) voxels, expected \(n)")
            for i in 0..<n { real[i] = Double(volume[i]) * Double(mask[i]) }
        } else {
            for i in 0..<n { real[i] = Double(volume[i]) }
        }
        fftw_execute(forwardPlan)
        return [Double](unsafeUninitializedCapacity: 2 * halfCount) { out, initialized in
            UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: spectrum,
                                                                  byteCount: 2 * halfCount * MemoryLayout<Double>.size)
            initialized = 2 * halfCount
        }
    }

    /// Inverse transform of a half spectrum (interleaved, `2 · halfCount` doubles), normalised by `1/box³`.
    func inverse(_ halfSpectrum: [Double]) -> [Float] {
        precondition(halfSpectrum.count == 2 * halfCount)
        halfSpectrum.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(spectrum).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        fftw_execute(inversePlan)
        let n = box * box * box
        let norm = 1 / Double(n)
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n { out[i] = Float(real[i] * norm) }
            initialized = n
        }
    }
}
