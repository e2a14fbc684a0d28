"""NumPy-only forward passes of the exported surrogates (no torch at import or run time).

Weights are float32 arrays in an ``.npz`` written by :func:`.train.export`; the
``meta`` entry (JSON) records the kind of network, its trained domain and how it was made.
"""
from __future__ import annotations

import json
import os

import numpy as np

from atomcount.stem.ppiscs.surrogate.features import (
    EDGE_NODES, ELEMENT_Z, NODES, detector_basis, encode, encode_full, network_inputs,
)


def _swish(x: np.ndarray) -> np.ndarray:
    """x·sigmoid(x), computed in place on ``x`` (a fresh matmul result)."""
    e = np.negative(x)
    np.exp(e, out=e)
    e += 1
    return np.divide(x, e, out=x)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + eˣ), stable for any sign, computed in place on ``x``."""
    a = np.abs(x)
    np.negative(a, out=a)
    np.exp(a, out=a)
    np.log1p(a, out=a)
    np.maximum(x, 0, out=x)
    x += a
    return x


def settings_index(settings: list) -> dict[tuple[int, str], list[tuple[float, float]]]:
    """Trained (kV, rmsd) pairs per (Z, zone) from the domain's ``[Z, zone, kV, rmsd]`` list."""
    out: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for z, zone, kv, rmsd in settings:
        out.setdefault((int(z), str(zone)), []).append((float(kv), float(rmsd)))
    return out


#: Settings evaluated together: blocks this small keep the (BLOCK, 87·R) and (BLOCK, R·M)
#: intermediates in cache: 10.4 µs per curve against 13.4 µs in one block of 10 000 (one thread).
BLOCK = 256


class Surrogate:
    """A loaded surrogate: ``curves(...)`` gives PPISCS (B, 87) in Å² for B settings.

    Parameters
    ----------
    path : path
        ``.npz`` written by :func:`atomcount.stem.ppiscs.surrogate.train.export`.
    """

    def __init__(self, path: str | os.PathLike):
        with np.load(path) as f:
            self.meta: dict = json.loads(str(f["meta"]))
            self.arrays = {k: f[k] for k in f.files if k != "meta"}
        self.kind: str = self.meta["kind"]
        #: trained (kV, rmsd) settings per (Z, zone): the domain check's lookup
        self.settings_by_zone = settings_index(self.meta.get("domain", {}).get("settings", []))
        a = self.arrays
        if self.kind == "additive":
            n = sum(1 for k in a if k.startswith("trunk") and k.endswith("_w"))
            self.layers = [(a[f"trunk{k}_w"], a[f"trunk{k}_b"]) for k in range(n)]
            #: element indicators (features.network_inputs), recorded with the weights
            self.elements = bool(self.meta.get("model_kw", {}).get("element_onehot", False))
            #: n of features.alpha_harmonics: the first layer sees 6 + 2n (+ 8 indicators) inputs
            self.harmonics = (self.layers[0][0].shape[0] - 6 - (len(ELEMENT_Z) if self.elements else 0)) // 2
            self.rank = a["head_u_w"].shape[1] // 87
            nodes = a["nodes"].astype(np.float64)
            self.nodes = NODES if np.array_equal(nodes, NODES) else nodes
            edge = a["edge_nodes"].astype(np.float64) if "edge_nodes" in a else None
            self.edge_nodes = EDGE_NODES if edge is not None and np.array_equal(edge, EDGE_NODES) else edge
        else:
            n = sum(1 for k in a if k.startswith("hidden") and k.endswith("_w"))
            self.layers = [(a[f"hidden{k}_w"], a[f"hidden{k}_b"]) for k in range(n)]
            # a fully connected (ablation) network has no input growth
            self.dense = a["hidden1_w"].shape[0] > a["hidden0_w"].shape[1] if n > 1 else True

    def factors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Additive network: U (B, 87, R) and V·scale (B, R, M) for encoded settings ``x`` (B, 6)."""
        h = network_inputs(x, self.harmonics, self.elements).astype(np.float32)
        for w, b in self.layers:
            h = _swish(h @ w + b)
        a = self.arrays
        u = _softplus(h @ a["head_u_w"] + a["head_u_b"]).reshape(len(h), 87, self.rank)
        v = _softplus(h @ a["head_v_w"] + a["head_v_b"]).reshape(len(h), self.rank, -1)
        v *= a["v_scale"]
        return u, v

    def detector_basis(self, inner: np.ndarray, outer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Hat integrals (…, M) over detectors [inner, outer) (mrad) at convergence angles ``alpha`` (mrad)."""
        return detector_basis(inner, outer, alpha, self.nodes, self.edge_nodes).astype(np.float32)

    def curves(self, z, zone, kv, alpha, rmsd, inner, outer, cs_um=0.0, defocus=0.0) -> np.ndarray:
        """PPISCS (B, 87), Å², for broadcast arrays of settings (values past the zone's thickness are meaningless).

        Parameters
        ----------
        z, zone, kv, alpha, rmsd, inner, outer, cs_um, defocus : array_like
            Atomic number, zone axis ("100"/"110"), kV, α (mrad), rmsd (Å), θ0, θe (mrad),
            Cs (µm), C10 (Å). The additive network ignores Cs and C10: they drop out of the PPISCS.
        """
        args = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v)) for v in (z, zone, kv, alpha, rmsd, inner, outer, cs_um, defocus)))
        if args[0].ndim != 1:
            args = [a.ravel() for a in args]
        n = len(args[0])
        if n <= BLOCK:
            return self._block(*args)
        return np.concatenate([self._block(*(a[k:k + BLOCK] for a in args)) for k in range(0, n, BLOCK)])

    def _block(self, z, zone, kv, alpha, rmsd, inner, outer, cs_um, defocus) -> np.ndarray:
        """:meth:`curves` of one block of flat setting arrays."""
        if self.kind == "additive":
            u, v = self.factors(encode(z, zone, kv, alpha, rmsd))
            vb = v @ self.detector_basis(inner, outer, alpha)[:, :, None]  # (B, R, 1)
            return (u @ vb)[:, :, 0].astype(np.float64)
        h = encode_full(z, zone, kv, alpha, rmsd, inner, outer, cs_um, defocus).astype(np.float32)
        for w, b in self.layers:
            f = _swish(h @ w + b)
            h = np.concatenate([h, f], -1) if self.dense else f
        a = self.arrays
        return _softplus(h @ a["out_w"] + a["out_b"]).astype(np.float64)
