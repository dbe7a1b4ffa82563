"""Rendering skeletons to images: DrAction (learnable, differentiable) and fixed baselines.

>>> from skeletonllm.render import DrAction, DrActionConfig, write_frames
>>> renderer = DrAction(DrActionConfig(image_size=448))
>>> frames = renderer.render_sequences([seq], num_frames=12)      # (1, 12, 3, 448, 448)
>>> write_frames(frames, "seq.gif")

Modules: gaussians (canonical Gaussians, descriptors, scales), skinning (LBS, SO(3)
projection), mat3 (batched 3x3 algebra for it), nfm (Neural Feature Modulator), colormap,
camera, projection (EWA), rasterize (dense reference + torch fast path), rasterize_numba and
raster_kernels (the compiled CPU rasteriser, optional), draction (the module),
fixed (ablation renderers), video (GIF / MP4 / contact sheet), files (render a file), demo
(a procedural figure for any built-in topology).
"""
from .draction import CONFIG_NAME, WEIGHTS_NAME, DrAction, DrActionConfig, render_grouped
from .fixed import JTMRenderer, ProjectionRenderer, VelocityRenderer, build_renderer
from .video import contact_sheet, write_frames

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "DrAction", "DrActionConfig", "JTMRenderer", "ProjectionRenderer",
           "VelocityRenderer", "build_renderer", "contact_sheet", "render_grouped", "write_frames"]
