import DuetComm
import DuetCore
import DuetTestSupport
import Foundation
import XCTest

/// The HDF5 writer with in-process ranks (rows gathered to rank 0) and as an MPI singleton, read back with h5py.
/// The multi-process MPI-IO path is tested under `mpirun` in `DuetCLITests.MPIRunTests`.
final class ParallelHDF5WriterTests: XCTestCase {
    private func summary(_ path: String) throws -> [String: Any] {
        let result = try CommandRunner.oracle("h5_summary.py", [path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
    }

    private func values(_ summary: [String: Any], _ name: String) -> [Any] {
        let datasets = summary["datasets"] as! [String: Any]
        return (datasets[name] as! [String: Any])["values"] as! [Any]
    }

    func testInProcessRanksWriteTheirRowsInRankOrder() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("table.h5").path
        _ = try LocalCommunicator.run(size: 3) { comm in
            let rows = comm.rank + 1  // 1, 2, 3 rows
            let writer = try ParallelHDF5Writer(path: path, communicator: comm)
            try writer.writeAttribute("layout", "duet-test")
            try writer.writeColumn("particles/rank", .int64([Int64](repeating: Int64(comm.rank), count: rows)))
            try writer.writeColumn("particles/defocusU_A", .float((0..<rows).map { Float(comm.rank * 100 + $0) }))
            try writer.writeColumn("particles/name", .string((0..<rows).map { "r\(comm.rank)-\($0)" + (comm.rank == 2 ? "-long" : "") }))
            try writer.writeColumn("empty", .double([]))
            try writer.writeVolume("map", nx: 2, ny: 3, nz: 4, data: comm.isRoot ? (0..<24).map(Float.init) : [], pixelSize_A: 2.5)
            try writer.close()
        }
        let s = try summary(path)
        XCTAssertEqual(s["attributes"] as? [String: String], ["layout": "duet-test"])
        XCTAssertEqual(values(s, "particles/rank") as? [Int], [0, 1, 1, 2, 2, 2])
        XCTAssertEqual(values(s, "particles/defocusU_A") as? [Double], [0, 100, 101, 200, 201, 202])
        XCTAssertEqual(values(s, "particles/name") as? [String], ["r0-0", "r1-0", "r1-1", "r2-0-long", "r2-1-long", "r2-2-long"])
        XCTAssertEqual(values(s, "empty").count, 0)
        let map = (s["datasets"] as! [String: Any])["map"] as! [String: Any]
        XCTAssertEqual(map["shape"] as? [Int], [4, 3, 2])
        XCTAssertEqual(map["values"] as? [Double], (0..<24).map(Double.init))
        XCTAssertEqual((map["attributes"] as? [String: Double])?["pixelSize_A"], 2.5)
    }

    func testSingletonMPIWriterAndNoTemporaryFileLeft() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("single.h5").path
        let writer = try ParallelHDF5Writer(path: path, communicator: try MPICommunicator.world())
        try writer.writeColumn("particles/x", .double([1.5, -2]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "file must appear only when closed")
        try writer.close()
        XCTAssertEqual(values(try summary(path), "particles/x") as? [Double], [1.5, -2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["single.h5"])
    }

    func testUnwritableDirectoryGivesOneLineError() throws {
        XCTAssertThrowsError(try ParallelHDF5Writer(path: "/nonexistent-dir/x.h5", communicator: try MPICommunicator.world())) {
            XCTAssertEqual(($0 as? DuetError)?.message, "cannot create HDF5 file /nonexistent-dir/x.h5 (directory missing or not writable)")
        }
    }
}
