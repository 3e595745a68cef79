#!/usr/bin/env python3
"""A small simulated particle stack with what real stacks add after picking, made from the repository alone.

  make-messy.py DUET OUTDIR [--n 1200 --box 64 --apix 3.0 --snr 0.1 --seed 11]

Clean images come from `DUET simulate --no-noise` (Duet's atomic potential and RELION-convention CTF) of PDB 1BD2
(demo/models/1bd2.cif.gz, about 84 kDa) at poses drawn here; then, as the benchmark kit's `messy` preset
(make_messy.py) does:
  - noise: tiles of two real electron micrographs (ci/data/micrograph-crops.mrc.gz, 768² crops of the EPU 2.9 and
    FEI examples in the mrcfile 1.5.4 sdist), each tile under one of 16 transforms (4 rotations × flip × sign), no
    tile and transform used twice, normalised to unit variance over the stack: coloured, non-Gaussian, with ice
    gradients and whatever else those micrographs hold;
  - pick offsets ~ N(0, 3 px) per axis, clipped at ±9 px;
  - per-particle contrast scale ~ lognormal(0, 0.2);
  - per-micrograph (100 particles) B-factor envelope exp(-B s²/4), B ~ U(40, 120) Å², not recorded in the STAR;
  - 25 % junk rows: 10 % empty ice (noise only), 10 % another protein (PDB 8ZPM, demo/models/8zpm.cif) at random
    poses, 5 % two copies of the particle overlapping (the second 25-40 px away).
The SNR is the mean variance of the good rows' signal over the noise variance.
Writes OUTDIR/{truth.mrc, particles.star (every row, no poses), particles.mrcs, truth.star (good rows, true poses),
junk.txt (1-based image numbers of the junk rows and their kind)}.
"""
import argparse
import gzip
import os
import shutil
import subprocess
import tempfile

import mrcfile
import numpy as np
import pandas as pd
import starfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSE_COLUMNS = ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst"]


def random_poses(rng, n):
    """Rotations uniform on SO(3) as RELION ZYZ Euler angles in degrees: rot and psi uniform, cos(tilt) uniform."""
    return rng.uniform(-180, 180, n), np.degrees(np.arccos(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)


def particle_table(rng, n, apix, box, micrograph):
    """Optics and particles blocks with random CTFs (defocus per micrograph U(1.0, 2.5) µm + N(0, 100 Å) per
    particle, astigmatism U(0, 600) Å, 300 kV, Cs 2.7 mm, amplitude contrast 0.1), no poses yet."""
    mean_defocus = rng.uniform(10000, 25000, micrograph.max() + 1)[micrograph] + rng.normal(0, 100, n)
    astigmatism = rng.uniform(0, 600, n)
    optics = {"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"], "rlnVoltage": [300.0],
              "rlnSphericalAberration": [2.7], "rlnAmplitudeContrast": [0.1], "rlnImagePixelSize": [apix],
              "rlnImageSize": [box], "rlnImageDimensionality": [2]}
    particles = {"rlnImageName": [f"{i + 1:06d}@particles.mrcs" for i in range(n)],
                 "rlnMicrographName": [f"micrograph{m:03d}.mrc" for m in micrograph],
                 "rlnDefocusU": mean_defocus + astigmatism / 2, "rlnDefocusV": mean_defocus - astigmatism / 2,
                 "rlnDefocusAngle": rng.uniform(0, 180, n), "rlnOpticsGroup": np.ones(n, dtype=int)}
    return pd.DataFrame(optics), pd.DataFrame(particles)


def simulate(duet, model, poses, optics, box, apix, work, name):
    """Noiseless CTF-modulated projections of `model` at the rows of `poses` (Duet's simulate)."""
    star = os.path.join(work, name + "_poses.star")
    starfile.write({"optics": optics, "particles": poses}, star, overwrite=True)
    out = os.path.join(work, name)
    subprocess.run([duet, "simulate", "--model", model, "--box", str(box), "--pixel-size", str(apix),
                    "--poses-from", star, "--no-noise", "--out", out], check=True, stdout=subprocess.DEVNULL)
    return mrcfile.read(os.path.join(out, "particles.mrcs")).astype(np.float64), os.path.join(out, "model_map.mrc")


def noise_tiles(n, box, rng):
    """Unit-variance noise for n images from the bundled micrograph crops, no tile and transform used twice."""
    crops = mrcfile.read(os.path.join(REPO, "ci/data/micrograph-crops.mrc.gz")).astype(np.float64)
    tiles = []
    for k, crop in enumerate(crops):
        oy, ox = rng.integers(0, box, 2)
        tiles += [(k, y, x) for y in range(oy, crop.shape[0] - box + 1, box)
                  for x in range(ox, crop.shape[1] - box + 1, box)]
    if n > 16 * len(tiles):
        raise SystemExit(f"make-messy.py: the bundled micrographs give {16 * len(tiles)} noise images, not {n}")
    order = rng.permutation(len(tiles))
    transforms = [rng.permutation(16) for _ in tiles]
    out = np.empty((n, box, box))
    for i in range(n):
        t = order[i % len(tiles)]
        k, y, x = tiles[t]
        transform = transforms[t][i // len(tiles)]
        tile = np.rot90(crops[k][y:y + box, x:x + box], transform % 4)
        if (transform // 4) % 2:
            tile = tile[:, ::-1]
        tile = tile - tile.mean()
        out[i] = -tile if transform // 8 else tile
    return out / out.std()


def shifted(image, dx, dy):
    f = np.fft.fftfreq(image.shape[0])
    phase = np.exp(-2j * np.pi * (f[None, :] * dx + f[:, None] * dy))
    return np.fft.ifft2(np.fft.fft2(image) * phase).real


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("duet")
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=1200)
    parser.add_argument("--box", type=int, default=64)
    parser.add_argument("--apix", type=float, default=3.0)
    parser.add_argument("--snr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=11)
    a = parser.parse_args()
    n, box, apix = a.n, a.box, a.apix
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    work = tempfile.mkdtemp()
    try:
        model = os.path.join(work, "1bd2.cif")
        with gzip.open(os.path.join(REPO, "demo/models/1bd2.cif.gz"), "rb") as i, open(model, "wb") as o:
            shutil.copyfileobj(i, o)
        micrograph = np.arange(n) // 100
        optics, parts = particle_table(rng, n, apix, box, micrograph)
        parts["rlnAngleRot"], parts["rlnAngleTilt"], parts["rlnAnglePsi"] = random_poses(rng, n)
        parts["rlnOriginXAngst"] = np.clip(rng.normal(0, 3, n), -9, 9) * apix
        parts["rlnOriginYAngst"] = np.clip(rng.normal(0, 3, n), -9, 9) * apix
        signal, truth_map = simulate(a.duet, model, parts, optics, box, apix, work, "good")
        shutil.copyfile(truth_map, os.path.join(out, "truth.mrc"))

        kind = np.array(["good"] * n, dtype=object)
        order = rng.permutation(n)
        kind[order[:n // 10]] = "empty"
        kind[order[n // 10:n // 5]] = "other-protein"
        kind[order[n // 5:n // 4]] = "overlap"
        other_poses = parts.copy()
        other_poses["rlnAngleRot"], other_poses["rlnAngleTilt"], other_poses["rlnAnglePsi"] = random_poses(rng, n)
        other, _ = simulate(a.duet, os.path.join(REPO, "demo/models/8zpm.cif"), other_poses, optics, box, apix, work,
                            "other")
        second_poses = other_poses.copy()
        second_poses["rlnOriginXAngst"], second_poses["rlnOriginYAngst"] = 0.0, 0.0
        second, _ = simulate(a.duet, model, second_poses, optics, box, apix, work, "second")

        b_factor = rng.uniform(40, 120, micrograph.max() + 1)
        f = np.fft.fftfreq(box) / apix
        s2 = f[None, :] ** 2 + f[:, None] ** 2
        scale = rng.lognormal(0, 0.2, n)
        images = np.empty_like(signal)
        for i in range(n):
            if kind[i] == "empty":
                image = np.zeros((box, box))
            elif kind[i] == "other-protein":
                image = other[i]
            elif kind[i] == "overlap":
                r, angle = rng.uniform(25, 40), rng.uniform(0, 2 * np.pi)
                image = signal[i] + shifted(second[i], r * np.cos(angle), r * np.sin(angle))
            else:
                image = signal[i]
            envelope = np.exp(-b_factor[micrograph[i]] * s2 / 4)
            images[i] = np.fft.ifft2(np.fft.fft2(image) * envelope).real * scale[i]
        good = kind == "good"
        signal_variance = images[good].var(axis=(1, 2)).mean()
        images = images / np.sqrt(signal_variance / a.snr) + noise_tiles(n, box, rng)
        with mrcfile.new(os.path.join(out, "particles.mrcs"), overwrite=True) as m:
            m.set_data(images.astype(np.float32))
            m.voxel_size = apix
        starfile.write({"optics": optics, "particles": parts[good]}, os.path.join(out, "truth.star"), overwrite=True)
        starfile.write({"optics": optics, "particles": parts.drop(columns=POSE_COLUMNS)},
                       os.path.join(out, "particles.star"), overwrite=True)
        with open(os.path.join(out, "junk.txt"), "w") as junk:
            junk.writelines(f"{i + 1} {kind[i]}\n" for i in np.flatnonzero(~good))
        print(f"make-messy.py: wrote {out} ({n} particles, {int(good.sum())} good, box {box}, {apix} Å/px, "
              f"SNR {a.snr})")
    finally:
        shutil.rmtree(work)


main()
