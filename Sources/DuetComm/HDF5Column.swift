/// One column of a particle table as one rank holds it: the values of that rank's own rows. Written to HDF5 as a
/// 1-D dataset (strings as fixed-length, NUL-padded byte strings, which `h5py` reads as `bytes`).
public enum HDF5Column: Sendable {
    case double([Double])
    case float([Float])
    case int64([Int64])
    case int32([Int32])
    case string([String])

    /// Number of rows this rank holds.
    public var count: Int {
        switch self {
        case .double(let v): v.count
        case .float(let v): v.count
        case .int64(let v): v.count
        case .int32(let v): v.count
        case .string(let v): v.count
        }
    }
}
