import DuetFormats
import DuetTestSupport
import XCTest

/// Image paths found and written the way RELION and CryoSPARC do (issue #15): a RELION project's STAR files name
/// stacks relative to the project directory (`Extract/job007/particles.mrcs`), where RELION runs; a CryoSPARC
/// `.cs` names them relative to the project folder above its job folder. Duet looks in the working directory
/// first, then beside the file (then, for `.cs`, one folder up), and writes paths that RELION, run from the same
/// project, resolves: as the input had them for an output inside the project, absolute outside it.
final class ImagePathTests: XCTestCase {
    private var directory: URL!
    private var project: URL!

    /// 300 simulated particles of a blob map with their true poses, laid out as a RELION project's extraction
    /// job: `project/Extract/job007/particles.star` naming `Extract/job007/particles.mrcs`.
    override func setUpWithError() throws {
        directory = try CommandRunner.temporaryDirectory()
        let box = 32
        let map = directory.appendingPathComponent("blobs.mrc").path
        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: TestVolumes.asymmetricBlobs(box: box),
                                  pixelSize_A: 4, to: map)
        let simulated = try CommandRunner.duet(["simulate", map, "--out", directory.appendingPathComponent("sim").path,
                                                "--count", "300", "--snr", "1", "--seed", "3"])
        XCTAssertEqual(simulated.status, 0, simulated.stderr)
        project = directory.appendingPathComponent("project")
        let job = project.appendingPathComponent("Extract/job007")
        try FileManager.default.createDirectory(at: job, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: directory.appendingPathComponent("sim/particles.mrcs"),
                                         to: job.appendingPathComponent("particles.mrcs"))
        let truth = try String(contentsOf: directory.appendingPathComponent("sim/truth.star"), encoding: .utf8)
        XCTAssertTrue(truth.contains("@particles.mrcs"))
        try truth.replacingOccurrences(of: "@particles.mrcs", with: "@Extract/job007/particles.mrcs")
            .write(to: job.appendingPathComponent("particles.star"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func imageNames(_ star: URL) throws -> [String] {
        try String(contentsOf: star, encoding: .utf8).split(separator: "\n")
            .compactMap { line in line.split(separator: " ").first { $0.contains("@") }.map(String.init) }
    }

    /// Run from the project, `duet reconstruct` finds the images, writes the project's paths unchanged, and
    /// `relion_reconstruct --subset 1 --ctf` run from the project on Duet's output reproduces half map A.
    func testRelionProjectPathsRoundTripThroughRelionReconstruct() throws {
        let run = try CommandRunner.duet(["reconstruct", "Extract/job007/particles.star", "--out", "Reconstruct/job010"],
                                         in: project)
        XCTAssertEqual(run.status, 0, run.stderr)
        let names = try imageNames(project.appendingPathComponent("Reconstruct/job010/particles.star"))
        XCTAssertEqual(names.count, 300)
        XCTAssertTrue(names.allSatisfy { $0.hasSuffix("@Extract/job007/particles.mrcs") }, "\(names.prefix(3))")

        let relion = try CommandRunner.run("/usr/bin/relion_reconstruct",
                                           ["--i", "Reconstruct/job010/particles.star", "--o", "Reconstruct/relion_half1.mrc",
                                            "--ctf", "--subset", "1"], in: project)
        XCTAssertEqual(relion.status, 0, "relion_reconstruct (ci/install-deps.sh installs it): \(relion.stderr)")
        let script = """
            import sys, mrcfile
            sys.path.insert(0, sys.argv[1])
            from half_map_fsc import fsc
            curve = fsc(mrcfile.read(sys.argv[2]), mrcfile.read(sys.argv[3]))
            print(curve[:int(0.8 * len(curve))].min())
            """
        let output = try CommandRunner.pythonOutput(
            ["-c", script, CommandRunner.oraclePath(""), "Reconstruct/job010/half_A.mrc", "Reconstruct/relion_half1.mrc"],
            needs: "python3 with numpy and mrcfile (pip install numpy mrcfile)", in: project)
        let lowest = Double(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        XCTAssertGreaterThanOrEqual(lowest, 0.99, "FSC of half A against relion_reconstruct up to 0.8 Nyquist")
    }

    /// An output outside the project gets absolute paths, which resolve from anywhere; read from outside the
    /// project, the project's own file names stacks that cannot be found, and says so.
    func testOutputOutsideTheProjectHasAbsolutePaths() throws {
        let outside = directory.appendingPathComponent("outside")
        let run = try CommandRunner.duet(["reconstruct", "Extract/job007/particles.star", "--out", outside.path],
                                         in: project)
        XCTAssertEqual(run.status, 0, run.stderr)
        let stack = project.appendingPathComponent("Extract/job007/particles.mrcs").standardizedFileURL.path
        let names = try imageNames(outside.appendingPathComponent("particles.star"))
        XCTAssertTrue(names.allSatisfy { $0.hasSuffix("@" + stack) }, "\(names.prefix(3))")
        let info = try CommandRunner.duet(["info", outside.appendingPathComponent("particles.star").path])
        XCTAssertTrue(info.stdout.contains("image stacks          1 file(s)\n"), info.stdout)

        let elsewhere = try CommandRunner.duet(["info", "project/Extract/job007/particles.star"], in: directory)
        XCTAssertTrue(elsewhere.stdout.contains("1 not found"), elsewhere.stdout)
    }

    /// A `.cs` in a job folder of a CryoSPARC-style project, naming stacks relative to the project folder, is read
    /// from any working directory.
    func testCryosparcPathsResolveFromTheProjectFolder() throws {
        try FileManager.default.createDirectory(at: project.appendingPathComponent("J2"), withIntermediateDirectories: true)
        let convert = try CommandRunner.duet(["convert", "Extract/job007/particles.star", "J2/particles.cs"], in: project)
        XCTAssertEqual(convert.status, 0, convert.stderr)
        let info = try CommandRunner.duet(["info", "project/J2/particles.cs"], in: directory)
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("image stacks          1 file(s)\n"), info.stdout)
        let back = try CommandRunner.duet(["convert", "project/J2/particles.cs", "back.star"], in: directory)
        XCTAssertEqual(back.status, 0, back.stderr)
        let stack = project.appendingPathComponent("Extract/job007/particles.mrcs").standardizedFileURL.path
        XCTAssertTrue(try imageNames(directory.appendingPathComponent("back.star")).allSatisfy { $0.hasSuffix("@" + stack) })
    }

    /// A relative stack name that exists both in the working directory and beside the particle file, as two
    /// different files, is refused rather than guessed; run beside the file, it is read.
    func testAmbiguousStackNamesAreRefused() throws {
        let stack = project.appendingPathComponent("Extract/job007/particles.mrcs")
        try FileManager.default.copyItem(at: stack, to: directory.appendingPathComponent("sim/particles.mrcs"))
        try FileManager.default.copyItem(at: stack, to: directory.appendingPathComponent("particles.mrcs"))
        let ambiguous = try CommandRunner.duet(["info", "sim/particles.star"], in: directory)
        XCTAssertEqual(ambiguous.status, 1)
        XCTAssertTrue(ambiguous.stderr.hasPrefix("duet: error: sim/particles.star: image stack particles.mrcs exists both as "),
                      ambiguous.stderr)
        let beside = try CommandRunner.duet(["info", "particles.star"], in: directory.appendingPathComponent("sim"))
        XCTAssertEqual(beside.status, 0, beside.stderr)
    }
}
