/// Index ↔ signed-frequency mapping of FFTW's half-spectrum layout, for even and odd sizes.
///
/// Along every axis but the last (fastest), the `n` FFT indices hold the frequencies
/// `0, 1, …, ⌈n/2⌉−1, −⌊n/2⌋, …, −1` (NumPy's `fftfreq · n`): for even `n` index `n/2` is `−n/2` (Nyquist), for
/// odd `n = 2m+1` the frequencies run `−m … m`. Along the last axis the half-spectrum keeps `n/2 + 1` indices
/// equal to the frequencies `0 … n/2` (non-negative); the rest follow from Friedel symmetry `F(−k) = conj F(k)`.
/// Frequencies are in cycles per box (multiply by `1/(n·pixelSize_A)` for Å⁻¹).
public enum FourierIndexing {
    /// Signed frequency (cycles per box) stored at FFT index `index` of an axis of `size` samples.
    @inlinable public static func signedFrequency(index: Int, size: Int) -> Int {
        index < (size + 1) / 2 ? index : index - size
    }

    /// FFT index of the signed frequency `frequency` (−⌊n/2⌋ … ⌈n/2⌉−1) along an axis of `size` samples.
    @inlinable public static func index(frequency: Int, size: Int) -> Int {
        frequency >= 0 ? frequency : frequency + size
    }

    /// Number of stored elements along the last (half) axis: `size/2 + 1`.
    @inlinable public static func halfCount(size: Int) -> Int { size / 2 + 1 }
}
