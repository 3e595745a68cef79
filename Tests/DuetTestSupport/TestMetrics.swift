/// Similarity measures the tests compare images and maps with.
public enum TestMetrics {
    /// Normalised cross-correlation (Pearson) of two equally long arrays.
    public static func ncc(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        let n = Double(a.count)
        let ma = a.reduce(0.0) { $0 + Double($1) } / n, mb = b.reduce(0.0) { $0 + Double($1) } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<a.count {
            let x = Double(a[i]) - ma, y = Double(b[i]) - mb
            sab += x * y
            saa += x * x
            sbb += y * y
        }
        return sab / (saa * sbb).squareRoot()
    }
}
