import Foundation

/// The two maps of an alignment, low-passed to `radius` (cycles per box) and downsampled by Fourier
/// cropping to the smallest FFT-friendly even box that holds that sphere (never larger than the input box).
///
/// The cropped box keeps the physical extent, so frequency `k` (cycles per box) means the same in both boxes and
/// a translation of `d` cropped voxels is `d · inputBox / box` input voxels. Coefficients are about the box
/// centre (`FourierCentring`), so both boxes share their centre point.
struct CroppedMaps {
    /// Edge of the cropped maps.
    let box: Int
    let radius: Int
    /// Centred half spectra (`box²·(box/2 + 1)`) of the cropped reference and moving maps, zero beyond `radius`.
    let reference: AlignedBuffer<SIMD2<Float>>
    let movingSpectrum: AlignedBuffer<SIMD2<Float>>
    /// The cropped moving map prepared for trilinear sampling up to `radius` (padded 2×, not gridding-corrected).
    let moving: FourierVolume

    /// Only the reference gets the soft spherical window: the correlation `Σ (w·A)·B′` then ignores whatever of
    /// the moved B falls outside A's sphere (rotated corners, content wrapped by a translation) without the
    /// window cutting into B's own content where B is off-centre.
    init(reference a: [Float], moving b: [Float], box inputBox: Int, radius: Int, threads: Int) {
        self.radius = radius
        box = min(inputBox, FFTSize.even(atLeast: 2 * radius + 2))
        // One FFTW thread: a threaded plan may round differently, and results must not depend on `threads`.
        let fftIn = RealFFT<Float>(cube: inputBox, rigor: .estimate)
        let fftOut = RealFFT<Float>(cube: box, rigor: .estimate)
        reference = Self.crop(a, fftIn, to: fftOut, radius: radius, window: true, threads: threads)
        movingSpectrum = Self.crop(b, fftIn, to: fftOut, radius: radius, window: false, threads: threads)
        let scratch = AlignedBuffer<SIMD2<Float>>(movingSpectrum.toArray())
        let real = AlignedBuffer<Float>(count: fftOut.realCount)
        fftOut.inverseCentred(scratch.baseAddress, real.baseAddress)
        // No gridding correction: see `ShellCorrelator` (grid points exact, no over-corrected amplitudes).
        moving = FourierVolume(map: real.toArray(), grid: FourierGrid(box: box, maxRadius_px: radius),
                               griddingCorrection: false, fftwThreads: 1)
    }

    /// The centred half spectrum at `output`'s box of `map` (edge `input.shape[0]`), zero beyond `radius`; with
    /// `window`, after the soft spherical window (1 up to `box/2 − max(2, box/8)`, raised cosine to 0 at `box/2`).
    private static func crop(_ map: [Float], _ input: RealFFT<Float>, to output: RealFFT<Float>, radius: Int,
                             window: Bool, threads: Int) -> AlignedBuffer<SIMD2<Float>> {
        let inputBox = input.shape[0]
        let outer = Double(inputBox / 2), edge = Double(max(2, inputBox / 8))
        var windowed = map
        if window {
            RealSpaceConstraints.applySphericalWindow(&windowed, box: inputBox, innerRadius_px: outer - edge,
                                                      outerRadius_px: outer, threads: threads)
        }
        let full = AlignedBuffer<SIMD2<Float>>(count: input.complexCount)
        windowed.withUnsafeBufferPointer { input.forwardCentred($0.baseAddress!, full.baseAddress) }
        let cropped = AlignedBuffer<SIMD2<Float>>(count: output.complexCount)
        copySphere(from: full.baseAddress, box: inputBox, to: cropped.baseAddress, box: output.shape[0], radius: radius)
        return cropped
    }

    /// A correlator of these maps up to `radius` (≤ `self.radius`).
    func correlator(radius: Int) -> ShellCorrelator {
        withExtendedLifetime(self) {
            ShellCorrelator(reference: reference.baseAddress, movingSpectrum: movingSpectrum.baseAddress,
                            moving: moving, radius: radius)
        }
    }

    /// Copies the centred coefficients with `|k| ≤ radius` between half spectra of two cube sizes.
    static func copySphere(from source: UnsafePointer<SIMD2<Float>>, box sourceBox: Int,
                           to target: UnsafeMutablePointer<SIMD2<Float>>, box targetBox: Int, radius: Int) {
        let hs = sourceBox / 2 + 1, ht = targetBox / 2 + 1
        for kz in -radius...radius {
            for ky in -radius...radius {
                let xMax = floorSquareRoot(radius * radius - ky * ky - kz * kz)
                guard xMax >= 0 else { continue }
                let s = source + hs * (FourierIndexing.index(frequency: ky, size: sourceBox)
                                       + sourceBox * FourierIndexing.index(frequency: kz, size: sourceBox))
                let t = target + ht * (FourierIndexing.index(frequency: ky, size: targetBox)
                                       + targetBox * FourierIndexing.index(frequency: kz, size: targetBox))
                t.update(from: s, count: min(xMax, ht - 1) + 1)
            }
        }
    }
}
