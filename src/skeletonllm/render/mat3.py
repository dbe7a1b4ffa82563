"""Batched 3x3 matrix algebra in an entry-major layout, for the many tiny matrices of LBS.

A batch of n matrices ``(..., 3, 3)`` is held as ``(9, n)``: row ``3 i + j`` holds entry
(i, j) of every matrix. Each product, cofactor or cross product is then a gather of whole
rows (one ``index_select``) and a few elementwise passes over contiguous rows. On CPU that is
several times faster than ``torch.bmm`` / ``torch.linalg.cross`` on ``(n, 3, 3)`` batches,
whose per-matrix overhead dominates at this size. Plain torch ops: autograd works through
them, though the SO(3) projection that uses them has its own backward.
"""
from __future__ import annotations

from functools import lru_cache

import torch


def to9(A: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` -> ``(9, n)`` contiguous."""
    return A.reshape(-1, 9).t().contiguous()


def from9(X: torch.Tensor, shape) -> torch.Tensor:
    """``(9, n)`` -> contiguous ``(*shape)`` with ``shape[-2:] == (3, 3)``."""
    return X.t().contiguous().view(shape)


@lru_cache(maxsize=None)
def _index(kind: str, device: str) -> torch.Tensor:
    e = lambda i, j: 3 * (i % 3) + (j % 3)  # noqa: E731  (row of entry (i, j), indices mod 3)
    grid = [(i, j) for i in range(3) for j in range(3)]
    if kind == "cof":      # C_ij = X_{i+1,j+1} X_{i+2,j+2} - X_{i+1,j+2} X_{i+2,j+1}
        rows = [[e(i + a, j + b) for i, j in grid] for a, b in ((1, 1), (2, 2), (1, 2), (2, 1))]
    elif kind in ("nn", "tn"):  # (A B)_ij = sum_k A_ik B_kj, (A^T B)_ij = sum_k A_ki B_kj: [A rows, B rows]
        rows = [[e(i, k) if kind == "nn" else e(k, i) for i, j in grid for k in range(3)],
                [e(k, j) for i, j in grid for k in range(3)]]
    elif kind == "rowcross":  # (u_i x v_i)_k for rows i: [u_{i,k+1}, v_{i,k+2}, u_{i,k+2}, v_{i,k+1}]
        rows = [[e(i, k + b) for i, k in grid] for b in (1, 2, 2, 1)]
    elif kind == "t":
        rows = [[e(j, i) for i, j in grid]]
    else:
        raise ValueError(kind)
    return torch.tensor([r for block in rows for r in block], device=device)


def _take(X: torch.Tensor, kind: str) -> torch.Tensor:
    return X.index_select(0, _index(kind, str(X.device)))


def cofactors(X: torch.Tensor) -> torch.Tensor:
    """``(9, n)`` -> cofactor matrices ``(9, n)`` (= det(X) X^-T)."""
    a, b, c, d = _take(X, "cof").view(4, 9, -1)
    return a * b - c * d


def det(X: torch.Tensor, cof: torch.Tensor | None = None) -> torch.Tensor:
    """``(9, n)`` -> ``(n,)`` determinants (row 0 of X against row 0 of its cofactors)."""
    cof = cofactors(X) if cof is None else cof
    return (X[:3] * cof[:3]).sum(0)


def matmul(A: torch.Tensor, B: torch.Tensor, transpose_a: bool = False) -> torch.Tensor:
    """``(9, n)`` x ``(9, n)`` -> A B (or A^T B) ``(9, n)``."""
    idx = _index("tn" if transpose_a else "nn", str(A.device))
    a = A.index_select(0, idx[:27]).view(9, 3, -1)
    b = B.index_select(0, idx[27:]).view(9, 3, -1)
    return (a * b).sum(1)


def transpose(X: torch.Tensor) -> torch.Tensor:
    """``(9, n)`` -> the transposed matrices ``(9, n)``."""
    return _take(X, "t")


def row_cross(U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``(9, n)`` x ``(9, n)`` -> ``(9, n)`` whose row i is (row i of U) x (row i of V)."""
    idx = _index("rowcross", str(U.device))
    u1, u2 = U.index_select(0, idx[:9]), U.index_select(0, idx[18:27])
    v2, v1 = V.index_select(0, idx[9:18]), V.index_select(0, idx[27:])
    return u1 * v2 - u2 * v1
