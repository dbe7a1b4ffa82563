"""Benchmark DrAction and its rasteriser on CPU (or CUDA with --device cuda).

    python benchmarks/render.py                 # full table (a few minutes on 2 cores)
    python benchmarks/render.py --quick         # headline cases only
    python benchmarks/render.py --quick --compare /tmp/old/src   # another copy of the package, case by case
    python benchmarks/render.py --threads 1     # torch intra-op threads (default: torch's)

On a shared machine, OpenMP's default busy-waiting makes multi-threaded torch CPU ops
collapse whenever another process competes for the cores (measured here: 0.55 s instead of
0.07 s for the 448 fwd+bwd case); run with OMP_WAIT_POLICY=PASSIVE (or --threads 1).

Workload: one NTU body (25 joints, 24 bones -> 265 Gaussians), B = 1 (or 8 clips of it),
F = 12 frames, from tests/data/ntu_skeleton/S001C001P001R001A001.skeleton (the demo figure if
the loaders are unavailable). Reported:

* DrAction (untrained default, fast rasteriser) forward and forward+backward at 224 and 448:
  the whole renderer (LBS, NFM with GRU, EWA projection, rasterisation), and the rasteriser
  alone on the same splats; DrAction at 448 on 8 clips. The backward is
  ``frames.backward(G)`` with a fixed random G built before the measurement (seed 0, the same
  for every package): the dense gradient a vision tower sends back, not a loss of our own
  (a mean's backward would add a pass over the whole frame tensor to every step);
* the dense reference rasteriser on one frame, scaled x12;
* an OpenCV stick figure of the same frames (anti-aliased lines and circles; the
  non-differentiable floor), the in-run reference that makes figures comparable between
  machines;
* the torch profiler's top rows for DrAction 448 fwd+bwd on one thread (self CPU time per step);
* (full table) how the fast path grows with resolution, frames, Gaussians per bone and persons.

``--compare SRC`` runs every case on the package under SRC (e.g. the code before a change,
``git show`` into a temporary directory) and on this checkout, alternately for ``--rounds``
rounds, and prints both with the ratio: on a machine shared with other jobs, back-to-back
runs of the same case see the same load. The load average is printed with every case.

Times are the minimum and median wall-clock time over ``--repeats`` runs after one warm-up,
and the minimum process CPU time (all threads; less sensitive to other jobs on the machine
than the wall clock, but it counts OpenMP workers' spinning). Peak memory is
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
    batch = collate_sequences([seq] * case.get("clips", 1), num_frames=frames).to(device)
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

    # The loss's gradient: a fixed dense random tensor, as a vision tower sends back (built
    # here, before the measurement; the same for every package compared).
    images = op.shape[0] if kind != "dense" else 1
    upstream = torch.randn(images, 3, H, W, generator=torch.Generator().manual_seed(0)).to(device, op.dtype)
    if kind == "draction":
        upstream = upstream.view(-1, frames, 3, H, W)

        def step():
            model.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(backward):
                out = model(batch)
                if backward:
                    out.backward(upstream)
    elif kind == "raster":
        def step():
            for x in leaves:
                x.grad = None
            with torch.set_grad_enabled(backward):
                out = R.rasterize_fast(*leaves, depth, H, W, bg)
                if backward:
                    out.backward(upstream)
    elif kind == "dense":
        one = [x[:1].detach().clone().requires_grad_(backward) for x in leaves]

        def step():
            with torch.set_grad_enabled(backward):
                out = R.rasterize_dense(*one, depth[:1], H, W, bg)
                if backward:
                    out.backward(upstream)
    elif kind == "opencv":
        import cv2
        import numpy as np

        from skeletonllm.render.camera import normalise_depth
        cam = model.camera
        j = normalise_depth(batch.joints.float(), batch.present, model.config.depth_threshold,
                            model.config.depth_shift)
        uv = cam.project_points(j).reshape(-1, *j.shape[2:4], 2).cpu().numpy()  # (clips x F, M, J, 2)
        bones = batch.topology.bones
        thick = max(1, round(size / 112))

        def step():
            imgs = np.zeros((uv.shape[0], size, size, 3), np.uint8)
            for f in range(uv.shape[0]):
                for m in range(uv.shape[1]):
                    p = np.round(uv[f, m] * 16).astype(np.int32)                 # 4 fractional bits
                    for a, b in bones:
                        cv2.line(imgs[f], tuple(p[a]), tuple(p[b]), (255, 255, 255), thick, cv2.LINE_AA, 4)
                    for q in p:
                        cv2.circle(imgs[f], tuple(q), 2 * thick * 16, (255, 255, 255), -1, cv2.LINE_AA, 4)
            return imgs
    else:
        raise ValueError(kind)

    info["kernel_load_s"] = _load_kernel(op)
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
    times, cpu = [], []
    for _ in range(case.get("repeats", 5)):
        t, c = time.perf_counter(), time.process_time()
        step()
        sync()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    out = {**case, **info, "first_s": first, "min_s": min(times), "median_s": statistics.median(times),
           "cpu_s": min(cpu), "peak_mb": peak, "threads": torch.get_num_threads()}
    if case.get("profile"):
        out["profile"] = _profile(step, case["profile"])
    return out


def _load_kernel(x) -> float | None:
    """Load (or compile) the compiled rasteriser kernel for tensors like ``x`` before the
    measurement, where the package has one: a one-off per process (per machine, if it must
    compile), not part of a step's time or memory. Returns the seconds it took (None: none)."""
    try:
        from skeletonllm.render import rasterize_numba
    except ImportError:
        return None
    t = time.perf_counter()
    rasterize_numba.usable(x)
    return time.perf_counter() - t


def _profile(step, steps: int, rows: int = 12) -> list:
    """The torch profiler's top ``rows`` ops by self CPU time: (name, ms per step, calls per step)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    top = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:rows]
    return [(e.key, e.self_cpu_time_total / 1e3 / steps, e.count / steps) for e in top]


def run_in_subprocess(case: dict, src: Path = ROOT / "src", timeout: float = 1800) -> dict:
    """Run one case in a fresh interpreter that imports skeletonllm from ``src``; the result
    carries the 1-minute load average before and after."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    load0 = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    load = (load0, os.getloadavg()[0])
    if proc.returncode != 0:
        return {**case, "load": load,
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}"}
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load": load}


KERNEL_PROBE = """
import json, time, torch
from skeletonllm.render import rasterize_numba
times = {}
for dtype in (torch.float32, torch.float64):
    t = time.perf_counter()
    ok = rasterize_numba.usable(torch.zeros(1, dtype=dtype))
    times[str(dtype)] = time.perf_counter() - t if ok else None
print(json.dumps(times))
"""


def kernel_first_call(src: Path) -> list[dict] | None:
    """Seconds of the compiled rasteriser's first use per dtype (numba import + compile, then
    + load), in a fresh process with an empty numba cache directory and again in a second
    process that finds it filled; None where ``src`` has no such kernel."""
    if not (src / "skeletonllm" / "render" / "rasterize_numba.py").is_file():
        return None
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "NUMBA_CACHE_DIR": cache}
        runs = [subprocess.run([sys.executable, "-c", KERNEL_PROBE], capture_output=True, text=True, env=env,
                               timeout=600) for _ in range(2)]
    return [json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-300:]}
            for r in runs]


def best_of(results: list[dict]) -> dict:
    """Combine runs of one case: the smallest min and median, the largest peak memory, and
    the load range seen."""
    ok = [r for r in results if "error" not in r]
    if not ok:
        return results[-1]
    best = dict(min(ok, key=lambda r: r["min_s"]))
    best["median_s"] = min(r["median_s"] for r in ok)
    best["cpu_s"] = min(r["cpu_s"] for r in ok)
    best["peak_mb"] = max(r["peak_mb"] for r in ok)
    best["load"] = (min(min(r["load"]) for r in ok), max(max(r["load"]) for r in ok))
    best["runs"] = len(ok)
    return best


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
def fmt(r: dict, scale: float = 1.0) -> str:
    if "error" in r:
        return f"error: {r['error']}"
    return (f"{r['min_s'] * scale:8.3f} s (median {r['median_s'] * scale:.3f}, cpu {r['cpu_s'] * scale:.3f}) "
            f"{r['peak_mb'] * (scale if scale > 1 else 1):5.0f} MB")


def fmt_load(r: dict) -> str:
    lo, hi = r.get("load", (float("nan"),) * 2)
    return f"load {lo:.1f}-{hi:.1f}"


def headline_cases(common: dict) -> list[tuple[str, tuple, dict]]:
    """(label, key, case) of the quick table."""
    cases = []
    for size in (224, 448):
        for kind in ("draction", "raster"):
            for bwd in (False, True):
                what = "DrAction" if kind == "draction" else "rasteriser only"
                label = f"{what} {size} {'fwd+bwd' if bwd else 'fwd'}"
                cases.append((label, (kind, size, bwd, 1), {**common, "kind": kind, "size": size, "frames": 12,
                                                             "backward": bwd}))
    for bwd in (False, True):
        cases.append((f"DrAction 448 {'fwd+bwd' if bwd else 'fwd'}, 8 clips", ("draction", 448, bwd, 8),
                      {**common, "kind": "draction", "size": 448, "frames": 12, "backward": bwd, "clips": 8}))
    for size, clips in ((224, 1), (448, 1), (448, 8)):
        label = f"OpenCV stick figure {size}" + (f", {clips} clips" if clips > 1 else "")
        cases.append((label, ("opencv", size, False, clips),
                      {**common, "kind": "opencv", "size": size, "frames": 12, "backward": False, "clips": clips}))
    return cases


def run_sources(case: dict, sources: list[Path], rounds: int) -> list[dict]:
    """Each source's best of ``rounds`` runs of ``case``, the sources alternating."""
    runs = [[] for _ in sources]
    for _ in range(rounds):
        for i, src in enumerate(sources):
            runs[i].append(run_in_subprocess(case, src))
    return [best_of(r) for r in runs]


def print_ratios(head: dict, names: list[str]) -> None:
    print("\nratios against the OpenCV stick figure of the same frames (min times)")
    for i, name in enumerate(names):
        parts = []
        for size, clips in ((224, 1), (448, 1), (448, 8)):
            cv = head[("opencv", size, False, clips)][i]
            for kind in ("draction", "raster"):
                r = head.get((kind, size, True, clips))
                if r is None or "error" in r[i] or "error" in cv:
                    continue
                what = "DrAction" if kind == "draction" else "rasteriser"
                times = f" x{clips}" if clips > 1 else ""
                parts.append(f"{what} {size}{times} fwd+bwd {r[i]['min_s'] / cv['min_s']:.1f}x")
        print(f"  {name}: " + ", ".join(parts))


def print_profiles(profiles: list, names: list[str]) -> None:
    for name, prof in zip(names, profiles):
        print(f"\ntorch profiler, DrAction 448 fwd+bwd on one thread ({name}): top ops by self CPU time per step")
        if "error" in prof:
            print(f"  {fmt(prof)}")
            continue
        print(f"  {'op':36s} {'ms/step':>8s} {'calls/step':>10s}   ({fmt_load(prof)})")
        for op, ms, calls in prof["profile"]:
            print(f"  {op[:36]:36s} {ms:8.2f} {calls:10.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="headline cases only")
    ap.add_argument("--compare", type=Path, default=None, metavar="SRC",
                    help="also run every case on the skeletonllm package under SRC (a 'src' directory), alternately")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare: alternating runs per case and package")
    ap.add_argument("--only", default=None, metavar="TEXT",
                    help="quick table: only the cases whose label contains TEXT (no ratios, no profile)")
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
    sources = [ROOT / "src"] if args.compare is None else [args.compare.resolve(), ROOT / "src"]
    names = ["this checkout"] if args.compare is None else [f"before ({args.compare})", "after (this checkout)"]
    rounds = 1 if args.compare is None else args.rounds
    print(f"DrAction benchmark, F=12, one NTU body (B=1 unless said); device {args.device}, "
          f"threads {args.threads or 'default'}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"{os.cpu_count()} CPUs; min over {args.repeats} runs (median in brackets)"
          + (f", best of {rounds} alternating rounds per package" if rounds > 1 else "")
          + "; memory = peak extra resident memory of the first run; load = 1-minute load average; "
          "backward = frames.backward(G), G a fixed random tensor (seed 0) built before the timing")
    if args.compare is not None:
        print("\n".join(f"  {n}: {s}" for n, s in zip(names, sources)))
    print()
    head = {}
    for label, key, case in headline_cases(common):
        if args.only is not None and args.only not in label:
            continue
        res = run_sources(case, sources, rounds)
        head[key] = res
        extra = ""
        if key[0] == "raster" and "error" not in res[-1]:
            extra = f"  [{res[-1].get('pairs', '?')} pairs, {res[-1].get('gaussians_per_frame', '?')} Gaussians/frame]"
        cols = " | ".join(f"{fmt(r)} {fmt_load(r)}" for r in res)
        ratio = ""
        if len(res) == 2 and not any("error" in r for r in res):
            ratio = f" | after/before {res[1]['min_s'] / res[0]['min_s']:.2f}x"
        print(f"{label:34s} {cols}{ratio}{extra}")
    if args.only is not None:
        return
    if args.compare is None:
        dense_cases = [(224, False), (224, True), (448, False)] + ([(448, True)] if args.dense_448_backward else [])
        for size, bwd in dense_cases:
            r = run_in_subprocess({**common, "kind": "dense", "size": size, "frames": 1, "backward": bwd,
                                   "repeats": min(args.repeats, 2)})
            head[("dense", size, bwd, 1)] = [r]
            print(f"{'dense reference ' + str(size) + (' fwd+bwd' if bwd else ' fwd') + ' x12':34s} "
                  f"{fmt(r, 12.0) if 'error' not in r else fmt(r)}  (one frame: {r.get('min_s', float('nan')):.3f} s, "
                  f"{r.get('peak_mb', float('nan')):.0f} MB) {fmt_load(r)}")
    print_ratios(head, names)
    if args.compare is None:
        for size in (224, 448):
            ras = head[("raster", size, True, 1)][0]
            dn = (head.get(("dense", size, True, 1)) or head[("dense", size, False, 1)])[0]
            if "error" not in ras and "error" not in dn:
                which = "fwd+bwd" if ("dense", size, True, 1) in head else "fwd"
                print(f"  {size}: dense reference ({which}, x12) / fast rasteriser fwd+bwd = "
                      f"{dn['min_s'] * 12 / ras['min_s']:.0f}x")

    first = kernel_first_call(sources[-1])
    if first is not None:
        fmt_first = lambda d: ", ".join(f"{k.replace('torch.', '')} {v:.1f} s" if isinstance(v, float) else f"{k} {v}"
                                        for k, v in d.items())  # noqa: E731
        print(f"\nnumba rasteriser kernel ({names[-1]}), first use per dtype: compile into an empty cache "
              f"{fmt_first(first[0])}; load from that cache in the next process {fmt_first(first[1])} "
              f"(load {os.getloadavg()[0]:.1f})")

    # One torch thread: the rows then count each op's own work, not how OpenMP workers were
    # scheduled on a shared machine.
    prof_case = {**common, "threads": 1, "kind": "draction", "size": 448, "frames": 12, "backward": True, "repeats": 1,
                 "profile": 3}
    print_profiles([run_in_subprocess(prof_case, src) for src in sources], names)
    if args.quick:
        return

    print("\nscaling of DrAction fwd+bwd (fast path), one factor at a time from 448 / F=12 / K=10 / 1 person")
    sweeps = [("size", [112, 224, 448, 896]), ("frames", [1, 6, 12, 24]), ("K", [2, 5, 10, 20]),
              ("persons", [1, 2, 4])]
    for name, values in sweeps:
        for v in values:
            case = {**common, "kind": "draction", "size": 448, "frames": 12, "backward": True, name: v}
            for src, sname in zip(sources, names):
                r = run_in_subprocess(case, src)
                ras = run_in_subprocess({**case, "kind": "raster"}, src)
                print(f"  {name}={v:<5} {sname[:6]:6s} DrAction {fmt(r)} | rasteriser {fmt(ras)}  "
                      f"[{ras.get('gaussians_per_frame', '?')} Gaussians/frame, {ras.get('pairs', '?')} pairs] "
                      f"{fmt_load(r)}")


if __name__ == "__main__":
    main()
