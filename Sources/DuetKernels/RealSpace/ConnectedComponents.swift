/// Connected components of a binary cubic volume under 6-connectivity (voxels sharing a face).
///
/// Volumes are `box³`, x fastest (`index = x + box·(y + box·z)`); no wrap-around at the box faces. Labelling is
/// a flood fill with an explicit stack (no recursion), components numbered 0, 1, … in the order of their lowest
/// voxel index.
public struct ConnectedComponents: Sendable {
    /// Component of each voxel, −1 outside the set.
    public let labels: [Int32]
    /// Voxel count of each component.
    public let sizes: [Int]

    /// Labels the voxels where `inSet` is true.
    public init(_ inSet: [Bool], box: Int) {
        precondition(inSet.count == box * box * box, "ConnectedComponents: \(inSet.count) voxels, box \(box)")
        var labels = [Int32](repeating: -1, count: inSet.count)
        var sizes: [Int] = []
        var stack: [Int] = []
        let plane = box * box
        for seed in 0..<inSet.count where inSet[seed] && labels[seed] < 0 {
            let label = Int32(sizes.count)
            var size = 0
            labels[seed] = label
            stack.append(seed)
            while let i = stack.popLast() {
                size += 1
                let x = i % box, y = (i / box) % box, z = i / plane
                func visit(_ j: Int) {
                    if inSet[j] && labels[j] < 0 { labels[j] = label; stack.append(j) }
                }
                if x > 0 { visit(i - 1) }
                if x < box - 1 { visit(i + 1) }
                if y > 0 { visit(i - box) }
                if y < box - 1 { visit(i + box) }
                if z > 0 { visit(i - plane) }
                if z < box - 1 { visit(i + plane) }
            }
            sizes.append(size)
        }
        self.labels = labels
        self.sizes = sizes
    }

    /// The set restricted to components of at least `fraction` × the largest component's size (0 keeps every
    /// component, 1 only the largest, and ties with it).
    public func keeping(atLeast fraction: Double) -> [Bool] {
        guard let largest = sizes.max() else { return labels.map { _ in false } }
        let kept = sizes.map { Double($0) >= fraction * Double(largest) }
        return labels.map { $0 >= 0 && kept[Int($0)] }
    }
}
