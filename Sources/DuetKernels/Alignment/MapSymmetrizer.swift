import DuetCore

/// Makes a map symmetric under a point group: `V_sym(x) = (1/|G|) Σ_g V(g·x)` about the box centre (`box/2`), each
/// term resampled by `MapTransform` (Fourier-space, gridding-corrected). A map that is already symmetric comes back
/// unchanged up to interpolation. Costs one `MapTransform` per element: meant for one-off use (a start volume, a
/// test map), not every iteration.
public enum MapSymmetrizer {
    public static func symmetrised(_ map: [Float], box: Int, group: SymmetryGroup, threads: Int? = nil) -> [Float] {
        guard group.order > 1 else { return map }
        var sum = map.map(Double.init)
        for g in group.elements.dropFirst() {
            // MapTransform gives B(Rᵀ·x); over the whole group Rᵀ runs through every element.
            let moved = MapTransform(rotation: g).apply(to: map, box: box, threads: threads)
            for i in sum.indices { sum[i] += Double(moved[i]) }
        }
        return sum.map { Float($0 / Double(group.order)) }
    }
}
