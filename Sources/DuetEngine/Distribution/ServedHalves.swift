import DuetCore

/// The half-sets this rank serves, in the order A, B: both with one rank, one of them otherwise (`HalfSetRanks`);
/// never none.
struct ServedHalves: Sequence {
    let runs: [HalfSetRun]

    var a: HalfSetRun? { runs.first { $0.half == .a } }
    var b: HalfSetRun? { runs.first { $0.half == .b } }
    /// The point group of the run (both halves use the configuration's).
    var symmetry: SymmetryGroup { runs[0].engine.symmetry }

    func makeIterator() -> IndexingIterator<[HalfSetRun]> { runs.makeIterator() }
}
