/// Fourier shells of a cubic box on the FFTW half transform `[kz][ky][kx]`, `kx = 0..box/2`.
///
/// The shell of a coefficient is `round(sqrt(kx² + ky² + kz²))` with `ky, kz` wrapped to `−box/2..box/2`; shells
/// `0…box/2` are kept (corners beyond `box/2` get −1). Each half-transform element stands for itself and its
/// Friedel mate, so sums over the half transform carry weight 2 except on the planes `kx = 0` and (even box)
/// `kx = box/2`, whose elements already appear with their mates: with these weights a half-transform sum equals the
/// sum over the full transform.
struct FSCShellIndex {
    let box: Int
    let shellCount: Int
    /// Shell per half-transform element (−1 beyond box/2).
    let shell: [Int32]
    /// Weight (1 or 2) per half-transform element.
    let weight: [Double]

    init(box: Int) {
        self.box = box
        let half = box / 2 + 1
        shellCount = box / 2 + 1
        var shell = [Int32](repeating: -1, count: box * box * half)
        var weight = [Double](repeating: 2, count: box * box * half)
        let maxShell = box / 2
        for z in 0..<box {
            let kz = z <= box / 2 ? z : z - box
            for y in 0..<box {
                let ky = y <= box / 2 ? y : y - box
                for x in 0..<half {
                    let index = (z * box + y) * half + x
                    let r = Double(x * x + ky * ky + kz * kz).squareRoot()
                    let s = Int(r.rounded())
                    shell[index] = s <= maxShell ? Int32(s) : -1
                    if x == 0 || (box % 2 == 0 && x == box / 2) { weight[index] = 1 }
                }
            }
        }
        self.shell = shell
        self.weight = weight
    }

    /// Index of the Friedel mate of half-transform element (z, y, x) on the planes `x = 0` / `x = box/2`.
    @inline(__always)
    func mateIndex(z: Int, y: Int, x: Int) -> Int {
        let half = box / 2 + 1
        return (((box - z) % box) * box + (box - y) % box) * half + x
    }
}
