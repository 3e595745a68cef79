import DuetTestSupport
import XCTest

final class SGDOptionTests: XCTestCase {
    /// An out-of-range SGD option ends abinit and refine with one `duet: error:` line naming it, before any work.
    func testOutOfRangeOptionsFailWithOneLine() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let particles = CommandRunner.fixtures.path + "/cryodrgn/real/relion31.star"
        for (command, option, value) in [("abinit", "--pose-search-modes", "0"),
                                         ("refine", "--noise-initial-sigma-scale", "0"),
                                         ("abinit", "--noise-prior-weight", "-1"), ("refine", "--target-ess-fraction", "1"),
                                         ("refine", "--max-shift", "-3"), ("refine", "--refinement-rounds", "-1"),
                                         ("abinit", "--min-align-resolution", "0"),
                                         ("refine", "--min-align-resolution", "nan"),
                                         ("abinit", "--per-image-scale-sigma", "0"),
                                         ("refine", "--symmetry", "C0"),
                                         ("abinit", "--symmetry", "Q"),
                                         ("abinit", "--initial-iterations", "0"), ("refine", "--initial-iterations", "-1"),
                                         ("refine", "--final-iterations", "-1"), ("abinit", "--initial-minibatch", "0"),
                                         ("refine", "--threads", "0"), ("refine", "--align-every", "0"),
                                         ("refine", "--checkpoint-every", "-1"), ("abinit", "--learning-rate", "nan"),
                                         ("refine", "--initial-learning-rate", "0"), ("refine", "--pixel-size", "0"),
                                         ("abinit", "--pixel-size", "-1"), ("refine", "--particle-limit", "-1"),
                                         ("abinit", "--particle-limit", "0"), ("refine", "--max-resolution", "nan"),
                                         ("abinit", "--initial-resolution", "-5"), ("refine", "--diameter", "0"),
                                         ("refine", "--max-resolution", "40")] {
            let out = directory.appendingPathComponent(command).path
            let result = try CommandRunner.duet([command, particles, "--out", out, "\(option)=\(value)"])
            XCTAssertNotEqual(result.status, 0, "\(option) \(value) should fail")
            XCTAssertTrue(result.stderr.hasPrefix("duet: error: \(option)"), result.stderr)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) must not exist")
        }
    }
}
