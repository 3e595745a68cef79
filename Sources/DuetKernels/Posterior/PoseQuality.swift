/// How well an image matches the map at one pose, as a number a user can sort particles by: the normalised
/// cross-correlation of the image `X` with its modelled signal `C·S_t·P` over the Fourier coefficients
/// `minRadius_px ≤ |k| ≤ radius_px` of the centred half plane, each weighted by `f_k/σ²_k` (whitened, so
/// every shell counts by its signal-to-noise ratio, and Friedel weights as in `PosePosteriorKernel`):
///
///     ρ = Σ w Re(conj(C·S_t·P) · X) / √(Σ w |C·P|² · Σ w |X|²)
///
/// Independent of the image's contrast scale; about 0 for empty ice, highest for particles that fit the map well.
/// Made once per radius and noise model (the coefficient list and weights), then evaluated per image.
public struct PoseQuality: Sendable {
    private let layout: AnnulusLayout
    /// `f_k/σ²_k` per coefficient of `layout`.
    private let weights: [Double]

    public init(box: Int, radius_px: Int, minRadius_px: Double, noiseVariance: NoiseSpectrum) {
        let layout = AnnulusLayout(box: box, radius: radius_px, minRadius: minRadius_px)
        self.layout = layout
        weights = layout.inverseVariances(noiseVariance)
    }

    /// `ρ` for `image` and `ctf` (half planes of `box` rows of `box/2 + 1`) against `projection`, the slice at the
    /// pose with its shift already applied (`FourierVolume.project(rotation:translation_px:...)`).
    public func normalisedCorrelation(image: UnsafePointer<SIMD2<Float>>, ctf: UnsafePointer<Float>,
                                      projection: UnsafePointer<SIMD2<Float>>) -> Double {
        var cross = 0.0, model = 0.0, data = 0.0
        for n in 0..<layout.count {
            let k = Int(layout.halfPlaneIndex[n]), w = weights[n]
            let x = SIMD2<Double>(image[k]), m = SIMD2<Double>(projection[k]) * Double(ctf[k])
            cross += w * (x * m).sum()
            model += w * (m * m).sum()
            data += w * (x * x).sum()
        }
        return model > 0 && data > 0 ? cross / (model * data).squareRoot() : 0
    }
}
