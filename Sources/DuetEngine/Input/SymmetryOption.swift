import DuetCore

extension SymmetryGroup {
    /// The group a `--symmetry` option names; an unknown name is one error line that names the option.
    init(option name: String) throws {
        do { self = try SymmetryGroup(name) } catch { throw DuetError("--symmetry: \(error)") }
    }
}
