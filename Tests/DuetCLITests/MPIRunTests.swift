import DuetTestSupport
import XCTest

/// Real multi-process runs: `duet mpi-selftest` under `mpirun` at 1–4 ranks splits the world into two half-set
/// communicators, checks allreduce sums and writes one HDF5 file collectively, which h5py then checks value by value.
final class MPIRunTests: XCTestCase {
    private func runSelfTest(ranks: Int?) throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("selftest.h5").path
        let arguments = ["mpi-selftest", "--output", output, "--rows-per-rank", "7"]
        let result = try ranks.map { try CommandRunner.mpirunDuet(ranks: $0, arguments) }
            ?? CommandRunner.duet(arguments)
        let label = ranks.map { "mpirun -np \($0)" } ?? "plain run"
        XCTAssertEqual(result.status, 0, "\(label): \(result.stderr)")
        XCTAssertTrue(result.stdout.contains("mpi-selftest passed: \(ranks ?? 1) ranks"), "\(label): \(result.stdout)")
        let check = try CommandRunner.oracle("check_selftest_h5.py", [output, "\(ranks ?? 1)", "7"])
        XCTAssertEqual(check.status, 0, "\(label): h5py check failed: \(check.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "temporary files left behind")
    }

    func testPlainRunWithoutMpirunIsASingleton() throws { try runSelfTest(ranks: nil) }
    func testMpirunOneRank() throws { try runSelfTest(ranks: 1) }
    func testMpirunTwoRanks() throws { try runSelfTest(ranks: 2) }
    func testMpirunThreeRanks() throws { try runSelfTest(ranks: 3) }
    func testMpirunFourRanks() throws { try runSelfTest(ranks: 4) }

    func testUnwritableOutputFailsOnEveryRankWithOneLine() throws {
        let result = try CommandRunner.mpirunDuet(ranks: 2, ["mpi-selftest", "--output", "/nonexistent-dir/x.h5"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("duet: error: cannot create HDF5 file /nonexistent-dir/x.h5"), result.stderr)
    }
}
