"""The two PPISCS networks (torch; training only — inference runs in :mod:`.numpy_infer`).

* :class:`DenseNet1D` — paper 001 §2.2: every layer sees the input and all earlier
  layers' features, swish activations, softplus output per number of atoms. Input:
  :func:`~.features.encode_full` (settings, θ0, θe, Cs, C10).
* :class:`AdditiveNet` — additive over detectors by construction. From the settings
  alone (:func:`~.features.encode`: Z, kV, rmsd, α, zone — no aberrations, which drop
  out of the PPISCS) it predicts a non-negative angular density per number of atoms,
  ``ρ_n(θ) = s · Σ_r U_nr Σ_m V_rm p_m h_m(θ)`` with U, V ≥ 0 (softplus), a fixed
  fall-off p_m = (θ_m / 50 mrad)^-3 and hats h_m on :data:`~.features.NODES` (and, with
  ``edge=True``, on θ − α at :data:`~.features.EDGE_NODES`, for the bright-field disc
  edge). With ``alpha_harmonics=n`` the settings are followed by 2n harmonics of α
  (:func:`~.features.alpha_harmonics`, computed outside the network). The PPISCS of [θ0, θe) is ``ρ``
  integrated, i.e. linear in
  ``b`` = :func:`~.features.detector_basis`: non-negative and exactly additive over
  contiguous detectors, for any weights.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from atomcount.stem.ppiscs.surrogate.features import EDGE_NODES, EDGE_PRIOR_ALPHA, ELEMENT_Z, N_OUT, NODES


def _activation(name: str) -> nn.Module:
    return {"swish": nn.SiLU(), "relu": nn.ReLU()}[name]


class DenseNet1D(nn.Module):
    """Densely connected MLP: layer k sees concat(input, f_0, …, f_{k-1}); output softplus (87).

    Parameters
    ----------
    n_in : int
        Input size.
    growth : int
        Units per layer (G; the first layer has G too, as in the paper).
    layers : int
        Hidden layers (n_lay).
    dense : bool
        False gives a plain fully connected network of the same widths (ablation).
    activation : str
        "swish" or "relu".
    """

    def __init__(self, n_in: int = 10, growth: int = 160, layers: int = 13, dense: bool = True, activation: str = "swish"):
        super().__init__()
        self.dense = dense
        sizes = [n_in + k * growth if dense else (n_in if k == 0 else growth) for k in range(layers + 1)]
        self.hidden = nn.ModuleList(nn.Linear(sizes[k], growth) for k in range(layers))
        self.out = nn.Linear(sizes[layers], N_OUT)
        self.act = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """PPISCS (B, 87), Å²."""
        feats = x
        for layer in self.hidden:
            f = self.act(layer(feats))
            feats = torch.cat([feats, f], -1) if self.dense else f
        return nn.functional.softplus(self.out(feats))


class AdditiveNet(nn.Module):
    """Non-negative angular density network (see module notes).

    Parameters
    ----------
    n_in : int
        Size of the settings' encoding (6), before the harmonics.
    width, depth : int
        Trunk MLP (swish).
    rank : int
        R of the non-negative factorisation U (87 × R) · V (R × M).
    edge : bool
        Add the hats on θ − α (:data:`~.features.EDGE_NODES`) to the basis.
    alpha_harmonics : int
        n of :func:`~.features.alpha_harmonics`: the network's input is (B, n_in + 2n).
    element_onehot : bool
        The input ends with one indicator per element (:func:`~.features.network_inputs`): 8 more inputs.
    """

    def __init__(self, n_in: int = 6, width: int = 128, depth: int = 4, rank: int = 8, edge: bool = False,
                 alpha_harmonics: int = 0, element_onehot: bool = False):
        super().__init__()
        self.alpha_harmonics, self.element_onehot = alpha_harmonics, element_onehot
        n_in += 2 * alpha_harmonics + (len(ELEMENT_Z) if element_onehot else 0)
        layers: list[nn.Module] = []
        for k in range(depth):
            layers += [nn.Linear(n_in if k == 0 else width, width), nn.SiLU()]
        self.trunk = nn.Sequential(*layers)
        centres = np.concatenate([NODES, EDGE_PRIOR_ALPHA + EDGE_NODES]) if edge else NODES
        self.rank, self.n_nodes, self.edge = rank, len(centres), edge
        self.head_u = nn.Linear(width, N_OUT * rank)
        self.head_v = nn.Linear(width, rank * self.n_nodes)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1e-2)))
        # fixed prior of the density's fall-off (≈ θ^-3, Rutherford-like) so that the
        # factors only learn O(1) corrections over the 18…250 mrad range
        self.register_buffer("prior", torch.as_tensor((centres / 50.0) ** -3.0, dtype=torch.float32))

    def factors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """U (B, 87, R) and V (B, R, M), both ≥ 0; V carries the scale. ``x``: encoded settings with harmonics."""
        h = self.trunk(x)
        u = nn.functional.softplus(self.head_u(h)).view(-1, N_OUT, self.rank)
        v = nn.functional.softplus(self.head_v(h)).view(-1, self.rank, self.n_nodes) * (self.prior * self.log_scale.exp())
        return u, v

    def forward(self, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """PPISCS (B, D, 87), Å², of D detectors per setting; ``b`` (B, D, M) from :func:`~.features.detector_basis`."""
        u, v = self.factors(x)
        vb = torch.einsum("brm,bdm->bdr", v, b)
        return torch.einsum("bnr,bdr->bdn", u, vb)
