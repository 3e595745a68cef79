/// The Gaussian noise of an image's Fourier coefficients as pose inference and the SGD gradient use it: σ² of each
/// of the real and imaginary parts of a coefficient (unnormalised DFT of the normalised images). Either one σ² per
/// shell `round(|k|)` (white or radially symmetric noise) or one per coefficient of the centred half-plane of a
/// `box`² image (`box` rows of `box/2 + 1`, FFTW row order: 2-D coloured noise, whose power may depend on direction).
public struct NoiseSpectrum: Sendable, Equatable {
    public enum Layout: Sendable, Equatable {
        /// `values[s]` is σ² of shell `s`.
        case shells
        /// `values[k]` is σ² of half-plane coefficient `k` of a `box`² image.
        case coefficients(box: Int)
    }

    public let layout: Layout
    /// σ², indexed as `layout` says; every value positive and finite.
    public private(set) var values: [Double]

    /// One σ² per shell, for shells `0..<shells.count`.
    public init(shells: [Double]) {
        precondition(shells.allSatisfy { $0 > 0 && $0.isFinite }, "NoiseSpectrum: σ² must be > 0")
        layout = .shells
        values = shells
    }

    /// One σ² per coefficient of the centred half-plane of a `box`² image.
    public init(coefficients: [Double], box: Int) {
        precondition(coefficients.count == box * (box / 2 + 1), "NoiseSpectrum: one σ² per half-plane coefficient")
        precondition(coefficients.allSatisfy { $0 > 0 && $0.isFinite }, "NoiseSpectrum: σ² must be > 0")
        layout = .coefficients(box: box)
        values = coefficients
    }

    /// σ² of half-plane coefficient `k`, which lies in shell `shell`.
    @inlinable
    public func variance(halfPlaneIndex k: Int, shell: Int) -> Double {
        if case .shells = layout { return values[shell] }
        return values[k]
    }

    /// Whether σ² is known for every coefficient of a `box`² image's half-plane up to shell `maxShell`.
    public func covers(box: Int, maxShell: Int) -> Bool {
        switch layout {
        case .shells: return values.count > maxShell
        case .coefficients(let own): return own == box
        }
    }

    /// The same noise with every σ² multiplied by `factor` (> 0).
    public func scaled(by factor: Double) -> NoiseSpectrum {
        var copy = self
        copy.values = values.map { factor * $0 }
        return copy
    }
}
