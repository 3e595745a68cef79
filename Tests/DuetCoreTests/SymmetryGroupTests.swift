import DuetCore
import DuetTestSupport
import Foundation
import XCTest

/// `SymmetryGroup` against RELION's own operators (`relion_refine --sym NAME --print_symmetry_ops`): the same
/// matrices, so a map symmetrised by Duet is symmetric for RELION and the reverse.
final class SymmetryGroupTests: XCTestCase {
    /// RELION's matrices for `name`, parsed from its printout.
    private func relionOperators(_ name: String) throws -> [Rotation] {
        let relion = "/usr/bin/relion_refine"
        guard FileManager.default.isExecutableFile(atPath: relion) else {
            XCTFail("relion_refine is missing: install the Debian package relion (ci/install-deps.sh does)")
            return []
        }
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try CommandRunner.run(relion, ["--sym", name, "--print_symmetry_ops", "--o", "ops"], in: directory)
        let lines = run.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var matrices = [Rotation]()
        for (i, line) in lines.enumerated() where line.hasPrefix("R(") && i + 3 < lines.count {
            let rows = (1...3).map { lines[i + $0].split(separator: " ").compactMap { Double($0) } }
            guard rows.allSatisfy({ $0.count == 3 }) else { continue }
            matrices.append(Rotation(row0: SIMD3(rows[0][0], rows[0][1], rows[0][2]),
                                     row1: SIMD3(rows[1][0], rows[1][1], rows[1][2]),
                                     row2: SIMD3(rows[2][0], rows[2][1], rows[2][2])))
        }
        return matrices
    }

    func testGroupsMatchRelionsOperators() throws {
        for (name, order) in [("C1", 1), ("C5", 5), ("D3", 6), ("D2", 4), ("T", 12), ("O", 24), ("I", 60)] {
            let group = try SymmetryGroup(name)
            XCTAssertEqual(group.order, order, name)
            XCTAssertEqual(group.elements[0], .identity)
            let relion = try relionOperators(name)
            XCTAssertEqual(relion.count, order, "RELION's \(name)")
            for r in relion {
                let nearest = group.elements.map { $0.angularDistance_rad(to: r) }.min()!
                XCTAssertLessThan(nearest, 1e-4, "\(name): RELION operator \(r) not in Duet's group")
            }
        }
    }

    func testNamesAndErrors() throws {
        XCTAssertEqual(try SymmetryGroup("c7").name, "C7")
        XCTAssertEqual(try SymmetryGroup("I2").name, "I")
        XCTAssertEqual(try SymmetryGroup("I2").elements.count, 60)
        for bad in ["", "C0", "D1", "Q", "C-3", "I5", "Dx"] {
            XCTAssertThrowsError(try SymmetryGroup(bad), bad)
        }
    }
}
