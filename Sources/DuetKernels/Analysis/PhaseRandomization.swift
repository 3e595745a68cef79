import DuetCore
/// Randomisation of Fourier phases beyond a shell (Chen et al. 2013, the noise-substitution test behind the masked
/// FSC correction).
public enum PhaseRandomization {
    /// `volume` (`box³` voxels, `[z][y][x]`) with the phase of every Fourier coefficient in shells `> shell`
    /// replaced by a uniform random phase in [0, 2π) drawn from a generator seeded with `seed`; amplitudes are kept,
    /// so the power spectrum is unchanged. Friedel mates get opposite phases so the result stays real; the few
    /// self-conjugate coefficients (whose phase must stay 0 or π) are left as they are.
    public static func randomizingPhases(of volume: [Float], box: Int, beyondShell shell: Int, seed: UInt64) -> [Float] {
        let fft = FSCVolumeFFT(box: box)
        let shells = FSCShellIndex(box: box)
        var spectrum = volume.withUnsafeBufferPointer { fft.forward($0) }
        randomize(&spectrum, shells: shells, beyondShell: shell, seed: seed)
        return fft.inverse(spectrum)
    }

    /// In-place phase randomisation of a half spectrum (interleaved, FFTW layout of `FSCVolumeFFT`). Corner
    /// coefficients beyond box/2 count as beyond every shell.
    static func randomize(_ spectrum: inout [Double], shells: FSCShellIndex, beyondShell: Int, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let box = shells.box
        let half = box / 2 + 1
        spectrum.withUnsafeMutableBufferPointer { f in
            for z in 0..<box {
                for y in 0..<box {
                    for x in 0..<half {
                        let i = (z * box + y) * half + x
                        let s = Int(shells.shell[i])
                        guard s < 0 || s > beyondShell else { continue }
                        let phase = 2 * Double.pi * rng.nextUnit()
                        let onMatePlane = x == 0 || (box % 2 == 0 && x == box / 2)
                        if onMatePlane {
                            let mate = shells.mateIndex(z: z, y: y, x: x)
                            // Handle each Friedel pair once, from its lower index; keep self-conjugate ones.
                            guard mate > i else { continue }
                            let (re, im) = rotate(f[2 * i], f[2 * i + 1], by: phase)
                            f[2 * i] = re; f[2 * i + 1] = im
                            f[2 * mate] = re; f[2 * mate + 1] = -im
                        } else {
                            let (re, im) = rotate(f[2 * i], f[2 * i + 1], by: phase)
                            f[2 * i] = re; f[2 * i + 1] = im
                        }
                    }
                }
            }
        }
    }

    /// The coefficient with its amplitude kept and its phase set to `phase`.
    @inline(__always)
    private static func rotate(_ re: Double, _ im: Double, by phase: Double) -> (Double, Double) {
        let amplitude = (re * re + im * im).squareRoot()
        return (amplitude * cos(phase), amplitude * sin(phase))
    }
}

import Foundation
