/// Which gold-standard half-set a particle belongs to. Half A is RELION `rlnRandomSubset` 1 and CryoSPARC
/// `alignments3D/split` 0; half B is subset 2 and split 1. Half A is the reference frame (docs/design.md §3).
public enum HalfSet: Int, Sendable, CaseIterable {
    case a = 0
    case b = 1

    /// RELION `rlnRandomSubset` value (1 or 2).
    public var relionSubset: Int { rawValue + 1 }
    /// CryoSPARC `alignments3D/split` value (0 or 1).
    public var cryosparcSplit: Int { rawValue }
    /// "A" or "B", as in file names and logs.
    public var letter: String { self == .a ? "A" : "B" }

    public init?(relionSubset: Int) { self.init(rawValue: relionSubset - 1) }
    public init?(cryosparcSplit: Int) { self.init(rawValue: cryosparcSplit) }
}

/// Where a particle's image is: the 0-based section `index` of the MRC stack at `path`. `path` is as written in
/// the metadata (RELION `N@path` gives index N-1); relative paths are relative to the metadata file's directory.
/// A RELION name without `N@` names a whole file of one image (`isWholeFile`, index 0).
public struct ImageLocation: Hashable, Sendable {
    public var index: Int
    public var path: String
    public var isWholeFile: Bool

    public init(index: Int, path: String, isWholeFile: Bool = false) {
        self.index = index
        self.path = path
        self.isWholeFile = isWholeFile
    }
}

/// A particle's orientation and in-plane shift. `shiftX_A`/`shiftY_A` are RELION's `rlnOriginX/YAngst`: the
/// shift in Å applied to the image before it is compared with the reference projection (CryoSPARC stores the
/// same shift in pixels in `alignments3D/shift`).
public struct Pose: Equatable, Sendable {
    public var rotation: Rotation
    public var shiftX_A: Double
    public var shiftY_A: Double

    public init(rotation: Rotation, shiftX_A: Double, shiftY_A: Double) {
        self.rotation = rotation
        self.shiftX_A = shiftX_A
        self.shiftY_A = shiftY_A
    }
}

/// How well the pose search that last saw a particle determined its pose: the effective number of poses sharing
/// its posterior, 1/Σw² (1 = one pose certain), that search's iteration, 1-based as in the progress log, the
/// image's contrast scale at the pose (1 = the map's contrast; near 0 for empty ice); how well the image fits the
/// map there: the normalised correlation (about 0 for images that fit no pose) and the residual hotspot (≥ 1, large
/// where unexplained density such as a neighbour sits in the box); and the quality score to drop junk by, which
/// combines the two over the whole run (`QualityScoring`; nil until a run has scored its particles).
/// Written as `rlnDuetPoseESS`/`rlnDuetLastIteration`/`rlnDuetImageScale`/`rlnDuetCorrelation`/
/// `rlnDuetResidualHotspot`/`rlnDuetQuality` (STAR) and `alignments3D/pose_ess`/`duet/last_iteration`/
/// `alignments3D/alpha`/`duet/correlation`/`duet/residual_hotspot`/`duet/quality` (.cs).
public struct PoseStatistics: Equatable, Sendable {
    public var effectiveSampleSize: Double
    public var lastIteration: Int
    public var scale: Double
    public var correlation: Double
    public var residualHotspot: Double
    public var quality: Double?

    public init(effectiveSampleSize: Double, lastIteration: Int, scale: Double = 1, correlation: Double = 0,
                residualHotspot: Double = 1, quality: Double? = nil) {
        self.effectiveSampleSize = effectiveSampleSize
        self.lastIteration = lastIteration
        self.scale = scale
        self.correlation = correlation
        self.residualHotspot = residualHotspot
        self.quality = quality
    }
}

/// One particle as Duet works with it, whichever file format it came from: image location, pixel size and box of
/// the image, CTF, and the optional pose (with the statistics of the search that found it) and half-set split.
public struct Particle: Equatable, Sendable {
    public var image: ImageLocation
    /// Pixel size of the image; nil when the metadata does not say (some STAR files never do).
    public var pixelSize_A: Double?
    /// Image side in pixels when the metadata states it (RELION `rlnImageSize`, CryoSPARC `blob/shape`).
    public var boxSize: Int?
    /// 1-based RELION optics group (1 for files without optics groups).
    public var opticsGroup: Int
    public var ctf: CTFParameters?
    public var pose: Pose?
    /// Set by Duet's pose search; not read from files.
    public var poseStatistics: PoseStatistics?
    public var halfSet: HalfSet?
    /// The factor that brings the stored image to RELION's contrast (protein bright): +1 for RELION particles, the
    /// `blob/sign` of a CryoSPARC particle (−1 for CryoSPARC's own extractions, which keep the micrograph's dark
    /// protein). Image readers apply it.
    public var imageSign: Float = 1

    public init(image: ImageLocation, pixelSize_A: Double?, boxSize: Int? = nil, opticsGroup: Int = 1,
                ctf: CTFParameters? = nil, pose: Pose? = nil, poseStatistics: PoseStatistics? = nil,
                halfSet: HalfSet? = nil) {
        self.image = image
        self.pixelSize_A = pixelSize_A
        self.boxSize = boxSize
        self.opticsGroup = opticsGroup
        self.ctf = ctf
        self.pose = pose
        self.poseStatistics = poseStatistics
        self.halfSet = halfSet
    }
}
