import Foundation

/// A seeded pseudo-random generator (xoshiro256**, state filled by SplitMix64): the same seed gives the same
/// stream on every machine and every run, which reproducible simulations, splits and phase randomisation need.
/// `init(seed:stream:)` gives independent streams (e.g. one per particle) so results do not depend on how work
/// is divided among threads or ranks.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        s0 = Self.splitMix64(&x)
        s1 = Self.splitMix64(&x)
        s2 = Self.splitMix64(&x)
        s3 = Self.splitMix64(&x)
    }

    /// Stream `stream` of `seed`: a generator seeded with a hash of both.
    public init(seed: UInt64, stream: UInt64) {
        var x = seed ^ 0x5DEE_CE66_D1CE_4E5B
        _ = Self.splitMix64(&x)
        x ^= stream &* 0xD1B5_4A32_D192_ED03
        self.init(seed: Self.splitMix64(&x))
    }

    /// The generator's whole state, for checkpoints.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            precondition(newValue.count == 4, "SeededGenerator: a state is 4 words")
            (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u = 1 - nextUnit()   // (0, 1]
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * nextUnit())
    }

    /// One SplitMix64 step: advances `state` and returns a well-mixed 64-bit value (a bijection of the state).
    public static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
