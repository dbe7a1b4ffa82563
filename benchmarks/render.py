"""Benchmark DrAction's rasteriser on CPU (or CUDA with --device cuda).

    python benchmarks/render.py                 # full table (a few minutes on 2 cores)
    python benchmarks/render.py --quick         # headline cases only
    python benchmarks/render.py --threads 1     # torch intra-op threads (default: torch's)

On a shared machine, OpenMP's default busy-waiting makes multi-threaded torch CPU ops
collapse whenever another process competes for the cores (measured here: 0.55 s instead of
0.07 s for the 448 fwd+bwd case); run with OMP_WAIT_POLICY=PASSIVE (or --threads 1).

Workload: one NTU body (25 joints, 24 bones -> 265 Gaussians), B = 1, F = 12 frames,
from tests/data/ntu_skeleton/S001C001P001R001A001.skeleton (the demo figure if the loaders
are unavailable). Reported:

* DrAction (untrained default, fast rasteriser) forward and forward+backward at 224 and 448:
  the whole renderer (LBS, NFM with GRU, EWA projection, rasterisation), and the rasteriser
  alone on the same splats;
* the dense reference rasteriser on one frame, scaled x12;
* an OpenCV stick figure of the same frames (anti-aliased lines and circles; the
  non-differentiable floor);
* how the fast path grows with resolution, frames, Gaussians per bone and persons.

Times are the minimum and median over ``--repeats`` runs after one warm-up. Peak memory is
"peak extra": each case runs in a fresh subprocess; after its inputs are built (nothing
image-sized allocated yet) the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``)
and the peak (VmHWM) minus the resident size before is read after the first run. Where the
mark cannot be reset, the growth of ``getrusage().ru_maxrss`` is used. This counts
everything the run touches (tensors, autograd buffers, allocator overhead), which
tracemalloc does not see and torch's CPU profiler only partly attributes. On CUDA,
``torch.cuda.max_memory_allocated`` is used instead.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NTU_FILE = ROOT / "tests" / "data" / "ntu_skeleton" / "S001C001P001R001A001.skeleton"


# --------------------------------------------------------------------------------------
# One case, run inside a subprocess
# --------------------------------------------------------------------------------------
def _sequence(persons: int):
    from dataclasses import replace

    import numpy as np

    from skeletonllm.render.demo import demo_sequence
    try:
        import skeletonllm
        seq = skeletonllm.load(NTU_FILE)
    except Exception:  # loaders missing: the procedural figure
        seq = demo_sequence("ntu25", 60, depth=3.0)
    if persons > 1:
        shift = np.array([0.7, 0.0, 0.0], np.float32)
        joints = np.concatenate([seq.joints + shift * (m - (persons - 1) / 2) for m in range(persons)], axis=1)
        present = np.repeat(seq.present, persons, axis=1)
        orient = None if seq.orientations is None else np.repeat(seq.orientations, persons, axis=1)
        seq = replace(seq, joints=joints, present=present, orientations=orient, scores=None)
    return seq


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class _Captured(Exception):
    pass


def run_case(case: dict) -> dict:
    import torch

    from skeletonllm.render import DrAction, DrActionConfig
    from skeletonllm.render import rasterize as R
    from skeletonllm.skeleton import collate_sequences

    if case.get("threads"):
        torch.set_num_threads(case["threads"])
    device = torch.device(case.get("device", "cpu"))
    kind, size, frames = case["kind"], case["size"], case["frames"]
    seq = _sequence(case.get("persons", 1))
    batch = collate_sequences([seq], num_frames=frames).to(device)
    torch.manual_seed(0)
    model = DrAction(DrActionConfig(image_size=size, bones_samples=case.get("K", 10))).to(device)
    backward = case["backward"]
    info = {"gaussians_per_frame": None, "pairs": None}

    # Inputs of the rasteriser, captured from a DrAction forward stopped right before
    # rasterisation (so nothing image-sized has been allocated before the measurement).
    captured = {}
    original = R.rasterize_fast

    def spy(*args, **kw):
        captured["args"] = args
        raise _Captured
    R.rasterize_fast = spy
    try:
        with torch.no_grad():
            model(batch)
    except _Captured:
        pass
    finally:
        R.rasterize_fast = original
    mu, con, op, col, depth, H, W, bg = captured["args"]
    info["gaussians_per_frame"] = op.shape[1]
    info["pairs"] = R.count_pairs(mu, con, op, H, W)
    leaves = [x.detach().clone().requires_grad_(backward) for x in (mu, con, op, col)]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    if kind == "draction":
        def step():
            model.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(backward):
                out = model(batch)
                if backward:
                    out.mean().backward()
    elif kind == "raster":
        def step():
            for x in leaves:
                x.grad = None
            with torch.set_grad_enabled(backward):
                out = R.rasterize_fast(*leaves, depth, H, W, bg)
                if backward:
                    out.mean().backward()
    elif kind == "dense":
        one = [x[:1].detach().clone().requires_grad_(backward) for x in leaves]

        def step():
            with torch.set_grad_enabled(backward):
                out = R.rasterize_dense(*one, depth[:1], H, W, bg)
                if backward:
                    out.mean().backward()
    elif kind == "opencv":
        import cv2
        import numpy as np

        from skeletonllm.render.camera import normalise_depth
        cam = model.camera
        j = normalise_depth(batch.joints.float(), batch.present, model.config.depth_threshold,
                            model.config.depth_shift)
        uv = cam.project_points(j)[0].cpu().numpy()                              # (F, M, J, 2)
        bones = batch.topology.bones
        thick = max(1, round(size / 112))

        def step():
            imgs = np.zeros((frames, size, size, 3), np.uint8)
            for f in range(frames):
                for m in range(uv.shape[1]):
                    p = np.round(uv[f, m] * 16).astype(np.int32)                 # 4 fractional bits
                    for a, b in bones:
                        cv2.line(imgs[f], tuple(p[a]), tuple(p[b]), (255, 255, 255), thick, cv2.LINE_AA, 4)
                    for q in p:
                        cv2.circle(imgs[f], tuple(q), 2 * thick * 16, (255, 255, 255), -1, cv2.LINE_AA, 4)
            return imgs
    else:
        raise ValueError(kind)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    hwm = _reset_peak()
    rss0 = _status_mb("VmRSS") if hwm else _maxrss_mb()
    t = time.perf_counter()
    step()
    sync()
    first = time.perf_counter() - t
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = (_status_mb("VmHWM") if hwm else _maxrss_mb()) - rss0
    times = []
    for _ in range(case.get("repeats", 5)):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    return {**case, **info, "first_s": first, "min_s": min(times), "median_s": statistics.median(times),
            "peak_mb": peak, "threads": torch.get_num_threads()}


def run_in_subprocess(case: dict, timeout: float = 1800) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        return {**case, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
def fmt(r: dict, scale: float = 1.0) -> str:
    if "error" in r:
        return f"error: {r['error']}"
    return f"{r['min_s'] * scale:8.3f} s (median {r['median_s'] * scale:.3f}) {r['peak_mb'] * (scale if scale > 1 else 1):8.0f} MB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="headline cases only")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dense-448-backward", action="store_true",
                    help="also run the dense reference fwd+bwd at 448 (one frame needs several GB)")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return

    common = {"threads": args.threads, "repeats": args.repeats, "device": args.device}
    print(f"DrAction rasteriser benchmark, B=1, F=12, one NTU body; device {args.device}, "
          f"threads {args.threads or 'default'}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"{os.cpu_count()} CPUs; min over {args.repeats} runs "
          f"(median in brackets); memory = peak extra resident memory of the first run\n")
    head = {}
    for size in (224, 448):
        for kind in ("draction", "raster"):
            for bwd in (False, True):
                r = run_in_subprocess({**common, "kind": kind, "size": size, "frames": 12, "backward": bwd})
                head[(kind, size, bwd)] = r
                label = f"{'DrAction' if kind == 'draction' else 'rasteriser only'} {size} {'fwd+bwd' if bwd else 'fwd'}"
                extra = f"  [{r.get('pairs', '?')} pairs, {r.get('gaussians_per_frame', '?')} Gaussians/frame]" if kind == "raster" else ""
                print(f"{label:32s} {fmt(r)}{extra}")
    for size in (224, 448):
        r = run_in_subprocess({**common, "kind": "opencv", "size": size, "frames": 12, "backward": False})
        head[("opencv", size, False)] = r
        print(f"{'OpenCV stick figure ' + str(size):32s} {fmt(r)}")
    dense_cases = [(224, False), (224, True), (448, False)] + ([(448, True)] if args.dense_448_backward else [])
    for size, bwd in dense_cases:
        r = run_in_subprocess({**common, "kind": "dense", "size": size, "frames": 1, "backward": bwd,
                               "repeats": min(args.repeats, 2)})
        head[("dense", size, bwd)] = r
        print(f"{'dense reference ' + str(size) + (' fwd+bwd' if bwd else ' fwd') + ' x12':32s} "
              f"{fmt(r, 12.0) if 'error' not in r else fmt(r)}  (one frame: {r.get('min_s', float('nan')):.3f} s, "
              f"{r.get('peak_mb', float('nan')):.0f} MB)")

    print("\nratios (min times)")
    for size in (224, 448):
        fast = head[("draction", size, True)]
        ras = head[("raster", size, True)]
        cv = head[("opencv", size, False)]
        dn = head.get(("dense", size, True)) or head.get(("dense", size, False))
        if "error" in fast or "error" in cv:
            continue
        line = (f"  {size}: DrAction fwd+bwd / OpenCV = {fast['min_s'] / cv['min_s']:.1f}x, "
                f"rasteriser fwd+bwd / OpenCV = {ras['min_s'] / cv['min_s']:.1f}x")
        if dn and "error" not in dn:
            which = "fwd+bwd" if ("dense", size, True) in head else "fwd"
            line += f", dense ({which}, x12) / fast rasteriser = {dn['min_s'] * 12 / ras['min_s']:.0f}x"
        print(line)
    if args.quick:
        return

    print("\nscaling of DrAction fwd+bwd (fast path), one factor at a time from 448 / F=12 / K=10 / 1 person")
    sweeps = [("size", [112, 224, 448, 896]), ("frames", [1, 6, 12, 24]), ("K", [2, 5, 10, 20]),
              ("persons", [1, 2, 4])]
    for name, values in sweeps:
        for v in values:
            case = {**common, "kind": "draction", "size": 448, "frames": 12, "backward": True, name: v}
            r = run_in_subprocess(case)
            ras = run_in_subprocess({**case, "kind": "raster"})
            print(f"  {name}={v:<5} DrAction {fmt(r)} | rasteriser {fmt(ras)}  "
                  f"[{ras.get('gaussians_per_frame', '?')} Gaussians/frame, {ras.get('pairs', '?')} pairs]")


if __name__ == "__main__":
    main()
