import DuetCore
import DuetKernels

/// Forms particle images from a map as `relion_project --ctf` does: the central slice of the map's Fourier
/// transform at the particle's rotation, translated by −origin (RELION's `rlnOriginX/YAngst`: the image shifted by
/// +origin matches the projection), multiplied by the RELION CTF, and inverse transformed to a `box²` image
/// (origin at `box/2`, x fastest). Thread-safe: `form` only reads shared state; scratch buffers are the caller's.
public struct ImageFormation: Sendable {
    public let volume: FourierVolume
    public let pixelSize_A: Double
    public let ctfGrid: CTFFrequencyGrid
    private let fft: RealFFT<Float>

    public var box: Int { volume.grid.box }

    public init(map: [Float], box: Int, pixelSize_A: Double) {
        volume = FourierVolume(map: map, grid: FourierGrid(box: box))
        self.pixelSize_A = pixelSize_A
        ctfGrid = CTFFrequencyGrid(box: box, pixelSize_A: pixelSize_A)
        // FFTW_MEASURE may pick a different algorithm in each run, changing results at round-off: the estimated
        // plan keeps a seeded simulation bit-for-bit reproducible.
        fft = RealFFT<Float>(imageWidth: box, height: box, rigor: .estimate)
    }

    /// Per-thread scratch space for `form`.
    public final class Scratch {
        let spectrum: AlignedBuffer<SIMD2<Float>>
        let ctf: AlignedBuffer<Float>

        public init(box: Int) {
            spectrum = AlignedBuffer(count: box * (box / 2 + 1))
            ctf = AlignedBuffer(count: box * (box / 2 + 1))
        }
    }

    /// Writes the image of a particle seen at `pose` with `ctf` (nil: no CTF) into `image` (`box²` floats).
    public func form(pose: Pose, ctf: CTFParameters?, scratch: Scratch, into image: UnsafeMutablePointer<Float>) throws {
        let translation_px = SIMD2(-pose.shiftX_A / pixelSize_A, -pose.shiftY_A / pixelSize_A)
        volume.project(rotation: pose.rotation, translation_px: translation_px, into: scratch.spectrum.baseAddress)
        if let ctf {
            try RelionCTF(ctf).evaluate(on: ctfGrid, into: scratch.ctf.buffer)
            for i in 0..<scratch.spectrum.count { scratch.spectrum[i] *= scratch.ctf[i] }
        }
        fft.inverseCentred(scratch.spectrum.baseAddress, image)
    }
}
