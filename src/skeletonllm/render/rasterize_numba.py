"""The CPU rasteriser as one compiled kernel (numba): the same compositing as
:func:`skeletonllm.render.rasterize.rasterize_fast`, without its per-pair tensors and sort.

Each image is drawn in painter's order: its Gaussians front to back by (depth, index), each
on the rows and spans of its ellipse q(d) <= 2 ln(255 o) (the torch path's spans, computed
here in float64), every pixel updating that image's running transmittance T(p) (float64)
and colour:

    alpha = min(0.99, o exp(-q/2)), skipped below 1/255;  C(p) += alpha T(p) c;  T(p) *= 1 - alpha

Per pixel that is exactly front-to-back compositing, with no pair list to sort. T before
each pair and its alpha are kept (in the input's dtype: 8 bytes a pair for float32) for the
backward, which walks the same pairs back to front with the colour "seen behind" each pair,
R <- alpha <c, dL/dC> + (1 - alpha) R (starting at <bg, dL/dC>), so that dL/dalpha =
T (<c, dL/dC> - R): no division by 1 - alpha, and no cancellation of large running sums. Gradients for means, conics,
opacities and colours are summed per span (s, s dx, s dx^2 with s = alpha dL/dalpha) and
combined with dy per span, as the torch path does, in float64.

Images run in parallel (``prange`` over as many chunks as torch has threads); each chunk
keeps its own per-pixel buffers, which are kept between calls and need no reset: a pixel's
entry counts only when it carries the stamp of the current image.

The kernels live in :mod:`.raster_kernels`, imported on first use (numba's import takes
0.2 s). They are optional at run time: :func:`usable` says whether numba imported and the
kernels compiled (or loaded from numba's cache) for a dtype; where not, a warning says so
once and callers use the torch path. ``SKELETONLLM_RASTERIZER=torch`` turns the kernel off.
"""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import torch

ENV_SWITCH = "SKELETONLLM_RASTERIZER"
#: dtypes the kernels are compiled for (arithmetic is float64 inside; inputs and outputs keep theirs).
DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------------------
# Availability, scratch buffers
# --------------------------------------------------------------------------------------
_state = {"warned": False, "ready": {}, "kernels": None}
_lock = threading.Lock()          # numba's workqueue threading layer must not be entered twice at once
_local = threading.local()


def _warn_once(message: str) -> None:
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(message + "; the rasteriser uses its torch path instead", RuntimeWarning, stacklevel=3)


def disabled_by_env() -> bool:
    """True when ``SKELETONLLM_RASTERIZER=torch`` asks for the torch path."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() == "torch"


def usable(x: torch.Tensor) -> bool:
    """Whether the kernel can rasterise tensors like ``x``: a CPU float32/float64 tensor,
    numba imported and its kernels compiled (or loaded from cache) for that dtype, and not
    switched off by ``SKELETONLLM_RASTERIZER=torch``. A failure warns once."""
    if x.device.type != "cpu" or x.dtype not in DTYPES or disabled_by_env():
        return False
    if _kernels() is None:
        return False
    ready = _state["ready"]
    if x.dtype not in ready:
        ready[x.dtype] = _compile(x.dtype)
    return ready[x.dtype]


def _import_kernels():
    from . import raster_kernels
    return raster_kernels


def _kernels():
    """The kernels module, imported on first use (None, warned once, where numba is missing
    or fails to import)."""
    if _state["kernels"] is None:
        try:
            _state["kernels"] = _import_kernels()
        except Exception as err:  # noqa: BLE001 - any failure to import means: use the torch path
            _state["kernels"] = err
            _warn_once(f"numba is not importable ({type(err).__name__}: {err})")
    k = _state["kernels"]
    return None if isinstance(k, Exception) else k


def _compile(dtype: torch.dtype) -> bool:
    """Compile (or load from cache) the kernels for ``dtype`` by running them on a tiny scene."""
    try:
        with torch.enable_grad():
            return _try_kernels(dtype)
    except Exception as err:  # noqa: BLE001 - any failure to compile means: use the torch path
        _warn_once(f"the numba rasteriser kernel did not compile ({type(err).__name__}: {err})")
        return False


def _try_kernels(dtype: torch.dtype) -> bool:
    """Forward and backward of a two-Gaussian scene (compiles or loads the kernels)."""
    mu = torch.tensor([[[2.0, 2.0], [1.5, 2.5]]], dtype=dtype, requires_grad=True)
    con = torch.tensor([[[1.0, 0.1, 1.0], [0.5, 0.0, 0.5]]], dtype=dtype)
    op = torch.tensor([[0.9, 0.5]], dtype=dtype)
    col = torch.ones(1, 2, 3, dtype=dtype)
    bg = torch.tensor([0.1, 0.2, 0.3], dtype=dtype)
    img = _RasterizeNumba.apply(mu, con, op, col, torch.zeros(1, 2, dtype=dtype), bg, 4, 4, 1 / 255, 0.99)
    img.sum().backward()
    return bool(torch.isfinite(mu.grad).all())


def _threads() -> int:
    return max(1, min(torch.get_num_threads(), _kernels().numba.config.NUMBA_NUM_THREADS))


def _scratch(chunks: int, pixels: int):
    """Per chunk (float64 values, int32 stamps) ``(chunks, pixels)`` and the first stamp of
    a call, kept per Python thread (12 bytes a pixel a chunk): the buffers are not reset
    between calls, and a stamp is not reused before they are."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None or bufs[0].shape != (chunks, pixels):
        bufs = (np.empty((chunks, pixels)), np.zeros((chunks, pixels), np.int32))
        _local.bufs = bufs
        _local.stamp = 1
    return bufs[0], bufs[1], _local.stamp


def _next_stamp(images: int) -> None:
    """Advance past the stamps of ``images`` images (int32 stamps: wrap around with a reset)."""
    _local.stamp += images
    if _local.stamp > 2**30:
        _local.bufs[1].fill(0)
        _local.stamp = 1


def _run(name: str, *args) -> None:
    """Run the parallel kernel ``name`` on as many threads as torch uses (numba's setting restored)."""
    k = _kernels()
    with _lock:
        before = k.numba.get_num_threads()
        k.numba.set_num_threads(_threads())
        try:
            getattr(k, name)(*args)
        finally:
            k.numba.set_num_threads(before)


# --------------------------------------------------------------------------------------
# Autograd
# --------------------------------------------------------------------------------------
def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().contiguous().numpy()


class _RasterizeNumba(torch.autograd.Function):
    """The kernels above as an autograd Function (CPU tensors; see module docstring)."""

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, background, height, width, alpha_min, alpha_max):
        I, G = opacities.shape
        H, W = height, width
        order = torch.sort(depths.detach(), dim=1, stable=True).indices.numpy()
        arrays = [_np(x) for x in (means2d, conics, opacities, colors)]
        bg = np.zeros(3) if background is None else _np(background).astype(np.float64)
        counts = np.empty((I, G), np.int64)
        _run("count_pairs", *arrays[:3], order, H, W, alpha_min, counts)
        offsets = np.zeros(I * G + 1, np.int64)
        np.cumsum(counts.reshape(-1), out=offsets[1:])
        P = int(offsets[-1])
        out = torch.empty(I, 3, H, W, dtype=means2d.dtype)
        t_pair, a_pair = np.empty(P, out.numpy().dtype), np.empty(P, out.numpy().dtype)
        chunks = min(_threads(), I)
        t_buf, stamps, stamp0 = _scratch(chunks, H * W)
        _run("forward", *arrays, order, offsets, bg, background is not None, H, W, alpha_min, alpha_max, stamp0,
             out.numpy().reshape(I, 3, H * W), t_pair, a_pair, t_buf, stamps)
        _next_stamp(I)
        ctx.save_for_backward(means2d, conics, opacities, colors, background)
        ctx.pairs = (order, offsets, t_pair, a_pair, bg, H, W, alpha_min, alpha_max)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        means2d, conics, opacities, colors, background = ctx.saved_tensors
        order, offsets, t_pair, a_pair, bg, H, W, alpha_min, alpha_max = ctx.pairs
        I, G = opacities.shape
        dtype = means2d.dtype
        nd = np.float64 if dtype == torch.float64 else np.float32
        grads = [np.empty((I, G, 2), nd), np.empty((I, G, 3), nd), np.empty((I, G), nd), np.empty((I, G, 3), nd)]
        d_bg = np.empty((I, 3))
        chunks = min(_threads(), I)
        r_buf, stamps, stamp0 = _scratch(chunks, H * W)
        g = _np(grad_out.to(dtype)).reshape(I, 3, H * W)
        _run("backward", *(_np(x) for x in (means2d, conics, opacities, colors)), order, offsets, bg,
             background is not None, H, W, alpha_min, alpha_max, stamp0, g, t_pair, a_pair, r_buf, stamps, *grads,
             d_bg)
        _next_stamp(I)
        d_background = None
        if background is not None and ctx.needs_input_grad[5]:
            # Undrawn pixels pass all of dL/dC to the background, drawn ones T_final of it.
            total = grad_out.sum((0, 2, 3), dtype=torch.float64) + torch.from_numpy(d_bg.sum(0))
            d_background = total.to(background.dtype)
        return (*(torch.from_numpy(x) for x in grads), None, d_background, None, None, None, None)


def rasterize_numba(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, colors: torch.Tensor,
                    depths: torch.Tensor, height: int, width: int, background: torch.Tensor | None,
                    alpha_min: float, alpha_max: float) -> torch.Tensor:
    """``(I, G, ...) -> (I, 3, H, W)`` by the kernels (CPU tensors; check :func:`usable`
    first). ``background``: None (black) or a ``(3,)`` tensor; ``alpha_min``, ``alpha_max``:
    the skip threshold and the clamp."""
    return _RasterizeNumba.apply(means2d, conics, opacities, colors, depths.detach(), background, height, width,
                                 alpha_min, alpha_max)
