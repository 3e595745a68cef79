import DuetCore
import Foundation

/// An atomic model's atoms, read from a PDB file (`ATOM`/`HETATM` records) or an mmCIF file (the `_atom_site`
/// loop): element symbol (capitalised, "C", "Fe"), position in Å in the model's own frame, isotropic B-factor in
/// Å² and occupancy. Only the first model of a multi-model file is read; hydrogens are kept when present.
public struct AtomicModel: Sendable {
    public struct Atom: Sendable, Equatable {
        public var element: String
        public var position_A: SIMD3<Double>
        public var bFactor_A2: Double
        public var occupancy: Double

        public init(element: String, position_A: SIMD3<Double>, bFactor_A2: Double, occupancy: Double) {
            self.element = element
            self.position_A = position_A
            self.bFactor_A2 = bFactor_A2
            self.occupancy = occupancy
        }
    }

    public var atoms: [Atom]

    /// Reads `path`: mmCIF for `.cif`/`.mmcif`, PDB otherwise. Throws a one-line error naming the file and line.
    public static func read(_ path: String) throws -> AtomicModel {
        guard let data = FileManager.default.contents(atPath: path) else { throw DuetError("\(path): no such file") }
        let text = String(decoding: data, as: UTF8.self)
        let lower = path.lowercased()
        let model = lower.hasSuffix(".cif") || lower.hasSuffix(".mmcif")
            ? try mmCIF(text, path: path) : try pdb(text, path: path)
        guard !model.atoms.isEmpty else { throw DuetError("\(path): no atoms (no ATOM/HETATM records or _atom_site loop)") }
        return model
    }

    /// PDB fixed columns: x 31–38, y 39–46, z 47–54, occupancy 55–60, B 61–66, element 77–78 (from the atom name,
    /// columns 13–14, when the element columns are blank).
    static func pdb(_ text: String, path: String) throws -> AtomicModel {
        var atoms: [Atom] = []
        for (lineIndex, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let characters = Array(line.utf8)
            if line.hasPrefix("ENDMDL") { break }
            guard line.hasPrefix("ATOM  ") || line.hasPrefix("HETATM") else { continue }
            func field(_ from: Int, _ to: Int) -> String {   // 1-based, inclusive, as the PDB format defines them
                guard from - 1 < characters.count else { return "" }
                return String(decoding: characters[(from - 1)..<min(to, characters.count)], as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces)
            }
            func number(_ from: Int, _ to: Int, _ name: String, default value: Double? = nil) throws -> Double {
                let text = field(from, to)
                if text.isEmpty, let value { return value }
                guard let parsed = Double(text), parsed.isFinite else {
                    throw DuetError("\(path): line \(lineIndex + 1): \(name) '\(text)' is not a number")
                }
                return parsed
            }
            let position = SIMD3(try number(31, 38, "x"), try number(39, 46, "y"), try number(47, 54, "z"))
            var element = field(77, 78)
            if element.isEmpty { element = String(field(13, 14).filter(\.isLetter)) }
            atoms.append(Atom(element: try symbol(element, path: path, line: lineIndex + 1), position_A: position,
                              bFactor_A2: try number(61, 66, "B-factor", default: 0),
                              occupancy: try number(55, 60, "occupancy", default: 1)))
        }
        return AtomicModel(atoms: atoms)
    }

    /// The mmCIF `_atom_site` loop: `type_symbol`, `Cartn_x/y/z`, `B_iso_or_equiv` and `occupancy` (both optional),
    /// first `pdbx_PDB_model_num` only. Values are whitespace-separated, quoted with ' or " when they hold spaces.
    static func mmCIF(_ text: String, path: String) throws -> AtomicModel {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var i = 0
        while i < lines.count {
            guard lines[i].trimmingCharacters(in: .whitespaces) == "loop_",
                  i + 1 < lines.count, lines[i + 1].hasPrefix("_atom_site.") else { i += 1; continue }
            var columns: [String] = []
            i += 1
            while i < lines.count, lines[i].hasPrefix("_atom_site.") {
                columns.append(String(lines[i].dropFirst("_atom_site.".count)).trimmingCharacters(in: .whitespaces))
                i += 1
            }
            func column(_ name: String) -> Int? { columns.firstIndex(of: name) }
            guard let x = column("Cartn_x"), let y = column("Cartn_y"), let z = column("Cartn_z"),
                  let type = column("type_symbol") else {
                throw DuetError("\(path): the _atom_site loop lacks Cartn_x, Cartn_y, Cartn_z or type_symbol")
            }
            let b = column("B_iso_or_equiv"), occupancy = column("occupancy"), model = column("pdbx_PDB_model_num")
            var atoms: [Atom] = [], firstModel: String?
            while i < lines.count {
                let line = lines[i]
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("_") || trimmed == "loop_" || trimmed.hasPrefix("data_") || trimmed.hasPrefix("#") { break }
                i += 1
                if trimmed.isEmpty { continue }
                let values = tokens(line)
                guard values.count == columns.count else {
                    throw DuetError("\(path): line \(i): \(values.count) values for \(columns.count) _atom_site columns")
                }
                if let model {
                    if firstModel == nil { firstModel = values[model] }
                    if values[model] != firstModel { continue }
                }
                func number(_ index: Int?, _ name: String, default value: Double) throws -> Double {
                    guard let index, values[index] != "?", values[index] != "." else { return value }
                    guard let parsed = Double(values[index]), parsed.isFinite else {
                        throw DuetError("\(path): line \(i): \(name) '\(values[index])' is not a number")
                    }
                    return parsed
                }
                let position = SIMD3(try number(x, "Cartn_x", default: .nan), try number(y, "Cartn_y", default: .nan),
                                     try number(z, "Cartn_z", default: .nan))
                guard position.x.isFinite && position.y.isFinite && position.z.isFinite else {
                    throw DuetError("\(path): line \(i): an atom without coordinates")
                }
                atoms.append(Atom(element: try symbol(values[type], path: path, line: i), position_A: position,
                                  bFactor_A2: try number(b, "B_iso_or_equiv", default: 0),
                                  occupancy: try number(occupancy, "occupancy", default: 1)))
            }
            return AtomicModel(atoms: atoms)
        }
        return AtomicModel(atoms: [])
    }

    /// Whitespace-separated CIF values; a value may be quoted with ' or " (the quote ends before whitespace).
    static func tokens(_ line: Substring) -> [String] {
        var result: [String] = []
        var characters = line[...]
        while let start = characters.firstIndex(where: { !$0.isWhitespace }) {
            characters = characters[start...]
            if let quote = characters.first, quote == "'" || quote == "\"" {
                var end = characters.index(after: characters.startIndex)
                while end < characters.endIndex {
                    let next = characters.index(after: end)
                    if characters[end] == quote && (next == characters.endIndex || characters[next].isWhitespace) { break }
                    end = next
                }
                result.append(String(characters[characters.index(after: characters.startIndex)..<end]))
                characters = end < characters.endIndex ? characters[characters.index(after: end)...] : characters[end...]
            } else {
                let end = characters.firstIndex(where: \.isWhitespace) ?? characters.endIndex
                result.append(String(characters[..<end]))
                characters = characters[end...]
            }
        }
        return result
    }

    /// "FE" / "fe" → "Fe"; an empty or non-alphabetic symbol is an error.
    private static func symbol(_ text: String, path: String, line: Int) throws -> String {
        guard !text.isEmpty, text.count <= 2, text.allSatisfy(\.isLetter) else {
            throw DuetError("\(path): line \(line): element '\(text)' is not an element symbol")
        }
        return text.prefix(1).uppercased() + text.dropFirst().lowercased()
    }
}
