import DuetCore

/// A minibatch of preprocessed particle images prepared for pose inference: for each image its centred
/// half-plane spectrum (the layout of `FourierVolume.project`'s output: `box` rows of `box/2 + 1` `SIMD2<Float>`
/// (re, im), FFTW row order, coefficients about the image centre `box/2`, unnormalised DFT) and its CTF on the
/// same half plane (`RelionCTF.evaluate(on: CTFFrequencyGrid(box:pixelSize_A:), into:)`, signed Float values).
///
/// Image `i`'s spectrum and CTF are at `spectrum(i)` and `ctf(i)`, `complexCount = box · (box/2 + 1)` values each.
/// A batch made by `init` owns its images, image `i` in row `i` of `spectra` and `ctfs` (fill them through their
/// `baseAddress`, or `setImage`); a `subset` views rows of its parent's buffers without copying them.
public final class PoseImageBatch: @unchecked Sendable {
    /// Image edge in pixels.
    public let box: Int
    /// Number of images.
    public let count: Int
    /// Elements per image half plane, `box · (box/2 + 1)`.
    public let complexCount: Int
    /// The spectra, `complexCount` complex values per row (image `i` in row `i` unless this is a subset).
    public let spectra: AlignedBuffer<SIMD2<Float>>
    /// The CTFs, `complexCount` values per row, in the rows of `spectra`.
    public let ctfs: AlignedBuffer<Float>
    /// The row of image `i` in a subset; nil when image `i` is row `i`.
    private let rows: [Int]?

    /// A batch of `count` zero images (CTF zero too) of edge `box`.
    public init(box: Int, count: Int) {
        precondition(box >= 2 && count >= 0, "PoseImageBatch: box \(box), count \(count)")
        self.box = box
        self.count = count
        complexCount = box * (box / 2 + 1)
        spectra = AlignedBuffer(count: count * complexCount)
        ctfs = AlignedBuffer(count: count * complexCount)
        rows = nil
    }

    private init(viewing parent: PoseImageBatch, rows: [Int]) {
        box = parent.box
        count = rows.count
        complexCount = parent.complexCount
        spectra = parent.spectra
        ctfs = parent.ctfs
        self.rows = rows
    }

    /// Image `i`'s spectrum (`complexCount` values).
    @inlinable @inline(__always)
    public func spectrum(_ i: Int) -> UnsafeMutablePointer<SIMD2<Float>> { spectra.baseAddress + row(i) * complexCount }

    /// Image `i`'s CTF (`complexCount` values).
    @inlinable @inline(__always)
    public func ctf(_ i: Int) -> UnsafeMutablePointer<Float> { ctfs.baseAddress + row(i) * complexCount }

    @usableFromInline func row(_ i: Int) -> Int { rows?[i] ?? i }

    /// Copies image `index`'s spectrum and CTF (each `complexCount` long).
    public func setImage(_ index: Int, spectrum: [SIMD2<Float>], ctf: [Float]) {
        precondition(index >= 0 && index < count, "PoseImageBatch: image \(index) out of range")
        precondition(spectrum.count == complexCount && ctf.count == complexCount, "PoseImageBatch: wrong sizes")
        spectrum.withUnsafeBufferPointer { self.spectrum(index).update(from: $0.baseAddress!, count: complexCount) }
        ctf.withUnsafeBufferPointer { self.ctf(index).update(from: $0.baseAddress!, count: complexCount) }
    }

    /// The images at `indices`, in that order, as a batch that shares this one's memory (no copy: the minibatch
    /// of a set's prepared images, a chunk of a minibatch).
    public func subset(_ indices: [Int]) -> PoseImageBatch {
        for index in indices { precondition(index >= 0 && index < count, "PoseImageBatch: image \(index) out of range") }
        return PoseImageBatch(viewing: self, rows: indices.map(row))
    }
}

/// Parameters of one pose-posterior evaluation.
public struct PoseSearchSettings: Sendable, Equatable {
    /// Outer Fourier radius (image pixels, cycles per box): only coefficients with `kx² + ky² ≤ radius_px²` are
    /// used, so the cost follows the resolution. At most the volume's `grid.maxRadius_px`.
    public var radius_px: Int
    /// Inner radius (image pixels): coefficients with `kx² + ky² < minRadius_px²` are ignored (a high-pass for
    /// alignment). 0 (default) keeps the DC term.
    public var minRadius_px: Double
    /// Poses whose posterior weight is below `relativeThreshold` times the largest weight of their image are
    /// dropped from the output (the kept weights are renormalised to sum to 1). Default 1e-4.
    public var relativeThreshold: Double
    /// Worker threads (default: all cores). Results do not depend on it.
    public var threads: Int?
    /// Per-image contrast scale: nil models every image as `C·P` (scale 1); a value `κ > 0` models it as `α·C·P`
    /// with `α` estimated at every pose (its maximum a posteriori value under the prior `α ~ N(1, 1/κ)`, `α ≥ 0`),
    /// CryoSPARC's per-image optimal scale. The prior keeps `α` near 1 where an image carries little signal.
    public var scalePriorPrecision: Double?
    /// Compute each posterior's `effectiveSampleSize` and `logEvidence` (one `exp` per pose). false: both are NaN and
    /// only the kept poses are returned (a search level that only seeds a finer one needs nothing else).
    public var summarises: Bool

    public init(radius_px: Int, minRadius_px: Double = 0, relativeThreshold: Double = 1e-4, threads: Int? = nil,
                scalePriorPrecision: Double? = nil, summarises: Bool = true) {
        self.radius_px = radius_px
        self.minRadius_px = minRadius_px
        self.relativeThreshold = relativeThreshold
        self.threads = threads
        self.scalePriorPrecision = scalePriorPrecision
        self.summarises = summarises
    }
}

/// One pose of a sparse posterior.
public struct PoseWeight: Sendable, Equatable {
    /// Index into the rotation list passed to the kernel (not into the candidate subset).
    public var rotation: Int
    /// Index into the shift list.
    public var shift: Int
    /// Posterior weight (the kept weights of an image sum to 1).
    public var weight: Double
    /// Log-likelihood `−Σ_k |X_k − CTF_k·S_t(P_R V)_k|² / (2σ²(shell k))` over the full plane within the radii
    /// (no normalising constant of the Gaussian); with a per-image scale, at the pose's scale and with the scale's
    /// log prior added.
    public var logLikelihood: Double
    /// The image's contrast scale `α` at this pose (1 without `PoseSearchSettings.scalePriorPrecision`).
    public var scale: Double

    public init(rotation: Int, shift: Int, weight: Double, logLikelihood: Double, scale: Double = 1) {
        self.rotation = rotation
        self.shift = shift
        self.weight = weight
        self.logLikelihood = logLikelihood
        self.scale = scale
    }
}

/// The posterior over (rotation, shift) of one image, kept sparse.
public struct PosePosterior: Sendable, Equatable {
    /// Poses with weight ≥ `relativeThreshold · max weight`, renormalised, sorted by decreasing weight (ties by
    /// rotation index, then shift index). The first is `best`.
    public var poses: [PoseWeight]
    /// The pose of largest log-likelihood (weight as in `poses`).
    public var best: PoseWeight
    /// Effective sample size `1 / Σ w²` of the *full* (untruncated) posterior over all evaluated poses: 1 for a
    /// delta, the pose count for a flat posterior (NaN unless `PoseSearchSettings.summarises`).
    public var effectiveSampleSize: Double
    /// `log( (1/N) Σ_poses exp(logLikelihood) )` over all `N` evaluated poses: the log marginal likelihood under the
    /// uniform prior (same constant dropped as in `logLikelihood`; NaN unless `PoseSearchSettings.summarises`).
    public var logEvidence: Double
    /// Number of evaluated poses `N` (candidate rotations × shifts).
    public var evaluatedPoseCount: Int

    public init(poses: [PoseWeight], best: PoseWeight, effectiveSampleSize: Double, logEvidence: Double,
                evaluatedPoseCount: Int) {
        self.poses = poses
        self.best = best
        self.effectiveSampleSize = effectiveSampleSize
        self.logEvidence = logEvidence
        self.evaluatedPoseCount = evaluatedPoseCount
    }
}
