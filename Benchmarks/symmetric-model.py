#!/usr/bin/env python3
"""A symmetric atomic model for symmetry benchmarks: copies of one chain placed by a point group's operators.

  symmetric-model.py MODEL CHAIN GROUP OUT.cif [--offset X Y Z]

The chain is moved so that its centre of mass sits at --offset (Å, default 20 6 14: off every symmetry axis of
Cn/Dn), then one copy is written per operator of GROUP as RELION lists them (`relion_refine --sym GROUP
--print_symmetry_ops`), so a map computed from OUT.cif (e.g. by ../shared/bench/make_map.py, which centres the
assembly's centre of mass, on every axis) is symmetric under RELION's GROUP. Needs gemmi, numpy and relion.
"""
import argparse, re, subprocess, tempfile
import numpy as np
import gemmi


def relion_operators(group):
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(["relion_refine", "--sym", group, "--print_symmetry_ops", "--o", "ops"], cwd=d,
                             capture_output=True, text=True, check=True).stdout
    blocks = re.findall(r"R\(\d+\)=\s*\n((?:\s*[-\d.e+]+\s+[-\d.e+]+\s+[-\d.e+]+\s*\n){3})", out)
    return [np.array(b.split(), float).reshape(3, 3) for b in blocks]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model"); p.add_argument("chain"); p.add_argument("group"); p.add_argument("out")
    p.add_argument("--offset", type=float, nargs=3, default=[20.0, 6.0, 14.0])
    a = p.parse_args()
    st = gemmi.read_structure(a.model)
    st.remove_ligands_and_waters(); st.remove_hydrogens()
    for i in range(len(st) - 1, 0, -1):
        del st[i]
    chain = next(c for c in st[0] if c.name == a.chain)
    xyz = np.array([[at.pos.x, at.pos.y, at.pos.z] for res in chain for at in res])
    centre = xyz.mean(axis=0)
    out = gemmi.Structure(); out.cell = gemmi.UnitCell(); model = gemmi.Model("1")
    names = [chr(ord("A") + i % 26) + (str(i // 26) if i >= 26 else "") for i in range(200)]
    for k, op in enumerate(relion_operators(a.group)):
        copy = gemmi.Chain(names[k])
        for res in chain:
            r = gemmi.Residue(); r.name = res.name; r.seqid = res.seqid; r.entity_type = gemmi.EntityType.Polymer
            for at in res:
                x = op @ (np.array([at.pos.x, at.pos.y, at.pos.z]) - centre + np.array(a.offset))
                atom = gemmi.Atom(); atom.name = at.name; atom.element = at.element; atom.b_iso = at.b_iso
                atom.occ = at.occ; atom.pos = gemmi.Position(*x)
                r.add_atom(atom)
            copy.add_residue(r)
        model.add_chain(copy)
    out.add_model(model)
    out.setup_entities()
    out.make_mmcif_document().write_file(a.out)
    print(f"symmetric-model.py: {a.group} assembly of chain {a.chain}, {len(model)} copies, written to {a.out}")


main()
