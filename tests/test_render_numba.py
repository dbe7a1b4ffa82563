"""The compiled CPU rasteriser (render/rasterize_numba.py) against the dense reference and the
pure-torch fast path, in values and gradients; what routes to it and the clean fallbacks to the
torch path; thread counts, concurrent callers, stamps; its on-disk cache (slow)."""
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
import torch
from torch.autograd import gradcheck

from skeletonllm.render import DrAction, DrActionConfig
from skeletonllm.render import rasterize as R
from skeletonllm.render import rasterize_numba as N
from skeletonllm.skeleton import collate_sequences
from test_render_fast_paths import values_and_grads
from test_render_rasterize import random_scene as scene

D = torch.float64
ROOT = Path(__file__).resolve().parents[1]
NTU_FILE = ROOT / "tests" / "data" / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
pytestmark = pytest.mark.skipif(not N.usable(torch.zeros(1, dtype=D)), reason="numba kernel unavailable")


def kernel(*args):
    """The kernel itself (rasterize_fast's contract), whatever the dispatch does."""
    *inputs, depth, H, W, bg = args
    return N.rasterize_numba(*inputs, depth, H, W, R._background(bg, inputs[0].dtype, inputs[0].device),
                             R.ALPHA_MIN, R.ALPHA_MAX)


# --------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,background", [(0, None), (1, (0.2, 0.5, 0.1)), (2, None), (3, (1.0, 1.0, 1.0))])
def test_kernel_and_torch_path_equal_dense(seed, background):
    I, G, H, W = 3, 12, 19, 15
    mu, con, o, col, depth = scene(I, G, H, W, seed)
    o[0, 0] = 0.999                                      # the 0.99 clamp
    o[1, 1] = 0.5 / 255                                  # skipped everywhere
    mu[2, :, 0] = -100.0                                 # an image with nothing on it
    weight = torch.randn(I, 3, H, W, generator=torch.Generator().manual_seed(seed), dtype=D)
    ref, ref_g = values_and_grads(R.rasterize_dense, (mu, con, o, col), depth, H, W, background, weight)
    for fn in (kernel, R.rasterize_torch):
        img, g = values_and_grads(fn, (mu, con, o, col), depth, H, W, background, weight)
        assert torch.allclose(img, ref, atol=1e-12)
        for a, b in zip(g, ref_g):
            assert torch.allclose(a, b, atol=1e-10), (fn, (a - b).abs().max())


def test_torch_path_in_parts_and_sort_groups_equals_dense(monkeypatch):
    # What test_render_fast_paths checks through rasterize_fast, on the torch path itself
    # (rasterize_fast now sends CPU tensors to the kernel).
    I, G, H, W = 7, 10, 15, 13
    mu, con, o, col, depth = scene(I, G, H, W, 11)
    weight = torch.randn(I, 3, H, W, generator=torch.Generator().manual_seed(1), dtype=D)
    ref, ref_g = values_and_grads(R.rasterize_dense, (mu, con, o, col), depth, H, W, (0.3, 0.1, 0.6), weight)
    monkeypatch.setattr(R, "PART_PAIRS", 150)
    monkeypatch.setattr(R, "SORT_GROUP", 40)
    img, g = values_and_grads(R.rasterize_torch, (mu, con, o, col), depth, H, W, (0.3, 0.1, 0.6), weight)
    assert torch.allclose(img, ref, atol=1e-12)
    for a, b in zip(g, ref_g):
        assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("fn", [kernel, R.rasterize_torch], ids=["kernel", "torch"])
def test_gradcheck(fn):
    I, G, H, W = 2, 4, 9, 8
    mu, con, o, col, depth = scene(I, G, H, W, 7, ties=False)
    o = o * 0.8 + 0.1                                        # clear of the clamp kinks
    args = [x.requires_grad_(True) for x in (mu, con, o, col)]
    bg = torch.tensor([0.3, 0.1, 0.7], dtype=D, requires_grad=True)
    assert gradcheck(lambda m, c, op, cl, b: fn(m, c, op, cl, depth, H, W, b), (*args, bg), eps=1e-7, atol=1e-5)


def ntu_splats(size, dtype):
    """DrAction's splats for 12 frames of the real NTU clip: (means2d, conics, opacities, colours, depths)."""
    import skeletonllm
    batch = collate_sequences([skeletonllm.load(NTU_FILE)], num_frames=12)
    torch.manual_seed(0)
    model = DrAction(DrActionConfig(image_size=size)).to(dtype)
    captured = {}

    def spy(*args):
        captured["args"] = args
        raise KeyboardInterrupt                      # stop before rasterising
    original = R.rasterize_fast
    R.rasterize_fast = spy
    try:
        with torch.no_grad():
            model(batch.to(torch.device("cpu")))
    except KeyboardInterrupt:
        pass
    finally:
        R.rasterize_fast = original
    return [x.detach() for x in captured["args"][:5]]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_kernel_equals_torch_path_on_a_real_clip_at_448(dtype):
    # One NTU body, 12 frames at 448 px (about 200k pairs); float32 runs compare against the
    # torch path in float64 on the same inputs (both keep transmittance in float64). In
    # float64 the two differ by ~1e-11: the torch path's transmittance is a difference of
    # running sums over all pairs, the kernel's a product per pixel.
    mu, con, o, col, depth = ntu_splats(448, dtype)
    H = W = 448
    weight = torch.randn(12, 3, H, W, generator=torch.Generator().manual_seed(2), dtype=dtype)
    assert R.count_pairs(mu, con, o, H, W) > 100_000
    ref, ref_g = values_and_grads(R.rasterize_torch, [x.double() for x in (mu, con, o, col)], depth.double(), H, W,
                                  None, weight.double())
    img, g = values_and_grads(kernel, (mu, con, o, col), depth, H, W, None, weight)
    tol = 1e-10 if dtype == torch.float64 else 1e-6
    assert (img.double() - ref).abs().max() < tol
    for a, b in zip(g, ref_g):
        assert (a.double() - b).abs().max() <= (1e-9 if dtype == torch.float64 else 1e-5) * b.abs().max()


def test_draction_kernel_equals_torch_path_end_to_end():
    import skeletonllm
    batch = collate_sequences([skeletonllm.load(NTU_FILE)], num_frames=4)
    torch.manual_seed(0)
    fast = DrAction(DrActionConfig(image_size=112))
    ref = DrAction(DrActionConfig(image_size=112, rasterizer="torch"))
    ref.load_state_dict(fast.state_dict())
    a, b = fast(batch), ref(batch)
    assert a.grad_fn is not None and torch.allclose(a, b, atol=1e-6)
    w = torch.randn(a.shape, generator=torch.Generator().manual_seed(1))
    ga = torch.autograd.grad((a * w).sum(), list(fast.parameters()))
    gb = torch.autograd.grad((b * w).sum(), list(ref.parameters()))
    for x, y in zip(ga, gb):
        assert torch.allclose(x, y, atol=1e-5 * y.abs().max().item() + 1e-8, rtol=1e-4)


# --------------------------------------------------------------------------------------
# Routing and fallbacks
# --------------------------------------------------------------------------------------
def uses_kernel(img: torch.Tensor) -> bool:
    return "RasterizeNumba" in type(img.grad_fn).__name__


def small_scene(dtype=D):
    mu, con, o, col, depth = scene(2, 5, 9, 8, 4, dtype=dtype)
    return [x.requires_grad_(True) for x in (mu, con, o, col)] + [depth, 9, 8]


@pytest.fixture
def fresh_state(monkeypatch):
    """The kernel's availability as on first use (warned once, compiled dtypes)."""
    monkeypatch.setitem(N._state, "warned", False)
    monkeypatch.setitem(N._state, "ready", {})
    monkeypatch.setitem(N._state, "kernels", None)


def test_cpu_float_tensors_go_to_the_kernel_others_to_the_torch_path():
    assert uses_kernel(R.rasterize_fast(*small_scene()))
    assert uses_kernel(R.rasterize_fast(*small_scene(torch.float32)))
    assert not uses_kernel(R.rasterize_torch(*small_scene()))
    assert not N.usable(torch.zeros(1, dtype=torch.float16))
    assert not N.usable(torch.zeros(1, device="meta"))              # any other device keeps its path


def test_env_switch_forces_the_torch_path(monkeypatch):
    monkeypatch.setenv(N.ENV_SWITCH, "torch")
    img = R.rasterize_fast(*small_scene())
    assert not uses_kernel(img)
    monkeypatch.setenv(N.ENV_SWITCH, "")
    assert uses_kernel(R.rasterize_fast(*small_scene()))


def test_missing_numba_warns_once_and_falls_back(monkeypatch, fresh_state):
    def missing():
        raise ModuleNotFoundError("No module named 'numba'")
    monkeypatch.setattr(N, "_import_kernels", missing)
    expected = R.rasterize_torch(*small_scene())
    with pytest.warns(RuntimeWarning, match="numba is not importable.*torch path"):
        img = R.rasterize_fast(*small_scene())
    assert not uses_kernel(img) and torch.equal(img, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        R.rasterize_fast(*small_scene())                                # no second warning


def test_kernel_that_does_not_compile_warns_once_and_falls_back(monkeypatch, fresh_state):
    def broken(dtype):
        raise RuntimeError("LLVM ERROR: simulated")
    monkeypatch.setattr(N, "_try_kernels", broken)
    with pytest.warns(RuntimeWarning, match="did not compile.*simulated"):
        img = R.rasterize_fast(*small_scene())
    assert not uses_kernel(img)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not uses_kernel(R.rasterize_fast(*small_scene(torch.float32)))


def test_first_use_under_no_grad_still_enables_the_kernel(fresh_state):
    # The availability check runs a backward: it must not fail because the caller disabled grad.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.no_grad():
            R.rasterize_fast(*small_scene())
    assert N._state["ready"][D] is True
    assert uses_kernel(R.rasterize_fast(*small_scene()))


def test_config_and_method_name_the_torch_path():
    assert DrActionConfig(rasterizer="torch").rasterizer == "torch"
    with pytest.raises(ValueError, match="fast, torch or dense"):
        R.rasterize(None, None, None, 4, 4, method="gpu")


# --------------------------------------------------------------------------------------
# Threads, concurrent callers, stamps
# --------------------------------------------------------------------------------------
def test_one_and_two_threads_and_concurrent_callers_agree():
    I, G, H, W = 5, 20, 40, 36
    mu, con, o, col, depth = scene(I, G, H, W, 12, spread=6.0)
    weight = torch.randn(I, 3, H, W, generator=torch.Generator().manual_seed(3), dtype=D)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = values_and_grads(kernel, (mu, con, o, col), depth, H, W, (0.1, 0.2, 0.3), weight)
        torch.set_num_threads(2)
        two = values_and_grads(kernel, (mu, con, o, col), depth, H, W, (0.1, 0.2, 0.3), weight)
    finally:
        torch.set_num_threads(before)
    results = [None] * 4

    def run(k):
        results[k] = values_and_grads(kernel, (mu, con, o, col), depth, H, W, (0.1, 0.2, 0.3), weight)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other in [two] + results:             # each image is drawn by one thread: bit for bit the same
        assert torch.equal(one[0], other[0]) and all(torch.equal(a, b) for a, b in zip(one[1], other[1]))


def _render_in_child(args, expected, queue):
    same = torch.equal(R.rasterize_fast(*args), expected)
    queue.put((same, uses_kernel(R.rasterize_fast(args[0].requires_grad_(True), *args[1:]))))


def test_forked_children_render_with_the_kernel():
    # A DataLoader worker forks a process whose parent has already run the kernel's threads.
    import multiprocessing
    args = list(scene(3, 10, 20, 18, 14)) + [20, 18]
    parent = R.rasterize_fast(*args)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_render_in_child, args=(args, parent, queue))
    child.start()
    same, kernel_used = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0 and kernel_used and same


def test_stamps_wrap_around():
    mu, con, o, col, depth = scene(3, 8, 12, 10, 13)
    first = kernel(mu, con, o, col, depth, 12, 10, (0.5, 0.5, 0.5))
    N._local.stamp = 2**30 - 1                 # the next calls pass the limit and reset the stamps
    for _ in range(3):
        again = kernel(mu, con, o, col, depth, 12, 10, (0.5, 0.5, 0.5))
        assert torch.equal(first, again)
    assert N._local.stamp < 100


# --------------------------------------------------------------------------------------
# On-disk cache (each run compiles the kernels: slow)
# --------------------------------------------------------------------------------------
PROBE = """
import torch
import numba.core.caching as caching
ensure = caching._CacheLocator.ensure_cache_path
def read_only(self):                     # as os.makedirs / tempfile fail in a read-only directory
    path = self.get_cache_path()
    if path.startswith({package_dir!r}) or {no_user_dir}:
        raise PermissionError(13, "read-only", path)
    return ensure(self)
caching._CacheLocator.ensure_cache_path = read_only
from skeletonllm.render import rasterize_numba as N
assert N.usable(torch.zeros(1, dtype=torch.float64))
from skeletonllm.render import raster_kernels
stats = raster_kernels.forward.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), stats.cache_path)
"""


def probe(tmp_path, no_user_dir: bool) -> tuple[int, int, str]:
    """(cache hits, cache misses, cache path) of the forward kernel in a fresh process whose
    package directory (and, with ``no_user_dir``, every other directory) is read-only."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    code = PROBE.format(package_dir=str(Path(N.__file__).parent), no_user_dir=no_user_dir)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    hits, misses, path = out.stdout.strip().splitlines()[-1].split(" ", 2)
    return int(hits), int(misses), path


@pytest.mark.slow
def test_read_only_package_caches_in_the_user_cache_dir(tmp_path):
    hits, misses, path = probe(tmp_path, no_user_dir=False)        # compiles, writes $XDG_CACHE_HOME/numba
    assert hits == 0 and misses > 0 and path.startswith(str(tmp_path / "cache" / "numba"))
    assert any(Path(path).glob("raster_kernels.forward-*.nbi"))
    hits, misses, _ = probe(tmp_path, no_user_dir=False)           # the next process loads it
    assert hits > 0 and misses == 0


@pytest.mark.slow
def test_no_writable_cache_dir_still_compiles(tmp_path):
    hits, misses, path = probe(tmp_path, no_user_dir=True)         # usable, compiled in the process
    assert hits == 0 and not (tmp_path / "cache").exists()
