import DuetFormats
import DuetTestSupport
import XCTest

/// `duet simulate --model`: an atomic model's potential (issue #16), checked against gemmi's independent
/// calculation (Tests/Oracles/model_potential.py), from mmCIF and PDB alike, and refused with one line when the
/// model cannot be used.
final class ModelSimulationTests: XCTestCase {
    private var directory: URL!
    private let model = CommandRunner.packageRoot.appendingPathComponent("demo/models/8zpm.cif").path

    override func setUpWithError() throws {
        directory = try CommandRunner.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func simulate(_ model: String, into name: String) throws -> String {
        let out = directory.appendingPathComponent(name).path
        let result = try CommandRunner.duet(["simulate", "--model", model, "--box", "32", "--pixel-size", "4",
                                             "--out", out, "--count", "4"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return out + "/model_map.mrc"
    }

    /// Measured: FSC against gemmi 0.9999 at every shell to Nyquist, sums in the ratio 47.878 (volts per
    /// scattering-factor unit).
    func testPotentialMatchesGemmi() throws {
        let map = try simulate(model, into: "cif")
        let check = try CommandRunner.pythonJSONObject([CommandRunner.oraclePath("model_potential.py"), model, "32", "4", map],
                                                       needs: "python3 with gemmi, numpy and mrcfile (pip install gemmi numpy mrcfile)")
        let fscMin = try XCTUnwrap(check["fsc_min"] as? Double), ratio = try XCTUnwrap(check["sum_ratio"] as? Double)
        XCTAssertGreaterThan(fscMin, 0.999, "FSC against gemmi's potential at some shell")
        XCTAssertEqual(ratio, 47.878, accuracy: 0.05, "volts per gemmi unit")
    }

    /// The same model written as PDB by gemmi gives the same map as the mmCIF.
    func testPDBAndMmCIFGiveTheSameMap() throws {
        let pdb = directory.appendingPathComponent("8zpm.pdb").path
        _ = try CommandRunner.python(["-c", "import gemmi, sys; gemmi.read_structure(sys.argv[1]).write_pdb(sys.argv[2])",
                                      model, pdb], needs: "python3 with gemmi (pip install gemmi)")
        let fromCIF = try MRCFile.readVolume(path: try simulate(model, into: "cif")).data
        let fromPDB = try MRCFile.readVolume(path: try simulate(pdb, into: "pdb")).data
        let peak = fromCIF.map(abs).max()!
        XCTAssertGreaterThan(peak, 0)
        XCTAssertLessThan(zip(fromCIF, fromPDB).map { abs($0 - $1) }.max()!, 1e-4 * peak)
    }

    func testUnusableModelsAreRefused() throws {
        let unknown = directory.appendingPathComponent("unknown.pdb").path
        try "ATOM      1  XX  UNK A   1       0.000   0.000   0.000  1.00 20.00          Xx\n"
            .write(toFile: unknown, atomically: true, encoding: .utf8)
        let empty = directory.appendingPathComponent("empty.cif").path
        try "data_x\n_entry.id x\n".write(toFile: empty, atomically: true, encoding: .utf8)
        for (path, expected) in [(unknown, "no electron scattering factors for element Xx"), (empty, "no atoms")] {
            let out = directory.appendingPathComponent("out").path
            let result = try CommandRunner.duet(["simulate", "--model", path, "--box", "32", "--pixel-size", "2",
                                                 "--out", out, "--count", "2"])
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("duet: error: ") && result.stderr.contains(expected), result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        let noBox = try CommandRunner.duet(["simulate", "--model", model, "--pixel-size", "2", "--out",
                                            directory.appendingPathComponent("nobox").path, "--count", "2"])
        XCTAssertEqual(noBox.stderr, "duet: error: --model needs --box, an even number of pixels ≥ 16\n")
    }
}
