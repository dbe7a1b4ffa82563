"""Neural Feature Modulator: pose-conditioned colour and opacity (SPEC §3).

Per Gaussian i and frame t the input is x = [pos, vel, base rgba] where pos and vel are the
LBS-weighted joint position and velocity and base rgba is what the appearance head predicts
from the Gaussian's (topology-independent) feature. An optional single-layer GRU runs over
the frames of each Gaussian; a two-layer ReLU MLP then predicts (delta colour 3, delta
opacity 1, saliency logit g):

    colour  = sigmoid(base colour logit + delta colour)
    opacity = sigmoid(base opacity logit + delta opacity) * sigmoid(g)

The output layer starts with small weights and a bias that opens the saliency gate, so an
untrained modulator barely changes the base appearance (but every weight gets a gradient).
"""
from __future__ import annotations

import torch
from torch import nn

IN_DIM = 3 + 3 + 4
OUT_DIM = 3 + 1 + 1


class NeuralFeatureModulator(nn.Module):
    def __init__(self, hidden: int = 32, use_gru: bool = True, gru_hidden: int = 10,
                 init_saliency_logit: float = 3.0):
        super().__init__()
        self.gru = nn.GRU(IN_DIM, gru_hidden, num_layers=1, batch_first=True) if use_gru else None
        d = gru_hidden if use_gru else IN_DIM
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, OUT_DIM))
        with torch.no_grad():
            self.mlp[-1].weight.normal_(0.0, 1e-2)
            self.mlp[-1].bias.zero_()
            self.mlp[-1].bias[4] = init_saliency_logit

    def forward(self, pos: torch.Tensor, vel: torch.Tensor, base: torch.Tensor):
        """Modulation for every Gaussian at every frame.

        Args:
            pos: ``(B, F, M, N, 3)`` normalised aggregated positions.
            vel: ``(B, F, M, N, 3)`` normalised aggregated velocities.
            base: ``(N, 4)`` base colour logits (3) and opacity logit (1).
        Returns:
            ``(delta_colour (B, F, M, N, 3), delta_opacity (B, F, M, N), saliency (B, F, M, N))``.
        """
        B, F, M, N, _ = pos.shape
        rgba = torch.sigmoid(base).expand(B, F, M, N, 4)
        x = torch.cat([pos, vel, rgba], dim=-1)                                   # (B, F, M, N, 10)
        if self.gru is not None:
            seq = x.permute(0, 2, 3, 1, 4).reshape(B * M * N, F, IN_DIM)
            h, _ = self.gru(seq)
            x = h.reshape(B, M, N, F, -1).permute(0, 3, 1, 2, 4)
        out = self.mlp(x)
        return out[..., :3], out[..., 3], out[..., 4]
