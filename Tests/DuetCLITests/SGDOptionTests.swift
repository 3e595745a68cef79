import DuetTestSupport
import XCTest

final class SGDOptionTests: XCTestCase {
    /// An out-of-range SGD option ends abinit and refine with one `duet: error:` line naming it, before any work.
    func testOutOfRangeOptionsFailWithOneLine() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let particles = CommandRunner.sharedData.path + "/cryodrgn/real/relion31.star"
        for (command, option, value) in [("abinit", "--pose-search-modes", "0"),
                                         ("refine", "--noise-initial-sigma-scale", "0"),
                                         ("abinit", "--noise-prior-weight", "-1"), ("refine", "--target-ess-fraction", "1"),
                                         ("refine", "--max-shift", "-3"), ("refine", "--refinement-rounds", "-1"),
                                         ("abinit", "--min-align-resolution", "0"),
                                         ("refine", "--min-align-resolution", "nan"),
                                         ("abinit", "--per-image-scale-sigma", "0"),
                                         ("refine", "--symmetry", "C0"),
                                         ("abinit", "--symmetry", "Q")] {
            let out = directory.appendingPathComponent(command).path
            let result = try CommandRunner.duet([command, particles, "--out", out, "\(option)=\(value)"])
            XCTAssertNotEqual(result.status, 0, "\(option) \(value) should fail")
            XCTAssertTrue(result.stderr.hasPrefix("duet: error: \(option)"), result.stderr)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) must not exist")
        }
    }
}
