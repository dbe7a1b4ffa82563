"""Time to the first training step and peak memory per process on a 10,000-file NTU tree.

The tree holds ``--files`` NTU ``.skeleton`` files named as distinct NTU-60 samples (cross-subject
training subjects, seen classes of ntu60_48_12), each a hard link to one of the two real sample
files (103 frames / one body, 70 frames / two bodies), so every file parses like a real one and
the tree costs no disk. A run is ``skeletonllm train`` of stage 1 for one optimiser step on it
(tiny random InternVL, 56 px frames, batch 2 per process, 4 DataLoader workers per process),
launched with ``torchrun --nproc_per_node 2 --cpu``, i.e. two processes as on a two-GPU node.

Every process reports, from its own start: the time until its first optimiser step returned, its
peak resident memory (``ru_maxrss``) and that of its DataLoader workers. Arms:

* ``--src DIR`` runs the code of another checkout (``DIR/src``), e.g. the version before clips
  were read lazily: that is the reference ("before": every process parses every file up front
  and keeps every clip in memory; configs set no cache);
* this checkout, with ``data.cache_dir`` set as the paper configs now do: first start (cold
  cache) and a second start (the cache filled by the first).

    python benchmarks/data_scale.py --tree /tmp/ntu10k [--files 10000] [--src /path/to/old/checkout]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "ntu_skeleton"
XSUB_TRAIN = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)


def build_tree(dst: Path, files: int) -> Path:
    """``files`` hard links to the two real NTU samples, named as distinct training samples."""
    from skeletonllm.skeleton.missing import has_missing_skeleton
    from skeletonllm.skeleton.splits import get_split
    seen = [i + 1 for i in get_split("ntu60_48_12").seen]       # 1-based actions
    dst.mkdir(parents=True, exist_ok=True)
    srcs = [DATA / "S001C001P001R001A001.skeleton", DATA / "S001C003P008R002A058.skeleton"]
    made, k = 0, 0
    while made < files:
        setup, camera, rep = 1 + k % 17, 1 + (k // 17) % 3, 1 + (k // 51) % 2
        subject = XSUB_TRAIN[(k // 102) % len(XSUB_TRAIN)]
        action = seen[(k // (102 * len(XSUB_TRAIN))) % len(seen)]
        name = f"S{setup:03d}C{camera:03d}P{subject:03d}R{rep:03d}A{action:03d}"
        k += 1
        if has_missing_skeleton(name):
            continue
        path = dst / f"{name}.skeleton"
        if not path.exists():
            os.link(srcs[made % 2], path)
        made += 1
    return dst


def run_config(tree: Path, out: Path, cache: Path | None) -> dict:
    data = {"dataset": "ntu60", "root": str(tree), "split": "ntu60_48_12", "num_frames": 4, "max_bodies": 2}
    if cache is not None:
        data["cache_dir"] = str(cache)
    return {"run": {"name": "data_scale", "output_dir": str(out), "seed": 0},
            "model": {"backbone": "tiny:internvl", "image_size": 56, "renderer_options": {"image_size": 56},
                      "lora_r": 4, "lora_alpha": 8},
            "data": data,
            "train": {"per_device_batch_size": 2, "max_steps": 1, "log_every": 1, "save_every": 0,
                      "mixed_precision": "no", "num_workers": 4, "tensorboard": False},
            "stages": {"render_warmup": {"lr": 1.0e-3}}}


def rank_entry(config_path: str, report_dir: str) -> None:
    """One process of the run: train stage 1 for one step, then report its times and memory."""
    import torch
    t0 = float(os.environ["DATA_SCALE_T0"])
    first = {}
    original = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        first.setdefault("t", time.time())
        return result
    torch.optim.AdamW.step = step
    from skeletonllm.train.config import load_config
    from skeletonllm.train.trainer import run_training
    imported = time.time()
    cfg = load_config(config_path)
    run_training(cfg, stages=1, progress=False, cpu=True)
    rank = int(os.environ.get("RANK", 0))
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {"rank": rank, "first_step_s": first["t"] - t0, "imports_s": imported - t0,
              "peak_rss_gib": me.ru_maxrss / 2 ** 20, "worker_peak_rss_gib": kids.ru_maxrss / 2 ** 20}
    Path(report_dir, f"rank{rank}.json").write_text(json.dumps(report))


def launch(label: str, src: Path, tree: Path, work: Path, cache: Path | None, procs: int) -> list[dict]:
    import yaml
    out = work / label
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(run_config(tree, out / "run", cache)))
    env = {**os.environ, "PYTHONPATH": str(src), "DATA_SCALE_T0": repr(time.time()), "OMP_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_port",
           str(29600 + os.getpid() % 300), str(Path(__file__).resolve()), "--rank-entry", str(cfg_path), str(out)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(procs)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default="/tmp/skeletonllm-ntu10k")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--work", default="/tmp/skeletonllm-data-scale")
    ap.add_argument("--src", default=None, help="another checkout to measure as the reference (its src/ is used)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--rank-entry", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rank_entry:
        return rank_entry(*args.rank_entry)
    import shutil
    tree, work = Path(args.tree), Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    t = time.time()
    build_tree(tree, args.files)
    print(f"tree: {len(list(tree.iterdir()))} files in {tree} ({time.time() - t:.1f} s)")
    arms = []
    if args.src:
        arms.append(("before (reference checkout, no cache)", Path(args.src) / "src", None))
    arms += [("lazy + cache, first start", ROOT / "src", work / "cache"),
             ("lazy + cache, second start", ROOT / "src", work / "cache")]
    results = {}
    for k, (label, src, cache) in enumerate(arms):
        results[label] = launch(f"arm{k}", src, tree, work, cache, args.procs)
    print(f"{'arm':<40}{'rank':>5}{'first step s':>14}{'peak GiB':>10}{'workers GiB':>13}")
    for label, ranks in results.items():
        for r in ranks:
            print(f"{label:<40}{r['rank']:>5}{r['first_step_s']:>14.1f}{r['peak_rss_gib']:>10.2f}"
                  f"{r['worker_peak_rss_gib']:>13.2f}")
    (work / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
