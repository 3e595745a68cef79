#!/usr/bin/env python3
"""Test oracle: an atomic model's electrostatic potential computed by gemmi (independent of Duet).

  model_potential.py MODEL BOX PIXEL_A MAP
      gemmi's DensityCalculatorE (Peng 1996 electron scattering factors, as International Tables C 4.3.2.2) puts
      the model, centred on its mean atom position at voxel BOX/2, on a grid 3x finer than BOX at PIXEL_A / 3
      (so its real-space Gaussians do not alias), which is then Fourier-cropped to BOX^3 at PIXEL_A. Prints JSON:
      the lowest FSC between that and MAP (Duet's) up to 0.5 and 0.8 Nyquist and at any shell, and the ratio of
      the maps' sums (gemmi's map is in scattering-factor units, Duet's in volts: expected h^2/(2 pi m0 e) = 47.878).
      Exit status 3 when gemmi, numpy or mrcfile is missing.
"""
import json
import sys

try:
    import gemmi
    import mrcfile
    import numpy as np
    from half_map_fsc import fsc
except ImportError as error:
    print(error, file=sys.stderr)
    sys.exit(3)


def gemmi_potential(path, n, pixel, oversampling=3):
    structure = gemmi.read_structure(path)
    model = structure[0]
    atoms = [atom for chain in model for residue in chain for atom in residue]
    centre = np.mean([atom.pos.tolist() for atom in atoms], axis=0)
    shift = n // 2 * pixel - centre
    for atom in atoms:
        atom.pos = gemmi.Position(*(np.array(atom.pos.tolist()) + shift))
    structure.cell = gemmi.UnitCell(n * pixel, n * pixel, n * pixel, 90, 90, 90)
    calculator = gemmi.DensityCalculatorE()
    calculator.d_min = 2 * pixel
    calculator.rate = oversampling
    calculator.blur = 0
    calculator.cutoff = 1e-7
    calculator.set_grid_cell_and_spacegroup(structure)
    calculator.put_model_density_on_grid(model)
    fine = np.array(calculator.grid, copy=False).astype(np.float64)
    m = fine.shape[0]
    spectrum = np.fft.fftshift(np.fft.fftn(fine))
    start = m // 2 - n // 2
    spectrum = spectrum[start:start + n, start:start + n, start:start + n]
    coarse = np.real(np.fft.ifftn(np.fft.ifftshift(spectrum))) * (n / m) ** 3
    return np.transpose(coarse, (2, 1, 0))   # gemmi's grid is [x][y][z]; mrcfile's arrays are [z][y][x]


if __name__ == "__main__":
    model_path, n, pixel, map_path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    duet = mrcfile.read(map_path).astype(np.float64)
    reference = gemmi_potential(model_path, n, pixel)
    curve = fsc(duet, reference)
    shells = len(curve)
    print(json.dumps({
        "fsc_min_half_nyquist": float(curve[:shells // 2].min()),
        "fsc_min_08_nyquist": float(curve[:int(0.8 * shells)].min()),
        "fsc_min": float(curve.min()),
        "sum_ratio": float(duet.sum() / reference.sum()),
    }))
