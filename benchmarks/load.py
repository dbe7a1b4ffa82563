"""Text parsing vs cached loading, on a 1000-frame NTU file and the PKU-MMD recording; and
``skeletonllm convert`` throughput with 1 worker vs N workers.

The NTU file is built from the real A001 sample by repeating its frame blocks (with the
frame count in the header set to 1000), so it is a valid ``.skeleton`` file. The PKU-MMD
file is the real 1261-frame recording (7 labelled clips). For each, the median wall time
of several runs of (a) parsing the text with the format's reader and (b) reading the
``.npz`` cache that :class:`~skeletonllm.skeleton.dataset.SkeletonDataset` writes.

Conversion: a folder of ``--convert-files`` NTU ``.skeleton`` files (copies of the two real
samples under distinct names) is converted to a PYSKL pickle from scratch, once with one
worker and once with ``--workers`` processes; files per second and their ratio are printed.

    python benchmarks/load.py [--runs 7] [--convert-files 300] [--workers N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from skeletonllm.skeleton.convert import convert
from skeletonllm.skeleton.dataset import read_cache, write_cache
from skeletonllm.skeleton.formats import get_format

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def build_ntu_file(dst: Path, frames: int = 1000) -> Path:
    """A valid ``.skeleton`` file of ``frames`` frames made of the real A001 frame blocks."""
    lines = (DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton").read_text().splitlines()
    blocks, i = [], 1
    for _ in range(int(lines[0])):
        start, nb = i, int(lines[i])
        i += 1
        for _ in range(nb):
            i += 2 + int(lines[i + 1])
        blocks.append(lines[start:i])
    out = [str(frames)] + [line for k in range(frames) for line in blocks[k % len(blocks)]]
    dst.write_text("\n".join(out) + "\n")
    return dst


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build_ntu_folder(dst: Path, files: int) -> Path:
    """``files`` copies of the two real NTU samples, named as distinct NTU samples."""
    dst.mkdir(parents=True)
    srcs = sorted((DATA / "ntu_skeleton").glob("*.skeleton"))
    for k in range(files):
        shutil.copy(srcs[k % len(srcs)], dst / f"S{1 + k // 999:03d}C001P{1 + k % 999:03d}R001A{1 + k % 60:03d}.skeleton")
    return dst


def convert_throughput(tmp: Path, files: int, workers: int) -> None:
    folder = build_ntu_folder(tmp / "ntu_many", files)
    rate = {}
    for n in (1, workers):
        out = tmp / f"out_{n}" / "ntu.pkl"
        t = time.perf_counter()
        report = convert([folder], out, to="pyskl", workers=n, progress=False)
        dt = time.perf_counter() - t
        assert report.samples == files and not report.failed
        rate[n] = files / dt
        print(f"convert {files} NTU files, {n} worker{'s' if n > 1 else ' '}: {dt:6.2f} s  {rate[n]:7.1f} files/s")
    print(f"speed-up with {workers} workers: {rate[workers] / rate[1]:.2f}x ({os.cpu_count()} CPUs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--convert-files", type=int, default=300, help="NTU files in the conversion benchmark (0: skip)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers of the parallel conversion")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ntu_file = build_ntu_file(tmp / "S001C001P001R001A001.skeleton")
        (tmp / "pku" / "skeleton").mkdir(parents=True)
        (tmp / "pku" / "label").mkdir()
        pku_file = tmp / "pku" / "skeleton" / "0036-L.txt"
        shutil.copy(DATA / "pku_mmd" / "skeleton" / "0036-L.txt", pku_file)
        shutil.copy(DATA / "pku_mmd" / "label" / "0036-L.txt", tmp / "pku" / "label" / "0036-L.txt")
        print(f"{'file':<37}{'frames':>8}{'text parse':>13}{'cached':>11}{'speed-up':>10}")
        for name, path, fmt in (("NTU .skeleton (A001 x 1000 frames)", ntu_file, "ntu"),
                                ("PKU-MMD 0036-L (1261 fr. -> 7 clips)", pku_file, "pku_mmd")):
            reader = get_format(fmt).read
            seqs = reader(path)
            assert fmt != "ntu" or seqs[0].num_frames == 1000
            cache = tmp / "cache" / f"{path.name}.npz"
            write_cache(cache, path, fmt, seqs)
            assert read_cache(cache, path) is not None
            t_text = median_time(lambda: reader(path), args.runs)
            t_cache = median_time(lambda: read_cache(cache, path), args.runs)
            frames = sum(s.num_frames for s in seqs)
            print(f"{name:<37}{frames:>8}{t_text * 1e3:>10.1f} ms{t_cache * 1e3:>8.1f} ms{t_text / t_cache:>9.1f}x")
        if args.convert_files > 0:
            convert_throughput(tmp, args.convert_files, args.workers)


if __name__ == "__main__":
    main()
