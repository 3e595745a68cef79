import DuetFormats
import DuetTestSupport
import XCTest

/// Inputs that used to crash or give a meaningless result (issue #15) end with one `duet: error:` line, a non-zero
/// exit and no output directory; a stack without CTF columns is used and the log says so.
final class BadInputTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try CommandRunner.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A RELION 3.1 STAR file of `count` noise images of 16² in `name`.star/.mrcs: optics group 1 at 4 Å/px and,
    /// for particles listed in `secondGroup`, group 2 at 5 Å/px; `defocusU(i)` as written in the STAR; no CTF
    /// columns when `ctf` is false; `badPixel` set in image `badImage` (0-based).
    private func writeSet(_ name: String, count: Int, ctf: Bool = true, secondGroup: Set<Int> = [],
                          defocusU: (Int) -> String = { _ in "15000" }, badImage: Int? = nil,
                          badPixel: Float = .nan) throws -> String {
        let box = 16
        var generator = SystemRandomNumberGenerator()
        var images = (0..<(count * box * box)).map { _ in Float.random(in: -1...1, using: &generator) }
        if let badImage { images[badImage * box * box + 37] = badPixel }
        try MRCWriter.writeImageStack(nx: box, ny: box, images: images, pixelSize_A: 4,
                                      to: directory.appendingPathComponent("\(name).mrcs").path)
        let ctfOptics = ctf ? " 300 2.7 0.1" : ""
        var star = "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n_rlnImageSize\n_rlnImageDimensionality\n"
            + (ctf ? "_rlnVoltage\n_rlnSphericalAberration\n_rlnAmplitudeContrast\n" : "")
            + "1 4.0 \(box) 2\(ctfOptics)\n2 5.0 \(box) 2\(ctfOptics)\n\n"
            + "data_particles\nloop_\n_rlnImageName\n_rlnOpticsGroup\n"
            + (ctf ? "_rlnDefocusU\n_rlnDefocusV\n_rlnDefocusAngle\n" : "")
        for i in 0..<count {
            let group = secondGroup.contains(i) ? 2 : 1
            star += "\(i + 1)@\(name).mrcs \(group)" + (ctf ? " \(defocusU(i)) 15000 0" : "") + "\n"
        }
        let path = directory.appendingPathComponent("\(name).star").path
        try star.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `arguments` and checks the one-line error containing `expected`, and that `out` was not created.
    private func assertFails(_ arguments: [String], out: String, containing expected: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CommandRunner.duet(arguments)
        XCTAssertEqual(result.status, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("duet: error: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(expected), "\(expected) not in \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) must not exist", file: file, line: line)
    }

    private let short = ["--initial-iterations", "1", "--final-iterations", "0", "--initial-minibatch", "4",
                         "--threads", "1"]

    /// `--noise-model` takes CryoSPARC's names (and `colored`): a known name passes parsing and the run goes on to
    /// the missing particle file; an unknown one is a usage error naming the choices.
    func testNoiseModelNames() throws {
        for name in ["white", "symmetric", "coloured", "colored"] {
            let result = try CommandRunner.duet(["abinit", "/nonexistent/particles.star", "--out", "/tmp/duet-unused",
                                                 "--noise-model", name])
            XCTAssertEqual(result.status, 1, "\(name): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("no such file"), "\(name): \(result.stderr)")
        }
        let unknown = try CommandRunner.duet(["abinit", "/nonexistent/particles.star", "--out", "/tmp/duet-unused",
                                              "--noise-model", "pink"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("'white', 'symmetric' or 'coloured'"), unknown.stderr)
    }

    func testNonFinitePixelsAreRefused() throws {
        for (value, name) in [(Float.nan, "nan"), (Float.infinity, "inf")] {
            let star = try writeSet("pixel\(name)", count: 8, badImage: 2, badPixel: value)
            for command in ["refine", "abinit"] {
                let out = directory.appendingPathComponent("\(command)-\(name)").path
                try assertFails([command, star, "--out", out] + short, out: out,
                                containing: "pixel\(name).mrcs: pixel 37 is \(name)")
            }
        }
    }

    func testNonFiniteDefocusIsRefused() throws {
        let star = try writeSet("defocus", count: 8, defocusU: { $0 == 4 ? "nan" : "15000" })
        for command in ["refine", "abinit"] {
            let out = directory.appendingPathComponent(command).path
            try assertFails([command, star, "--out", out] + short, out: out,
                            containing: "column _rlnDefocusU, row 5: 'nan' is not a finite number")
        }
    }

    func testTwoPixelSizesAreRefused() throws {
        let star = try writeSet("mixed", count: 8, secondGroup: [6])
        for command in ["refine", "abinit"] {
            let out = directory.appendingPathComponent(command).path
            try assertFails([command, star, "--out", out] + short, out: out, containing: "particle 7 has box 16 at 5.0")
        }
    }

    func testTooFewParticlesAreRefused() throws {
        let star = try writeSet("one", count: 1)
        let out = directory.appendingPathComponent("refine").path
        try assertFails(["refine", star, "--out", out] + short, out: out, containing: "each half needs at least 2")
        try assertFails(["abinit", star, "--out", out] + short, out: out, containing: "at least 2 are needed")
        let eight = try writeSet("eight", count: 8)
        try assertFails(["refine", eight, "--out", out, "--max-resolution", "7.9"] + short, out: out,
                        containing: "--max-resolution 7.9 Å is finer than Nyquist (8 Å")
    }

    /// Without CTF columns the particles are refined without CTF correction, and the log says so.
    func testMissingCTFIsReported() throws {
        let star = try writeSet("noctf", count: 8, ctf: false)
        let out = directory.appendingPathComponent("refine").path
        let result = try CommandRunner.duet(["refine", star, "--out", out, "--refinement-rounds", "0"] + short)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("note: 8 of 8 particles have no CTF parameters and are used without CTF correction"),
                      result.stdout)
    }

    /// An output directory holding another run is refused unless --overwrite; one where the run would write over
    /// its own input is refused even with it, and the input is left as it was.
    func testOutputDirectoriesAreNotClobbered() throws {
        let box = 16
        let map = directory.appendingPathComponent("map.mrc").path
        let blob = (0..<(box * box * box)).map { i -> Float in
            let (x, y, z) = (i % box - 8, (i / box) % box - 8, i / (box * box) - 8)
            return x * x + y * y + z * z < 16 ? 1 : 0
        }
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: blob, pixelSize_A: 4, to: map)
        let sim = directory.appendingPathComponent("sim").path
        let simulate = ["simulate", map, "--out", sim, "--count", "20", "--seed", "1"]
        XCTAssertEqual(try CommandRunner.duet(simulate).status, 0)
        let again = try CommandRunner.duet(simulate)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "duet: error: --out \(sim) already holds another run's particles.star, "
                       + "particles.mrcs, truth.star: choose another directory or pass --overwrite\n")
        XCTAssertEqual(try CommandRunner.duet(simulate + ["--overwrite"]).status, 0)

        let stack = sim + "/particles.mrcs"
        let before = try Data(contentsOf: URL(fileURLWithPath: stack))
        for arguments in [["reconstruct", sim + "/truth.star", "--out", sim, "--overwrite"],
                          ["refine", sim + "/particles.star", "--out", sim, "--overwrite"] + short,
                          ["abinit", sim + "/particles.star", "--out", sim + "/.", "--overwrite"] + short] {
            let result = try CommandRunner.duet(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.stderr.hasPrefix("duet: error: --out \(arguments[3]) would overwrite the input "),
                          result.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stack)), before)
    }

    /// `--resume` continues with the checkpoint's settings: any other option but --threads is refused.
    func testResumeRefusesOptionsItWouldIgnore() throws {
        let run = directory.appendingPathComponent("run").path
        for extra in [["--seed", "5"], ["--refinement-rounds", "2"], ["--out", run], ["--initial-iterations", "9"]] {
            let result = try CommandRunner.duet(["refine", "--resume", run] + extra)
            XCTAssertEqual(result.status, 1, "\(extra)")
            XCTAssertEqual(result.stderr, "duet: error: --resume continues with the checkpoint's settings: give no other "
                           + "option but --threads\n", "\(extra)")
        }
        let threads = try CommandRunner.duet(["refine", "--resume", run, "--threads", "1"])
        XCTAssertEqual(threads.stderr, "duet: error: \(run): no checkpoint to resume from (\(run)/checkpoint/checkpoint.json missing)\n")
    }

    /// A stack too large for memory, or no particles at all, is refused before anything is allocated.
    func testSimulateRefusesImpossibleCounts() throws {
        let box = 16
        let map = directory.appendingPathComponent("blob.mrc").path
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: [Float](repeating: 1, count: box * box * box),
                                  pixelSize_A: 4, to: map)
        let out = directory.appendingPathComponent("sim").path
        try assertFails(["simulate", map, "--out", out, "--count", "1000000000000"], out: out,
                        containing: "--count 1000000000000 of 16² images needs 1024000.0 GB in memory")
        try assertFails(["simulate", map, "--out", out, "--count=-5"], out: out, containing: "--count must be at least 1")
        // A negative value after a space is read as the option's value too, not as a missing one.
        try assertFails(["simulate", map, "--out", out, "--count", "-5"], out: out, containing: "--count must be at least 1")
    }

    /// Under mpirun, a bad option and a bad pixel that only one rank reads both end with one error line from
    /// rank 0, every rank exiting by itself (no MPI_ABORT) and no output directory.
    func testErrorsUnderMpirunArePrintedOnce() throws {
        let star = try writeSet("mpinan", count: 12, badImage: 9)
        for (ranks, command, extra, expected) in [
            (3, "refine", [String](), "mpinan.mrcs: pixel 37 is nan"),
            (2, "abinit", [], "mpinan.mrcs: pixel 37 is nan"),
            (2, "refine", ["--particle-limit", "0"], "--particle-limit must be at least 1"),
        ] {
            let out = directory.appendingPathComponent("mpi-\(command)-\(ranks)").path
            let result = try CommandRunner.mpirunDuet(ranks: ranks, [command, star, "--out", out] + short + extra)
            let label = "mpirun -np \(ranks) duet \(command) \(extra)"
            XCTAssertNotEqual(result.status, 0, label)
            let errors = (result.stdout + result.stderr).split(separator: "\n").filter { $0.contains("duet: error:") }
            XCTAssertEqual(errors.count, 1, "\(label): \(result.stderr)")
            XCTAssertTrue(errors.first?.hasPrefix("duet: error: ") == true && errors.first!.contains(expected),
                          "\(label): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("MPI_ABORT"), "\(label): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(label): \(out) must not exist")
        }
    }

    /// An --out that is a file, lies under one or cannot be created is refused with a plain message.
    func testOutputThatIsAFileIsRefused() throws {
        let star = try writeSet("outfile", count: 8)
        let file = directory.appendingPathComponent("taken").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        try assertFails(["refine", star, "--out", file] + short, out: file + "/log.txt",
                        containing: "--out \(file) is a file, not a directory")
        try assertFails(["abinit", star, "--out", file + "/sub"] + short, out: file + "/sub",
                        containing: "--out \(file)/sub (its parent \(file)) is a file, not a directory")
        // Where no directory can be made (/proc refuses even root): the system's reason, not a Foundation dump.
        try assertFails(["refine", star, "--out", "/proc/duet-test"] + short, out: "/proc/duet-test",
                        containing: "--out /proc/duet-test")
    }

    /// A map with a NaN voxel is refused by fsc, align and simulate, naming the voxel.
    func testNonFiniteMapsAreRefused() throws {
        let box = 8
        var data = [Float](repeating: 1, count: box * box * box)
        let good = directory.appendingPathComponent("good.mrc").path
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: data, pixelSize_A: 2, to: good)
        data[3 + box * (2 + box * 1)] = .nan
        let bad = directory.appendingPathComponent("bad.mrc").path
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: data, pixelSize_A: 2, to: bad)
        let out = directory.appendingPathComponent("out").path
        for arguments in [["fsc", good, bad, "--out", out], ["align", bad, good, "--out", out + ".mrc"],
                          ["simulate", bad, "--out", out, "--count", "2"]] {
            let result = try CommandRunner.duet(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr, "duet: error: \(bad): voxel (3, 2, 1) is nan\n", "\(arguments)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) must not exist")
        }
    }
}
