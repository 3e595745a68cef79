/// The masked FSC with the phase-randomisation correction of Chen et al. (2013), as RELION's post-processing does it.
public struct MaskedFSCResult: Sendable, Equatable {
    /// FSC of the unmasked volumes.
    public let unmasked: FSCCurve
    /// FSC of the masked volumes.
    public let masked: FSCCurve
    /// FSC of the masked, phase-randomised volumes (phases randomised in shells > `randomizationShell`).
    public let phaseRandomizedMasked: FSCCurve
    /// The corrected masked FSC: `masked` up to `randomizationShell`, and
    /// `(FSC_masked − FSC_rand) / (1 − FSC_rand)` beyond it.
    public let corrected: FSCCurve
    /// Phases were randomised in shells strictly above this one: the first shell ≥ 1 where the unmasked FSC drops
    /// below the randomisation threshold (0.8 by default; the last shell when it never does).
    public let randomizationShell: Int
}

extension FourierShellCorrelation {
    /// Unmasked, masked and corrected masked FSC of `a` and `b` with the real-space `mask` (each `box³` voxels,
    /// `[z][y][x]`; the mask is multiplied voxel by voxel, values usually in [0, 1] with a soft edge).
    ///
    /// Steps: the unmasked FSC gives the randomisation shell `s₀` (first shell where it drops below
    /// `randomizationThreshold`); the phases of both maps are randomised beyond `s₀` (independent streams derived from
    /// `seed`), the randomised maps are masked and their FSC is `FSC_rand`; beyond `s₀`,
    /// `FSC_true = (FSC_masked − FSC_rand) / (1 − FSC_rand)`. The same seed gives the same curves.
    public static func maskedCorrected(_ a: [Float], _ b: [Float], mask: [Float], box: Int, pixelSize_A: Double,
                                       seed: UInt64, randomizationThreshold: Double = 0.8) -> MaskedFSCResult {
        let fft = FSCVolumeFFT(box: box)
        let shells = FSCShellIndex(box: box)
        var fa = a.withUnsafeBufferPointer { fft.forward($0) }
        var fb = b.withUnsafeBufferPointer { fft.forward($0) }
        let unmasked = curve(fa, fb, shells: shells, pixelSize_A: pixelSize_A)
        let masked = mask.withUnsafeBufferPointer { m in
            curve(a.withUnsafeBufferPointer { fft.forward($0, mask: m) },
                  b.withUnsafeBufferPointer { fft.forward($0, mask: m) }, shells: shells, pixelSize_A: pixelSize_A)
        }
        let lastShell = shells.shellCount - 1
        let randomizationShell = (1...max(1, lastShell)).first { unmasked.values[$0] < randomizationThreshold }
            ?? lastShell

        PhaseRandomization.randomize(&fa, shells: shells, beyondShell: randomizationShell, seed: seed)
        PhaseRandomization.randomize(&fb, shells: shells, beyondShell: randomizationShell,
                                     seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        let ra = fft.inverse(fa), rb = fft.inverse(fb)
        let randomized = mask.withUnsafeBufferPointer { m in
            curve(ra.withUnsafeBufferPointer { fft.forward($0, mask: m) },
                  rb.withUnsafeBufferPointer { fft.forward($0, mask: m) }, shells: shells, pixelSize_A: pixelSize_A)
        }

        var corrected = masked.values
        for s in 0..<corrected.count where s > randomizationShell {
            let random = randomized.values[s]
            corrected[s] = random < 1 ? (masked.values[s] - random) / (1 - random) : 0
        }
        return MaskedFSCResult(
            unmasked: unmasked, masked: masked, phaseRandomizedMasked: randomized,
            corrected: FSCCurve(box: box, pixelSize_A: pixelSize_A, values: corrected,
                                coefficientCounts: masked.coefficientCounts),
            randomizationShell: randomizationShell)
    }
}
