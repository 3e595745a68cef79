import Foundation

/// A point group of a particle, with RELION's names and axes (`relion_refine --sym NAME --print_symmetry_ops`
/// lists the same matrices): `C1`; `Cn`, an n-fold axis along z; `Dn`, `Cn` plus a 2-fold axis along x; `T`, a
/// 3-fold axis along z and a 2-fold axis along (0, √(2/3), √(1/3)); `O`, 4-fold axes along x, y and z; `I` (RELION's
/// default `I2`, Crowther's 222 setting), 2-fold axes along x, y and z and a 5-fold axis along (1, 0, φ). A map is
/// symmetric when `V(R·x) = V(x)` for every element `R`; the elements are rotation matrices, identity first.
public struct SymmetryGroup: Equatable, Sendable, CustomStringConvertible {
    /// The name as RELION writes it (`C1`, `C7`, `D3`, `T`, `O`, `I`).
    public let name: String
    /// Every element, the identity first.
    public let elements: [Rotation]

    public var order: Int { elements.count }
    public var description: String { name }

    public static let c1 = SymmetryGroup(name: "C1", elements: [.identity])

    /// The group named `name` (case-insensitive; `I2` is `I`); throws for anything else.
    public init(_ name: String) throws {
        let upper = name.uppercased()
        let generators: [Rotation]
        if let n = Self.fold(upper, prefix: "C") {
            self.init(name: "C\(n)", generators: [Self.rotation(about: [0, 0, 1], fold: n)])
            return
        } else if let n = Self.fold(upper, prefix: "D") {
            self.init(name: "D\(n)", generators: [Self.rotation(about: [0, 0, 1], fold: n),
                                                   Self.rotation(about: [1, 0, 0], fold: 2)])
            return
        }
        switch upper {
        case "T":
            generators = [Self.rotation(about: [0, 0, 1], fold: 3),
                          Self.rotation(about: [0, (2.0 / 3).squareRoot(), (1.0 / 3).squareRoot()], fold: 2)]
        case "O":
            generators = [Self.rotation(about: [0, 0, 1], fold: 4), Self.rotation(about: [1, 0, 0], fold: 4)]
        case "I", "I2":
            let phi = (1 + 5.0.squareRoot()) / 2
            generators = [Self.rotation(about: [0, 0, 1], fold: 2), Self.rotation(about: [0, 1, 0], fold: 2),
                          Self.rotation(about: [1, 0, phi], fold: 5)]
        default:
            throw DuetError("unknown symmetry '\(name)': use C1, Cn, Dn (n ≥ 1 / 2), T, O or I")
        }
        self.init(name: upper == "I2" ? "I" : upper, generators: generators)
    }

    private init(name: String, elements: [Rotation]) {
        self.name = name
        self.elements = elements
    }

    /// The closure of `generators` under multiplication, identity first, then in order of discovery.
    private init(name: String, generators: [Rotation]) {
        var elements = [Rotation.identity]
        var frontier = [Rotation.identity]
        while let next = frontier.popLast() {
            for g in generators {
                let product = g * next
                if !elements.contains(where: { $0.angularDistance_rad(to: product) < 1e-6 }) {
                    elements.append(product)
                    frontier.append(product)
                }
            }
        }
        self.init(name: name, elements: elements)
    }

    /// The rotations of `rotations` that lie in one asymmetric unit: with pose rotations `R` in RELION's convention
    /// (a slice samples the map at `Rᵀ·k`), `R` and `R·g` show a symmetric map identically, so one rotation of each
    /// orbit `{R·g}` suffices. The unit kept is the Dirichlet cell of a fixed generic rotation `Q`: `R` is kept when
    /// no `R·g` is closer to `Q`. For C1, every rotation.
    public func asymmetricUnit(of rotations: [Rotation]) -> [Rotation] {
        guard order > 1 else { return rotations }
        let q = Rotation(axisAngle: [0.213, -0.377, 0.291])
        return rotations.filter { r in
            let own = r.angularDistance_rad(to: q)
            return elements.dropFirst().allSatisfy { (r * $0).angularDistance_rad(to: q) >= own }
        }
    }

    /// Every pose rotation equivalent to `rotation` under the group, `rotation · g` for each element `g`.
    public func equivalents(of rotation: Rotation) -> [Rotation] {
        elements.map { rotation * $0 }
    }

    /// `n` of `C<n>` / `D<n>` (n ≥ 1 for C, ≥ 2 for D), nil if `name` is not of that form.
    private static func fold(_ name: String, prefix: Character) -> Int? {
        guard name.first == prefix, let n = Int(name.dropFirst()), n >= (prefix == "D" ? 2 : 1), n <= 360 else {
            return nil
        }
        return n
    }

    /// The rotation by 360°/fold about `axis` (any length).
    private static func rotation(about axis: SIMD3<Double>, fold: Int) -> Rotation {
        let unit = axis / (axis * axis).sum().squareRoot()
        return Rotation(axisAngle: unit * (2 * .pi / Double(fold)))
    }
}
