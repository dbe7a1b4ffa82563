"""DrAction: the differentiable Gaussian-splatting skeleton renderer (SPEC §3).

    skeleton batch -> canonical Gaussians (first valid frame of each body)
      -> LBS (+ SO(3) projection) -> posed means and covariances
      -> appearance from descriptors (+ NFM) and depth colour -> EWA projection
      -> front-to-back compositing -> frames (B, F, 3, H, W) in [0, 1]

Every learnable parameter is shared by all topologies: a small network turns each
Gaussian's descriptor (body part, side, joint-or-bone, position along the bone) into its
feature f_i, and the appearance head, scale head and NFM read only f_i and kinematics. The
same object renders NTU, Kinect v1, SMPL and COCO skeletons with the same weights.

Example::

    renderer = DrAction(DrActionConfig(image_size=224))
    frames = renderer(collate_sequences([seq], num_frames=12))      # (1, 12, 3, 224, 224)
    renderer.save_pretrained("ckpt/"); DrAction.from_pretrained("ckpt/")
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import ConfigError
from ..skeleton.batch import SkeletonBatch, collate_sequences
from ..skeleton.sequence import SkeletonSequence
from .camera import Camera, normalise_depth
from .colormap import depth_colors
from .gaussians import (DESCRIPTOR_DIM, GaussianLayout, build_layout, canonical_frame_index, canonical_joints,
                        canonical_scales)
from .nfm import NeuralFeatureModulator
from .projection import Splats, project_gaussians, project_rotated_gaussians
from .rasterize import rasterize
from .skinning import covariances, joint_rotations, project_so3, project_so3_svd, skin

WEIGHTS_NAME = "renderer.safetensors"
CONFIG_NAME = "renderer_config.json"


@dataclass
class DrActionConfig:
    """DrAction hyper-parameters (saved next to the weights as ``renderer_config.json``).

    Geometry: ``bones_samples`` K Gaussians per bone; canonical scale (standard deviation)
    ``alpha`` x median bone length at a joint, ``beta`` x bone length on a bone, never below
    ``min_scale`` (data units). ``learn_scales`` adds a learned per-Gaussian (anisotropic)
    log-scale from the descriptor feature, zero at initialisation. ``bone_overlap``: a bone
    stretched beyond its canonical length (2D detections, noisy capture) would fall apart into
    dots, so each bone Gaussian's standard deviation along its current bone direction is kept
    at least ``bone_overlap`` x the current spacing L / (K + 1) (0 turns this off; rigid bones
    with the default ``beta`` never trigger it).

    Appearance: ``feature_dim`` size of f_i; ``use_nfm`` / ``use_gru`` switch the modulator
    and its GRU (``gru_hidden``, ``nfm_hidden``). ``init_*`` set the untrained look: base
    colour and opacity logits, the saliency gate and lam = sigmoid(``init_mix_logit``), the
    share of learned colour against the depth colormap.

    Camera: ``fov_deg`` pinhole, ``image_size`` square frames; a sequence whose median depth
    is below ``depth_threshold`` is moved along z so its median sits at ``depth_shift``;
    ``auto_frame`` (off by default) instead centres the sequence and fits it into
    ``frame_fill`` of the view. ``depth_range_min`` is the smallest depth span the colormap
    stretches over. ``use_orientations`` uses joint orientation quaternions when the batch
    has them (full LBS); otherwise translation-only.

    ``rasterizer``: ``"fast"`` (default; on CPU the compiled rasteriser kernel where numba
    is there, else the pure-torch fast path), ``"torch"`` (the pure-torch fast path always) or
    ``"dense"``, the reference implementations throughout (dense rasteriser, SVD rotation fit,
    3x3 covariances and matmul projection); dense evaluates every Gaussian at every pixel, so
    only for tests on tiny images.
    """

    image_size: int = 448
    bones_samples: int = 10
    alpha: float = 0.12
    beta: float = 0.06
    min_scale: float = 0.002
    bone_overlap: float = 0.6
    learn_scales: bool = True
    feature_dim: int = 16
    descriptor_hidden: int = 32
    use_nfm: bool = True
    use_gru: bool = True
    gru_hidden: int = 10
    nfm_hidden: int = 32
    init_color_logit: float = 1.0
    init_opacity_logit: float = 2.0
    init_saliency_logit: float = 3.0
    init_mix_logit: float = -1.0
    fov_deg: float = 60.0
    near: float = 0.05
    depth_threshold: float = 1.0
    depth_shift: float = 3.0
    auto_frame: bool = False
    frame_fill: float = 0.8
    depth_range_min: float = 0.5
    use_orientations: bool = True
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rasterizer: str = "fast"

    def __post_init__(self):
        self.background = tuple(float(x) for x in self.background)
        if len(self.background) != 3:
            raise ConfigError(None, "background", f"need 3 values, got {self.background}")
        if self.image_size < 1:
            raise ConfigError(None, "image_size", f"must be positive, got {self.image_size}")
        if self.rasterizer not in ("fast", "torch", "dense"):
            raise ConfigError(None, "rasterizer", f"'{self.rasterizer}' is not one of fast, torch, dense")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["background"] = list(self.background)
        return d

    @classmethod
    def from_dict(cls, data: dict, source: str | None = None) -> "DrActionConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(source, key, f"unknown DrAction option (known: {sorted(known)})")
        return cls(**data)


class DrAction(nn.Module):
    """The learnable renderer. ``forward(batch) -> (B, F, 3, H, W)`` in [0, 1]."""

    def __init__(self, config: DrActionConfig | None = None, **overrides):
        super().__init__()
        config = config or DrActionConfig()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        c = config
        # f_i from topology-independent descriptors, never from a per-index table.
        self.features = nn.Sequential(nn.Linear(DESCRIPTOR_DIM, c.descriptor_hidden), nn.SiLU(),
                                      nn.Linear(c.descriptor_hidden, c.feature_dim))
        self.appearance = nn.Linear(c.feature_dim, 4)
        with torch.no_grad():
            self.appearance.weight.normal_(0.0, 0.05)
            self.appearance.bias[:3] = c.init_color_logit
            self.appearance.bias[3] = c.init_opacity_logit
        if c.learn_scales:
            self.scale_head = nn.Linear(c.feature_dim, 3)
            with torch.no_grad():  # exactly the SPEC scales at initialisation
                self.scale_head.weight.zero_()
                self.scale_head.bias.zero_()
        else:
            self.scale_head = None
        self.nfm = (NeuralFeatureModulator(c.nfm_hidden, c.use_gru, c.gru_hidden, c.init_saliency_logit)
                    if c.use_nfm else None)
        # Shape (1,), not a scalar: FSDP v2 (fully_shard) cannot shard 0-d parameters.
        self.mix_logit = nn.Parameter(torch.tensor([float(c.init_mix_logit)]))
        self._layouts: dict = {}

    # -- helpers ------------------------------------------------------------------------
    @property
    def camera(self) -> Camera:
        s = self.config.image_size
        return Camera.from_fov(s, s, self.config.fov_deg, near=self.config.near)

    def layout(self, topology, device) -> GaussianLayout:
        key = (topology, str(device))
        if key not in self._layouts:
            self._layouts[key] = build_layout(topology, self.config.bones_samples).to(device)
        return self._layouts[key]

    def appearance_of(self, layout: GaussianLayout):
        """Per-Gaussian feature f_i ``(N, feature_dim)``, base rgba logits ``(N, 4)`` and
        log-scale adjustment ``(N, 3)``."""
        dtype = self.appearance.weight.dtype
        f = self.features(layout.descriptors.to(dtype))
        base = self.appearance(f)
        log_scale = self.scale_head(f) if self.scale_head is not None else f.new_zeros(f.shape[0], 3)
        return f, base, log_scale

    # -- rendering ----------------------------------------------------------------------
    def forward(self, batch: SkeletonBatch) -> torch.Tensor:
        return self._render(batch)

    def render_saliency(self, batch: SkeletonBatch) -> torch.Tensor:
        """The NFM's saliency gate sigmoid(g) as a picture ``(B, F, 3, H, W)``: every Gaussian
        drawn in grey level sigmoid(g) (white: the gate keeps it, black: it fades it out), with
        its opacity before the gate, so the whole figure stays in view."""
        if self.nfm is None:
            raise ValueError("render_saliency needs the NFM (this DrAction has use_nfm=False)")
        return self._render(batch, saliency=True)

    def _render(self, batch: SkeletonBatch, saliency: bool = False) -> torch.Tensor:
        c = self.config
        p0 = self.mix_logit
        device, dtype = p0.device, p0.dtype
        topo = batch.topology
        joints = batch.joints.to(device=device, dtype=dtype)
        present = batch.present.to(device=device, dtype=torch.bool)
        if joints.dim() != 5 or joints.shape[-1] != 3:
            raise ValueError(f"batch.joints must be (B, F, M, J, 3), got {tuple(joints.shape)}")
        B, F, M, J, _ = joints.shape
        if J != topo.num_joints:
            raise ValueError(f"batch has {J} joints but topology '{topo.name}' has {topo.num_joints}")
        layout = self.layout(topo, device)
        N = layout.num_gaussians
        cam = self.camera
        S = c.image_size

        joints = normalise_depth(joints, present, c.depth_threshold, c.depth_shift, cam, c.auto_frame, c.frame_fill)
        canon = canonical_joints(joints, present)                                 # (B, M, J, 3)

        rotations = None
        if batch.orientations is not None and c.use_orientations and topo.dims == 3:
            q = batch.orientations.to(device=device, dtype=dtype)
            f0 = canonical_frame_index(present).view(B, 1, M, 1, 1).expand(B, 1, M, J, 4)
            rotations = joint_rotations(q, q.gather(1, f0).squeeze(1))
        reference = c.rasterizer == "dense"
        means, R = skin(joints, canon, layout, rotations, so3=project_so3_svd if reference else project_so3)

        _, base, log_scale = self.appearance_of(layout)
        scales = canonical_scales(canon, layout, c.alpha, c.beta, c.min_scale)    # (B, M, N)
        scales3 = (scales.unsqueeze(-1) * torch.exp(log_scale)).unsqueeze(1)      # (B, 1, M, N, 3)
        widen = self._bone_widening(joints, layout) if c.bone_overlap > 0 else None

        colour, opacity, gate = self._appearance(joints, present, canon, layout, base)  # (B,F,M,N,3), (B,F,M,N) x2
        # Depth colour over the sequence's joint depth range (constant per sequence).
        with torch.no_grad():
            z = joints[..., 2]
            mask = present.unsqueeze(-1).expand_as(z)
            big = torch.finfo(dtype).max
            near = torch.where(mask, z, big).flatten(1).amin(1).view(B, 1, 1, 1)
            far = torch.where(mask, z, -big).flatten(1).amax(1).view(B, 1, 1, 1)
            near = torch.where(near > far, torch.zeros_like(near), near)
            far = torch.maximum(far, near)
        dcol = depth_colors(means[..., 2], near, far, c.depth_range_min)
        lam = torch.sigmoid(self.mix_logit)
        colour = lam * colour + (1 - lam) * dcol
        if saliency:
            colour = gate.unsqueeze(-1).expand_as(colour)
        elif gate is not None:
            opacity = opacity * gate
        opacity = opacity * present.unsqueeze(-1).to(dtype)

        if reference:
            covs = covariances(scales3, R).expand(B, F, M, N, 3, 3)
            if widen is not None:
                d, target = widen
                along = (d.unsqueeze(-2) @ covs @ d.unsqueeze(-1))[..., 0, 0]
                covs = covs + torch.relu(target - along)[..., None, None] * (d.unsqueeze(-1) * d.unsqueeze(-2))
            splats = project_gaussians(means, covs, cam)
        else:
            splats = project_rotated_gaussians(means, R, scales3, cam, widen)
        splats = Splats(*(x.reshape(B * F, M * N, *x.shape[4:]) for x in (splats.means2d, splats.cov2d,
                                                                          splats.conics, splats.depths, splats.valid)))
        img = rasterize(splats, colour.reshape(B * F, M * N, 3), opacity.reshape(B * F, M * N), S, S,
                        background=c.background, method=c.rasterizer)
        return img.view(B, F, 3, S, S)

    def _bone_widening(self, joints, layout):
        """Each Gaussian's current bone direction d ``(B, F, M, N, 3)`` and the variance m
        ``(B, F, M, N)`` its covariance must reach along it: (``bone_overlap`` x the current
        spacing L / (K + 1))^2 (0 for joint Gaussians, whose d is 0)."""
        p_a, p_b = layout.ends(joints)
        vec = p_b - p_a                                                            # 0 for joint Gaussians
        length2 = vec.square().sum(-1)
        d = vec / (length2 + 1e-12).sqrt().unsqueeze(-1)
        target = (self.config.bone_overlap / (self.config.bones_samples + 1)) ** 2 * length2
        return d, target

    def _appearance(self, joints, present, canon, layout, base):
        """Colour ``(B, F, M, N, 3)`` in [0, 1] before depth blending, opacity ``(B, F, M, N)``
        before the NFM's saliency gate, and the gate ``(B, F, M, N)`` in (0, 1) (None without
        the NFM)."""
        B, F, M, J, _ = joints.shape
        N = layout.num_gaussians
        if self.nfm is None:
            colour = torch.sigmoid(base[:, :3]).expand(B, F, M, N, 3)
            opacity = torch.sigmoid(base[:, 3]).expand(B, F, M, N)
            return colour, opacity, None
        # Kinematics in body units: centred on the body's mean position over the sequence,
        # divided by the RMS spread of its canonical joints, so metres, normalised units and
        # 2D formats all feed the modulator numbers of order one.
        with torch.no_grad():
            w = present.to(joints.dtype).view(B, F, M, 1, 1)
            centre = (joints * w).sum((1, 3), keepdim=True) / (w.sum(1, keepdim=True) * J).clamp(min=1)
            spread = (canon - canon.mean(-2, keepdim=True)).square().sum(-1).mean(-1).sqrt()
            unit = spread.clamp(min=1e-3).view(B, 1, M, 1, 1)
        here = present.to(joints.dtype).view(B, F, M, 1, 1)
        rel = (joints - centre) / unit * here          # absent bodies feed zeros to the GRU
        vel = torch.zeros_like(rel)
        both = (present[:, 1:] & present[:, :-1]).to(joints.dtype).view(B, F - 1, M, 1, 1)
        vel[:, 1:] = (rel[:, 1:] - rel[:, :-1]) * both
        t = layout.t.to(joints.dtype)[:, None]
        pos_vel = torch.lerp(*layout.ends(torch.cat([rel, vel], -1)), t)         # (B, F, M, N, 6)
        d_col, d_op, g = self.nfm(pos_vel[..., :3], pos_vel[..., 3:], base)
        colour = torch.sigmoid(base[:, :3] + d_col)
        return colour, torch.sigmoid(base[:, 3] + d_op), torch.sigmoid(g)

    def render_sequences(self, sequences: Sequence[SkeletonSequence], num_frames: int = 12,
                         max_bodies: int | None = None) -> torch.Tensor:
        """Render sequences of any topologies (one batch per topology), evenly sampled to
        ``num_frames`` (evaluation sampling). Returns ``(B, F, 3, H, W)`` in input order;
        differentiable like ``forward`` (wrap in ``torch.no_grad()`` just to look)."""
        return render_grouped(self, sequences, num_frames, max_bodies)

    # -- persistence --------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``renderer.safetensors`` and ``renderer_config.json`` into ``directory``
        (each atomically; other files there, e.g. a SkeletonLLM checkpoint, are kept)."""
        from safetensors.torch import save
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        atomic_write_bytes(directory / WEIGHTS_NAME, save(tensors))
        atomic_write_text(directory / CONFIG_NAME, json.dumps(self.config.to_dict(), indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location=None, **overrides) -> "DrAction":
        """Load a renderer written by :meth:`save_pretrained` (or a SkeletonLLM checkpoint
        directory holding those two files). ``overrides`` change options that do not affect
        the weights (e.g. ``image_size=224``)."""
        from safetensors.torch import load_file
        directory = Path(directory)
        cfg_path, w_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for p in (cfg_path, w_path):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: not found (a DrAction checkpoint directory holds "
                                        f"{CONFIG_NAME} and {WEIGHTS_NAME})")
        try:
            data = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(cfg_path, "<file>", f"not valid JSON: {exc}") from None
        config = DrActionConfig.from_dict(data, source=str(cfg_path))
        model = cls(config, **overrides)
        state = load_file(str(w_path))
        if "mix_logit" in state and state["mix_logit"].dim() == 0:  # written when it was a 0-d parameter
            state["mix_logit"] = state["mix_logit"].reshape(1)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ConfigError(w_path, "<weights>", f"do not match the config: missing {missing}, unexpected {unexpected}")
        return model.to(map_location) if map_location is not None else model


def render_grouped(renderer: nn.Module, sequences: Sequence[SkeletonSequence], num_frames: int = 12,
                   max_bodies: int | None = None) -> torch.Tensor:
    """Render sequences of mixed topologies with any renderer: one batch per topology,
    results back in input order. ``-> (B, F, 3, H, W)``."""
    if not sequences:
        raise ValueError("render_sequences needs at least one sequence")
    groups: dict = {}
    for i, s in enumerate(sequences):
        groups.setdefault(s.topology, []).append(i)
    out: list = [None] * len(sequences)
    for topo, idx in groups.items():
        batch = collate_sequences([sequences[i] for i in idx], num_frames=num_frames, max_bodies=max_bodies)
        frames = renderer(batch)
        for j, i in enumerate(idx):
            out[i] = frames[j]
    return torch.stack(out)
