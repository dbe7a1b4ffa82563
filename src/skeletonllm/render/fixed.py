"""Fixed (non-learnable) renderers for the ablation of SPEC §3 / paper Table 4.

All three follow DrAction's contract ``forward(batch) -> (B, F, 3, H, W)`` in [0, 1], use the
same camera and depth normalisation (so a figure lands where DrAction draws it), run batched
in torch on any device, and have no parameters. They draw hard-edged discs along segments
with a z-buffer, so they are not differentiable (nothing in them is learned).

* :class:`ProjectionRenderer` "2D projection": white stick figure, joints as dots.
* :class:`VelocityRenderer` "3D + velocity": bones coloured by depth (red near, blue far, as
  DrAction's colormap); joints coloured by speed (dark red slow -> white fast) and drawn
  larger the faster they move.
* :class:`JTMRenderer` joint trajectory maps (Wang et al., 2016): each frame shows, in three
  orthographic views (front x-y, side z-y, top x-z) plus the current pose, the trajectory of
  every joint from the first frame up to the current one; colour encodes time (jet, blue ->
  red) and brightness the joint's speed.
"""
from __future__ import annotations

import torch
from torch import nn

from ..skeleton.batch import SkeletonBatch
from .camera import Camera, normalise_depth
from .colormap import depth_colors, hot, jet


def draw_segments(p0: torch.Tensor, p1: torch.Tensor, colors0: torch.Tensor, colors1: torch.Tensor,
                  depth0: torch.Tensor, depth1: torch.Tensor, radius: torch.Tensor, valid: torch.Tensor,
                  height: int, width: int, background=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Draw capsules (thick segments; a dot is a segment with p0 == p1) with a z-buffer.

    Scan conversion: each capsule is walked along its major axis one pixel at a time and,
    at each step, only the few pixels across it are tested (distance to the segment <=
    radius). Colour and depth are interpolated along the segment; the nearest pixel
    (then the lowest segment index) wins.

    Args:
        p0, p1: ``(I, E, 2)`` end points in pixels (u, v).
        colors0, colors1: ``(I, E, 3)`` colours at the ends.
        depth0, depth1: ``(I, E)`` depths at the ends.
        radius: ``(I, E)`` half-width in pixels.
        valid: ``(I, E)`` bool, segments to draw.
    Returns:
        ``(I, 3, H, W)``.
    """
    I, E, _ = p0.shape
    dev, dt = p0.device, p0.dtype
    H, W = height, width
    out = torch.tensor(background, dtype=dt, device=dev).view(1, 3, 1).repeat(I, 1, H * W)
    lim = 4.0 * (H + W)  # anything further out cannot touch the image
    valid = valid & torch.isfinite(p0).all(-1) & torch.isfinite(p1).all(-1) & torch.isfinite(radius)
    valid &= (p0.abs() < lim).all(-1) & (p1.abs() < lim).all(-1)
    idx = valid.reshape(-1).nonzero().squeeze(1)                                   # drawn segments
    if idx.numel() == 0:
        return out.view(I, 3, H, W)
    a0, a1 = p0.reshape(-1, 2)[idx], p1.reshape(-1, 2)[idx]
    r = radius.reshape(-1)[idx].clamp(min=0.5, max=lim)
    d = a1 - a0
    ymajor = d[:, 1].abs() > d[:, 0].abs()
    # (major, minor) coordinates: swap x/y for steep segments.
    sw = lambda q: torch.where(ymajor.unsqueeze(1), q.flip(1), q)                 # noqa: E731
    m0, m1 = sw(a0), sw(a1)
    lo_m = torch.minimum(m0[:, 0], m1[:, 0]) - r
    hi_m = torch.maximum(m0[:, 0], m1[:, 0]) + r
    size_m = torch.where(ymajor, torch.full_like(r, H), torch.full_like(r, W))
    start = torch.floor(lo_m - 0.5).clamp(0, lim).long()
    stop = torch.minimum(torch.ceil(hi_m - 0.5).clamp(-1, lim).long(), size_m.long() - 1)
    steps = (stop - start + 1).clamp(min=0)
    R = int(steps.sum())
    seg = torch.repeat_interleave(torch.arange(idx.numel(), device=dev), steps, output_size=R)
    major = start[seg] + torch.arange(R, device=dev) - (torch.cumsum(steps, 0) - steps)[seg]
    # Centre of the capsule across this step (clamped to the segment), conservative width.
    dm = m1[seg, 0] - m0[seg, 0]
    slope = torch.where(dm.abs() > 1e-9, (m1[seg, 1] - m0[seg, 1]) / torch.where(dm.abs() > 1e-9, dm, torch.ones_like(dm)),
                        torch.zeros_like(dm))
    lo_a = torch.minimum(m0[seg, 0], m1[seg, 0])
    hi_a = torch.maximum(m0[seg, 0], m1[seg, 0])
    at = torch.minimum(torch.maximum(major.to(dt) + 0.5, lo_a), hi_a)
    centre = m0[seg, 1] + (at - m0[seg, 0]) * slope
    half = r[seg] * torch.sqrt(1 + slope * slope) + 1.0
    size_n = torch.where(ymajor[seg], torch.full_like(half, W), torch.full_like(half, H)).long()
    lo_n = torch.floor(centre - half - 0.5).clamp(0, lim).long()
    hi_n = torch.minimum(torch.ceil(centre + half - 0.5).clamp(-1, lim).long(), size_n - 1)
    cnt = (hi_n - lo_n + 1).clamp(min=0)
    P = int(cnt.sum())
    row = torch.repeat_interleave(torch.arange(R, device=dev), cnt, output_size=P)
    minor = lo_n[row] + torch.arange(P, device=dev) - (torch.cumsum(cnt, 0) - cnt)[row]
    s = seg[row]
    ym = ymajor[s]
    x = torch.where(ym, minor, major[row])
    y = torch.where(ym, major[row], minor)
    # Exact test: pixel centre within r of the segment.
    c = torch.stack([x.to(dt) + 0.5, y.to(dt) + 0.5], 1)
    ds = d[s]
    den = (ds * ds).sum(1)
    t = torch.where(den > 0, ((c - a0[s]) * ds).sum(1) / torch.where(den > 0, den, torch.ones_like(den)),
                    torch.zeros_like(den)).clamp(0, 1)
    dist2 = ((c - a0[s] - t.unsqueeze(1) * ds) ** 2).sum(1)
    hit = dist2 <= r[s] ** 2
    s, t, x, y = s[hit], t[hit], x[hit], y[hit]
    gseg = idx[s]                                                                 # global segment id
    img = gseg // E
    depth = depth0.reshape(-1)[gseg] * (1 - t) + depth1.reshape(-1)[gseg] * t
    col = colors0.reshape(-1, 3)[gseg] * (1 - t).unsqueeze(1) + colors1.reshape(-1, 3)[gseg] * t.unsqueeze(1)
    # z-buffer on a packed key: quantised depth, then segment index (ties -> lowest index).
    if depth.numel() == 0:
        return out.view(I, 3, H, W)
    dmin, dmax = depth.min(), depth.max()
    dq = ((depth - dmin) / (dmax - dmin).clamp(min=1e-12) * (2**30)).long()
    key = dq * (2**32) + gseg
    pix = img * (H * W) + y * W + x
    zbuf = torch.full((I * H * W,), torch.iinfo(torch.long).max, dtype=torch.long, device=dev)
    zbuf.scatter_reduce_(0, pix, key, "amin")
    win = key == zbuf[pix]
    pix, col, img = pix[win], col[win], img[win]
    flat = out.view(-1)
    base = img * (3 * H * W) + (pix - img * (H * W))
    for ch in range(3):
        flat[base + ch * (H * W)] = col[:, ch]
    return out.view(I, 3, H, W)


def draw_trajectories(points: torch.Tensor, colors: torch.Tensor, valid: torch.Tensor, radius: float,
                      size: int, background=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Joint trajectories up to each frame: frame g shows every step f - 1 -> f with f <= g, the
    later steps on top, as :func:`draw_trajectories_reference` does by drawing all of them again
    for every frame.

    Each step is drawn once, on a layer of its own whose background is a sentinel (-1: no colour
    is negative), and frame g lays layers 1..g over each other: F layers instead of F (F + 1) / 2
    steps drawn, the same pixels (tests compare the two).

    Args:
        points: ``(B, F, M, J, 2)`` joint positions in pixels.
        colors: ``(B, F, M, J, 3)`` colour of the step that ends at each frame, in [0, 1].
        valid: ``(B, F, M, J)`` bool, the step ending there is drawn (False at frame 0).
    Returns:
        ``(B, F, 3, size, size)``.
    """
    B, F, M, J, _ = points.shape
    prev = torch.cat([points[:, :1], points[:, :-1]], 1)
    n = M * J
    col = colors.reshape(B * F, n, 3)
    # Depth -f as the reference gives it: the z-buffer's ties within a step then fall as there.
    depth = -torch.arange(F, device=points.device, dtype=points.dtype).view(1, F, 1).expand(B, F, n).reshape(B * F, n)
    layers = draw_segments(prev.reshape(B * F, n, 2), points.reshape(B * F, n, 2), col, col, depth, depth,
                           torch.full_like(depth, radius), valid.reshape(B * F, n), size, size,
                           (-1.0, -1.0, -1.0)).view(B, F, 3, size, size)
    current = torch.tensor(background, dtype=layers.dtype, device=layers.device).view(1, 3, 1, 1)
    current = current.expand(B, 3, size, size)
    frames = []
    for f in range(F):
        current = torch.where(layers[:, f, :1] >= 0, layers[:, f], current)
        frames.append(current)
    return torch.stack(frames, 1)


def draw_trajectories_reference(points: torch.Tensor, colors: torch.Tensor, valid: torch.Tensor, radius: float,
                                size: int, background=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """:func:`draw_trajectories` the plain way: every frame g draws all steps f <= g again in one
    z-buffered pass, depth -f putting later steps on top. Same arguments, same ``(B, F, 3, size, size)``."""
    B, F, M, J, _ = points.shape
    dev = points.device
    prev = torch.cat([points[:, :1], points[:, :-1]], 1)
    n = F * M * J
    p0 = prev.reshape(B, 1, n, 2).expand(B, F, n, 2)
    p1 = points.reshape(B, 1, n, 2).expand(B, F, n, 2)
    col = colors.reshape(B, 1, n, 3).expand(B, F, n, 3)
    seg_frame = torch.arange(F, device=dev).view(F, 1, 1).expand(F, M, J).reshape(1, 1, n)
    g = torch.arange(F, device=dev).view(1, F, 1)
    val = valid.reshape(B, 1, n) & (seg_frame <= g)
    depth = (-seg_frame.to(points.dtype)).expand(B, F, n)
    rad = torch.full((B, F, n), radius, device=dev)
    out = draw_segments(p0.reshape(B * F, n, 2), p1.reshape(B * F, n, 2), col.reshape(B * F, n, 3),
                        col.reshape(B * F, n, 3), depth.reshape(B * F, n), depth.reshape(B * F, n),
                        rad.reshape(B * F, n), val.reshape(B * F, n), size, size, background)
    return out.view(B, F, 3, size, size)


class _FixedRenderer(nn.Module):
    """Shared set-up: camera, depth normalisation, line widths relative to the image size.

    ``supersample`` k > 1 draws every frame k times larger and averages each k x k block: the
    same picture, anti-aliased, so that at a small ``image_size`` a line's position within a
    pixel shows as its brightness (DrAction's Gaussians are smooth by nature). Line widths stay
    what they are without it (at least one pixel of ``image_size``).
    """

    def __init__(self, image_size: int = 448, fov_deg: float = 60.0, depth_threshold: float = 1.0,
                 depth_shift: float = 3.0, auto_frame: bool = False, frame_fill: float = 0.8,
                 line_width: float = 0.01, joint_radius: float = 0.008, near: float = 0.05,
                 background=(0.0, 0.0, 0.0), supersample: int = 1):
        super().__init__()
        if int(supersample) < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self.image_size = int(image_size)
        self.supersample = int(supersample)
        self.draw_size = self.image_size * self.supersample
        self.camera = Camera.from_fov(self.draw_size, self.draw_size, fov_deg, near=near)
        self.depth_threshold, self.depth_shift = depth_threshold, depth_shift
        self.auto_frame, self.frame_fill = auto_frame, frame_fill
        self.line_radius = max(1.0, 0.5 * line_width * self.image_size) * self.supersample
        self.joint_radius = max(1.0, joint_radius * self.image_size) * self.supersample
        self.background = tuple(float(x) for x in background)

    @torch.no_grad()
    def forward(self, batch: SkeletonBatch) -> torch.Tensor:
        """``batch -> (B, F, 3, H, W)`` in [0, 1]."""
        frames = self._draw(batch)
        if self.supersample == 1:
            return frames
        B, F = frames.shape[:2]
        small = torch.nn.functional.avg_pool2d(frames.flatten(0, 1), self.supersample)
        return small.view(B, F, 3, self.image_size, self.image_size)

    def render_sequences(self, sequences, num_frames: int = 12, max_bodies: int | None = None) -> torch.Tensor:
        """Sequences of any topologies -> ``(B, F, 3, H, W)`` (as :meth:`DrAction.render_sequences`)."""
        from .draction import render_grouped
        return render_grouped(self, sequences, num_frames, max_bodies)

    def _prepare(self, batch: SkeletonBatch):
        joints = batch.joints.float()
        present = batch.present.to(joints.device).bool()
        joints = normalise_depth(joints, present, self.depth_threshold, self.depth_shift, self.camera,
                                 self.auto_frame, self.frame_fill)
        return joints, present

    def _bones(self, batch: SkeletonBatch, device):
        bones = torch.tensor(batch.topology.bones, dtype=torch.long, device=device).reshape(-1, 2)
        return bones[:, 0], bones[:, 1]

    def _stick(self, joints, present, bone_col0, bone_col1, joint_col, joint_rad, batch):
        """Project and draw bones + joints for every frame: ``-> (B, F, 3, S, S)`` (S: the drawing size)."""
        B, F, M, J, _ = joints.shape
        S = self.draw_size
        a, b = self._bones(batch, joints.device)
        uv = self.camera.project_points(joints)                                   # (B, F, M, J, 2)
        z = joints[..., 2]
        front = (z > self.camera.near) & present.unsqueeze(-1)
        E = a.numel()
        bvalid = front[..., a] & front[..., b]
        p0 = torch.cat([uv[..., a, :], uv], dim=-2)                                # bones, then joints
        p1 = torch.cat([uv[..., b, :], uv], dim=-2)
        c0 = torch.cat([bone_col0, joint_col], dim=-2)
        c1 = torch.cat([bone_col1, joint_col], dim=-2)
        # Joints drawn slightly in front of their bones so the dots stay visible.
        z0 = torch.cat([z[..., a], z - 1e-3], dim=-1)
        z1 = torch.cat([z[..., b], z - 1e-3], dim=-1)
        rad = torch.cat([torch.full_like(z[..., a], self.line_radius), joint_rad], dim=-1)
        val = torch.cat([bvalid, front], dim=-1)
        n = E + J
        img = draw_segments(p0.reshape(B * F, M * n, 2), p1.reshape(B * F, M * n, 2),
                            c0.reshape(B * F, M * n, 3), c1.reshape(B * F, M * n, 3),
                            z0.reshape(B * F, M * n), z1.reshape(B * F, M * n), rad.reshape(B * F, M * n),
                            val.reshape(B * F, M * n), S, S, self.background)
        return img.view(B, F, 3, S, S)


class ProjectionRenderer(_FixedRenderer):
    """Plain 2D projection: a white stick figure on black."""

    def _draw(self, batch: SkeletonBatch) -> torch.Tensor:
        joints, present = self._prepare(batch)
        B, F, M, J, _ = joints.shape
        E = batch.topology.num_bones
        white_b = torch.ones(B, F, M, E, 3, device=joints.device)
        white_j = torch.ones(B, F, M, J, 3, device=joints.device)
        rad = torch.full((B, F, M, J), self.joint_radius, device=joints.device)
        return self._stick(joints, present, white_b, white_b, white_j, rad, batch)


def _speed(joints: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per-joint speed between consecutive frames ``(B, F, M, J)``, normalised to [0, 1] by
    each sequence's largest speed (0 where the previous frame is missing)."""
    B, F = joints.shape[:2]
    sp = torch.zeros(joints.shape[:-1], device=joints.device, dtype=joints.dtype)
    if F > 1:
        both = (present[:, 1:] & present[:, :-1]).unsqueeze(-1)
        sp[:, 1:] = torch.where(both, (joints[:, 1:] - joints[:, :-1]).norm(dim=-1), torch.zeros_like(sp[:, 1:]))
        sp[:, 0] = sp[:, 1]
    top = sp.flatten(1).amax(1).clamp(min=1e-6).view(B, 1, 1, 1)
    return sp / top


class VelocityRenderer(_FixedRenderer):
    """"3D + velocity": depth-coloured bones, speed-coloured and speed-sized joints (a joint's
    radius grows by ``speed_growth`` x its radius at the clip's top speed)."""

    def __init__(self, *args, depth_range_min: float = 0.5, speed_growth: float = 1.5, **kwargs):
        super().__init__(*args, **kwargs)
        self.depth_range_min = depth_range_min
        self.speed_growth = float(speed_growth)

    def _draw(self, batch: SkeletonBatch) -> torch.Tensor:
        joints, present = self._prepare(batch)
        B, F, M, J, _ = joints.shape
        a, b = self._bones(batch, joints.device)
        z = joints[..., 2]
        mask = present.unsqueeze(-1).expand_as(z)
        big = torch.finfo(z.dtype).max
        near = torch.where(mask, z, big).flatten(1).amin(1).view(B, 1, 1, 1)
        far = torch.where(mask, z, -big).flatten(1).amax(1).view(B, 1, 1, 1)
        near = torch.where(near > far, torch.zeros_like(near), near)
        far = torch.maximum(far, near)
        dcol = depth_colors(z, near, far, self.depth_range_min)                   # (B, F, M, J, 3)
        speed = _speed(joints, present)
        jcol = hot(speed)
        rad = self.joint_radius * (1.0 + self.speed_growth * speed)
        return self._stick(joints, present, dcol[..., a, :], dcol[..., b, :], jcol, rad, batch)


class JTMRenderer(_FixedRenderer):
    """Joint trajectory maps: front / side / top trajectories up to each frame (2 x 2 grid,
    the fourth panel shows the current pose from the front). A trajectory segment's brightness
    grows with the joint's speed, from ``min_brightness`` (still) to 1 (the clip's fastest)."""

    def __init__(self, *args, min_brightness: float = 0.35, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_brightness = float(min_brightness)

    def _draw(self, batch: SkeletonBatch) -> torch.Tensor:
        joints, present = self._prepare(batch)
        B, F, M, J, _ = joints.shape
        S = self.draw_size
        half = S // 2
        dev = joints.device
        views = [(0, 1), (2, 1), (0, 2)]                      # (horizontal axis, vertical axis)
        # Per-sequence orthographic framing of each view: centre and a common scale.
        mask = present.view(B, F, M, 1, 1).expand(B, F, M, J, 1)
        big = torch.finfo(joints.dtype).max
        lo = torch.where(mask, joints, big).flatten(1, 3).amin(1)                # (B, 3)
        hi = torch.where(mask, joints, -big).flatten(1, 3).amax(1)
        lo = torch.where(lo > hi, torch.zeros_like(lo), lo)
        hi = torch.maximum(hi, lo)
        centre = 0.5 * (lo + hi)
        extent = (hi - lo).amax(1).clamp(min=1e-3)                                # (B,)
        scale = (0.85 * half / extent).view(B, 1, 1, 1)

        speed = _speed(joints, present)                                           # (B, F, M, J)
        # Trajectory segments frame f-1 -> f for every joint, drawn in frame g when f <= g.
        tcol = jet(torch.linspace(0, 1, max(F, 2), device=dev)[:F])               # (F, 3)
        lo = self.min_brightness
        bright = (lo + (1.0 - lo) * speed).unsqueeze(-1)                           # (B, F, M, J, 1)
        seg_col = tcol.view(1, F, 1, 1, 3) * bright                               # (B, F, M, J, 3)
        both = present.clone()
        both[:, 1:] &= present[:, :-1]
        both[:, 0] = False
        canvas = torch.zeros(B, F, 3, S, S, device=dev)
        radius = max(1.0, self.line_radius * 0.6)
        for vi, (h, v) in enumerate(views):
            x = (joints[..., h] - centre[:, h].view(B, 1, 1, 1)) * scale + half / 2
            # Vertical axis up on screen (y up; in the top view, far = large z at the top).
            y = -(joints[..., v] - centre[:, v].view(B, 1, 1, 1)) * scale + half / 2
            p = torch.stack([x, y], -1)                                           # (B, F, M, J, 2)
            panel = draw_trajectories(p, seg_col, both.unsqueeze(-1).expand(B, F, M, J), radius, half, self.background)
            oy, ox = (vi // 2) * half, (vi % 2) * half
            canvas[:, :, :, oy:oy + half, ox:ox + half] = panel
        # Fourth panel: the current pose, front view, white.
        x = (joints[..., 0] - centre[:, 0].view(B, 1, 1, 1)) * scale + half / 2
        y = -(joints[..., 1] - centre[:, 1].view(B, 1, 1, 1)) * scale + half / 2
        p = torch.stack([x, y], -1)
        a, b = self._bones(batch, dev)
        E = a.numel()
        ok = present.unsqueeze(-1)
        p0 = torch.cat([p[..., a, :], p], -2).reshape(B * F, M * (E + J), 2)
        p1 = torch.cat([p[..., b, :], p], -2).reshape(B * F, M * (E + J), 2)
        white = torch.ones(B * F, M * (E + J), 3, device=dev)
        zero = torch.zeros(B * F, M * (E + J), device=dev)
        rad = torch.cat([torch.full((B, F, M, E), max(1.0, self.line_radius * 0.6), device=dev),
                         torch.full((B, F, M, J), max(1.0, self.joint_radius * 0.6), device=dev)], -1)
        val = torch.cat([ok.expand(B, F, M, E), ok.expand(B, F, M, J)], -1)
        panel = draw_segments(p0, p1, white, white, zero, zero, rad.reshape(B * F, -1), val.reshape(B * F, -1),
                              half, half, self.background)
        canvas[:, :, :, half:2 * half, half:2 * half] = panel.view(B, F, 3, half, half)
        return canvas


RENDERERS = {"velocity": VelocityRenderer, "projection": ProjectionRenderer, "jtm": JTMRenderer}


def build_renderer(name: str, **kwargs) -> nn.Module:
    """A renderer by name: ``"draction"`` (keyword arguments are :class:`DrActionConfig`
    fields), ``"velocity"``, ``"projection"`` or ``"jtm"`` (``image_size``, camera options)."""
    key = name.lower().replace("-", "_")
    if key == "draction":
        from .draction import DrAction, DrActionConfig
        return DrAction(DrActionConfig(**kwargs))
    if key not in RENDERERS:
        raise ValueError(f"unknown renderer '{name}': choose draction, {', '.join(RENDERERS)}")
    return RENDERERS[key](**kwargs)
