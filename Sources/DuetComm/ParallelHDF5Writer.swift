import CHDF5
import CMPI
import DuetCore
import DuetShim
import Foundation

/// One HDF5 file written by all ranks of a communicator together. Particle tables are 1-D datasets (one per
/// column, e.g. `particles/defocusU_A`) where each rank writes its own rows, collectively through MPI-IO when the
/// communicator is a real MPI one; volumes are `[nz][ny][nx]` float32 datasets (the `mrcfile` index order) whose
/// data comes from rank 0. With an in-process communicator the rows are gathered and rank 0 writes them.
///
/// Every method is **collective**: all ranks call it in the same order with the same names. The file is written
/// under a temporary name and renamed to `path` by `close()`, so a failed run leaves no half-written file.
public final class ParallelHDF5Writer {
    public let path: String
    private let communicator: Communicator
    private let temporaryPath: String
    /// True when every rank opens the file through MPI-IO; otherwise only rank 0 opens it.
    private let parallel: Bool
    private var file: hid_t = -1
    private var createdGroups: Set<String> = []

    /// Creates the file (collective).
    public init(path: String, communicator: Communicator) throws {
        self.path = path
        self.communicator = communicator
        let mpi = communicator.mpi
        parallel = mpi != nil && communicator.size > 1
        let url = URL(fileURLWithPath: path)
        let proposedTemporary = url.deletingLastPathComponent().path + "/." + url.lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        temporaryPath = try communicator.broadcast(proposedTemporary, root: 0)

        var status: Int64 = 0
        if parallel || communicator.isRoot {
            // Only ranks that touch the file call HDF5: the library is not thread-safe for in-process ranks.
            H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
            let fapl = H5Pcreate(duet_h5p_file_access())
            if parallel, let mpi { H5Pset_fapl_mpio(fapl, mpi.handle, duet_mpi_info_null()) }
            file = H5Fcreate(temporaryPath, duet_h5f_acc_trunc(), duet_h5p_default(), fapl)
            H5Pclose(fapl)
            status = file < 0 ? 1 : 0
        }
        if try communicator.allreduceSum(status) != 0 {
            if file >= 0 { H5Fclose(file) }
            throw DuetError("cannot create HDF5 file \(path) (directory missing or not writable)")
        }
    }

    deinit {
        if file >= 0 {
            H5Fclose(file)
            if parallel ? communicator.isRoot : true { unlink(temporaryPath) }
        }
    }

    /// Writes one column of a table: every rank passes its own rows; rows are stored in rank order (collective).
    /// `name` may contain `/` to place the dataset in a group, e.g. `particles/defocusU_A`.
    public func writeColumn(_ name: String, _ column: HDF5Column) throws {
        if parallel {
            try writeColumnCollectively(name, column)
        } else {
            let gathered = try communicator.gather(encode(column), root: 0)
            if let gathered {
                let whole = try decodeConcatenated(gathered, like: column)
                try writeDataset(name, rows: whole.count, offset: 0, column: whole, total: whole.count)
            }
            try communicator.barrier()
        }
    }

    /// Writes a float32 volume `[nz][ny][nx]` from rank 0's `data` (x fastest), with its pixel size as the
    /// attribute `pixelSize_A` (collective; other ranks' `data` is ignored).
    public func writeVolume(_ name: String, nx: Int, ny: Int, nz: Int, data: [Float], pixelSize_A: Double) throws {
        var status: Int64 = 0
        if parallel || communicator.isRoot {
            do {
                let parent = try openParentGroup(of: name)
                defer { closeGroup(parent) }
                var dims: [hsize_t] = [hsize_t(nz), hsize_t(ny), hsize_t(nx)]
                let space = H5Screate_simple(3, &dims, nil)
                defer { H5Sclose(space) }
                let dataset = H5Dcreate2(parent, leafName(name), duet_h5t_native_float(), space,
                                         duet_h5p_default(), duet_h5p_default(), duet_h5p_default())
                guard dataset >= 0 else { throw DuetError("cannot create dataset \(name) in \(path)") }
                defer { H5Dclose(dataset) }
                if communicator.isRoot && data.count != nx * ny * nz {
                    throw DuetError("volume \(name) has \(data.count) values, expected \(nx * ny * nz)")
                }
                let transfer = try transferList()
                defer { H5Pclose(transfer) }
                if communicator.isRoot {
                    try check(H5Dwrite(dataset, duet_h5t_native_float(), duet_h5s_all(), duet_h5s_all(), transfer, data),
                              "write \(name)")
                } else {
                    // Non-root ranks join the collective write with an empty selection.
                    H5Sselect_none(space)
                    let memory = H5Screate_simple(3, &dims, nil)
                    defer { H5Sclose(memory) }
                    H5Sselect_none(memory)
                    let empty: [Float] = [0]
                    try check(H5Dwrite(dataset, duet_h5t_native_float(), memory, space, transfer, empty), "write \(name)")
                }
                try writeAttribute("pixelSize_A", pixelSize_A, on: dataset)
            } catch {
                status = 1
                if !parallel { throw error }
            }
        }
        if try communicator.allreduceSum(status) != 0 { throw DuetError("writing volume \(name) to \(path) failed") }
    }

    /// Sets a string attribute on the file's root group (collective; every rank passes the same value).
    public func writeAttribute(_ name: String, _ value: String) throws {
        guard parallel || communicator.isRoot else { return try communicator.barrier() }
        let type = H5Tcopy(duet_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, max(1, value.utf8.count))
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(file, name, type, space, duet_h5p_default(), duet_h5p_default())
        guard attribute >= 0 else { throw DuetError("cannot create attribute \(name) in \(path)") }
        defer { H5Aclose(attribute) }
        var bytes = Array(value.utf8)
        if bytes.isEmpty { bytes = [0] }
        try check(H5Awrite(attribute, type, bytes), "write attribute \(name)")
        if !parallel { try communicator.barrier() }
    }

    /// Closes the file and renames it into place (collective).
    public func close() throws {
        var status: Int64 = 0
        if file >= 0 {
            if H5Fclose(file) < 0 { status = 1 }
            file = -1
        }
        guard try communicator.allreduceSum(status) == 0 else {
            if communicator.isRoot { unlink(temporaryPath) }
            throw DuetError("closing HDF5 file \(path) failed")
        }
        var renameStatus: Int64 = 0
        if communicator.isRoot && rename(temporaryPath, path) != 0 {
            renameStatus = 1
            unlink(temporaryPath)
        }
        if try communicator.allreduceSum(renameStatus) != 0 {
            throw DuetError("cannot move HDF5 file into place at \(path)")
        }
    }

    // MARK: - Collective MPI-IO path

    private func writeColumnCollectively(_ name: String, _ column: HDF5Column) throws {
        // Row counts of every rank give each rank its offset (exclusive prefix sum).
        var counts = [Int64](repeating: 0, count: communicator.size)
        counts[communicator.rank] = Int64(column.count)
        try communicator.allreduceSum(&counts)
        let offset = Int(counts[..<communicator.rank].reduce(0, +))
        let total = Int(counts.reduce(0, +))
        if case .string(let values) = column {
            // Every rank must create the dataset with the same string length: the longest of all ranks.
            var lengths = [Int64](repeating: 0, count: communicator.size)
            lengths[communicator.rank] = Int64(values.map(\.utf8.count).max() ?? 0)
            try communicator.allreduceSum(&lengths)
            stringLength = Int(lengths.max() ?? 1)
        }
        var status: Int64 = 0
        do {
            try writeDataset(name, rows: column.count, offset: offset, column: column, total: total)
        } catch {
            status = 1
        }
        stringLength = nil
        if try communicator.allreduceSum(status) != 0 { throw DuetError("writing column \(name) to \(path) failed") }
    }

    /// Fixed string length agreed by all ranks for the column being written (nil: use this rank's longest).
    private var stringLength: Int?

    // MARK: - Dataset writing shared by both paths

    private func writeDataset(_ name: String, rows: Int, offset: Int, column: HDF5Column, total: Int) throws {
        let parent = try openParentGroup(of: name)
        defer { closeGroup(parent) }
        var totalDims: [hsize_t] = [hsize_t(total)]
        let fileSpace = H5Screate_simple(1, &totalDims, nil)
        defer { H5Sclose(fileSpace) }
        var localDims: [hsize_t] = [hsize_t(rows)]
        let memorySpace = H5Screate_simple(1, &localDims, nil)
        defer { H5Sclose(memorySpace) }
        if rows > 0 {
            var start: [hsize_t] = [hsize_t(offset)]
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &localDims, nil)
        } else {
            H5Sselect_none(fileSpace)
            H5Sselect_none(memorySpace)
        }
        let (type, ownsType) = try dataType(of: column)
        defer { if ownsType { H5Tclose(type) } }
        let dataset = H5Dcreate2(parent, leafName(name), type, fileSpace,
                                 duet_h5p_default(), duet_h5p_default(), duet_h5p_default())
        guard dataset >= 0 else { throw DuetError("cannot create dataset \(name) in \(path)") }
        defer { H5Dclose(dataset) }
        let transfer = try transferList()
        defer { H5Pclose(transfer) }
        let code: herr_t
        switch column {
        case .double(let v): code = H5Dwrite(dataset, type, memorySpace, fileSpace, transfer, v.isEmpty ? [0] : v)
        case .float(let v): code = H5Dwrite(dataset, type, memorySpace, fileSpace, transfer, v.isEmpty ? [0] : v)
        case .int64(let v): code = H5Dwrite(dataset, type, memorySpace, fileSpace, transfer, v.isEmpty ? [0] : v)
        case .int32(let v): code = H5Dwrite(dataset, type, memorySpace, fileSpace, transfer, v.isEmpty ? [0] : v)
        case .string(let v):
            let width = H5Tget_size(type)
            var bytes = [UInt8](repeating: 0, count: max(1, v.count * width))
            for (row, text) in v.enumerated() {
                for (i, byte) in text.utf8.enumerated() { bytes[row * width + i] = byte }
            }
            code = H5Dwrite(dataset, type, memorySpace, fileSpace, transfer, bytes)
        }
        try check(code, "write \(name)")
    }

    private func dataType(of column: HDF5Column) throws -> (hid_t, Bool) {
        switch column {
        case .double: return (duet_h5t_native_double(), false)
        case .float: return (duet_h5t_native_float(), false)
        case .int64: return (duet_h5t_native_int64(), false)
        case .int32: return (duet_h5t_native_int32(), false)
        case .string(let v):
            let type = H5Tcopy(duet_h5t_c_s1())
            H5Tset_size(type, max(1, stringLength ?? v.map(\.utf8.count).max() ?? 1))
            H5Tset_strpad(type, H5T_STR_NULLPAD)
            return (type, true)
        }
    }

    private func transferList() throws -> hid_t {
        let transfer = H5Pcreate(duet_h5p_dataset_xfer())
        guard transfer >= 0 else { throw DuetError("HDF5 property list creation failed") }
        if parallel { H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE) }
        return transfer
    }

    private func writeAttribute(_ name: String, _ value: Double, on object: hid_t) throws {
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, duet_h5t_native_double(), space, duet_h5p_default(), duet_h5p_default())
        guard attribute >= 0 else { throw DuetError("cannot create attribute \(name) in \(path)") }
        defer { H5Aclose(attribute) }
        var copy = value
        try check(H5Awrite(attribute, duet_h5t_native_double(), &copy), "write attribute \(name)")
    }

    /// Creates the groups on the way to `name` (once each) and opens the innermost one (the file itself for a
    /// top-level name); release it with `closeGroup`.
    private func openParentGroup(of name: String) throws -> hid_t {
        let parts = name.split(separator: "/").map(String.init)
        var current = file
        var prefix = ""
        for part in parts.dropLast() {
            prefix += "/" + part
            let group: hid_t
            if createdGroups.contains(prefix) {
                group = H5Gopen2(file, prefix, duet_h5p_default())
            } else {
                group = H5Gcreate2(file, prefix, duet_h5p_default(), duet_h5p_default(), duet_h5p_default())
                createdGroups.insert(prefix)
            }
            guard group >= 0 else { throw DuetError("cannot create group \(prefix) in \(path)") }
            if current != file { H5Gclose(current) }
            current = group
        }
        return current
    }

    private func closeGroup(_ group: hid_t) {
        if group != file { H5Gclose(group) }
    }

    private func leafName(_ name: String) -> String {
        String(name.split(separator: "/").last ?? Substring(name))
    }

    private func check(_ code: herr_t, _ operation: String) throws {
        if code < 0 { throw DuetError("HDF5: cannot \(operation) in \(path)") }
    }

    // MARK: - Gather path for in-process communicators

    private func encode(_ column: HDF5Column) -> [UInt8] {
        switch column {
        case .double(let v): return v.withUnsafeBytes { Array($0) }
        case .float(let v): return v.withUnsafeBytes { Array($0) }
        case .int64(let v): return v.withUnsafeBytes { Array($0) }
        case .int32(let v): return v.withUnsafeBytes { Array($0) }
        case .string(let v): return Array(v.joined(separator: "\u{0}").utf8) + (v.isEmpty ? [] : [0])
        }
    }

    private func decodeConcatenated(_ parts: [[UInt8]], like column: HDF5Column) throws -> HDF5Column {
        let bytes = parts.flatMap { $0 }
        func values<T>(_: T.Type) -> [T] {
            bytes.withUnsafeBytes { raw in Array(raw.bindMemory(to: T.self)) }
        }
        switch column {
        case .double: return .double(values(Double.self))
        case .float: return .float(values(Float.self))
        case .int64: return .int64(values(Int64.self))
        case .int32: return .int32(values(Int32.self))
        case .string:
            return .string(parts.flatMap { part in
                part.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
                    String(decoding: $0, as: UTF8.self)
                }
            })
        }
    }
}
