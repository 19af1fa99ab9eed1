"""Nudged elastic bands between pairs of points, all bands batched.

Improved tangents (Henkelman and Jonsson 2000), climbing image (Henkelman,
Uberuaga and Jonsson 2000) and FIRE steps (Bitzek et al. 2006); all images
of all bands are evaluated in one batched call of ``f`` per iteration, on
the device of the end points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from lossbounds.landscape.newton import cap_rows, clamp_box
from lossbounds.landscape.surface import value_grad
from lossbounds.topology.options import MergeOptions

__all__ = ["run_bands"]

_F64 = torch.float64


def _tangents(R: torch.Tensor, E: torch.Tensor):
    """Improved tangents (Henkelman & Jonsson 2000) of bands R (B, M+2, d), energies E.

    Returns unit tangents (B, M, d) and the lengths of the segments after and
    before every movable image, (B, M) each.
    """
    tp, tm = R[:, 2:] - R[:, 1:-1], R[:, 1:-1] - R[:, :-2]
    dp, dm = E[:, 2:] - E[:, 1:-1], E[:, 1:-1] - E[:, :-2]
    dmax, dmin = torch.maximum(dp.abs(), dm.abs()), torch.minimum(dp.abs(), dm.abs())
    higher_next = E[:, 2:] > E[:, :-2]
    wp, wm = torch.where(higher_next, dmax, dmin), torch.where(higher_next, dmin, dmax)
    up, down = (dp > 0) & (dm > 0), (dp < 0) & (dm < 0)
    one, zero = torch.ones_like(wp), torch.zeros_like(wp)
    wp = torch.where(up, one, torch.where(down, zero, wp))
    wm = torch.where(up, zero, torch.where(down, one, wm))
    tau = wp[..., None] * tp + wm[..., None] * tm
    flat = tau.norm(dim=-1, keepdim=True) <= 1e-300
    tau = torch.where(flat, tp + tm, tau)
    tau = tau / tau.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return tau, tp.norm(dim=-1), tm.norm(dim=-1)


def _neb_forces(tau, lp, lm, G, spring: float, climb) -> torch.Tensor:
    """NEB forces (B, M, d): true force across the band plus spring force along it.

    ``climb`` (B,) indexes the climbing image of every band (or None): its
    force is the true force with the component along the band reversed.
    """
    gpar = (G * tau).sum(dim=-1, keepdim=True)
    F = -(G - gpar * tau) + spring * (lp - lm)[..., None] * tau
    if climb is not None:
        b = torch.arange(G.shape[0], device=G.device)
        F[b, climb] = -G[b, climb] + 2.0 * gpar[b, climb] * tau[b, climb]
    return F


@dataclass
class _Fire:
    """FIRE state per band (Bitzek et al. 2006)."""

    v: torch.Tensor
    dt: torch.Tensor
    alpha: torch.Tensor
    n_pos: torch.Tensor

    @classmethod
    def start(cls, R: torch.Tensor, dt: float) -> _Fire:
        B = R.shape[0]
        return cls(
            torch.zeros_like(R),
            torch.full((B,), dt, dtype=_F64, device=R.device),
            torch.full((B,), 0.1, dtype=_F64, device=R.device),
            torch.zeros(B, dtype=torch.long, device=R.device),
        )

    def step(self, act, F, cap, dt_max: float) -> torch.Tensor:
        """Update the state of bands ``act`` under forces F; return their moves (B', M, d)."""
        v = self.v[act]
        power = (F * v).sum(dim=(1, 2))
        fn = F.norm(dim=(1, 2), keepdim=True).clamp_min(1e-300)
        a = self.alpha[act][:, None, None]
        v = (1 - a) * v + a * v.norm(dim=(1, 2), keepdim=True) * F / fn
        pos = power > 0
        n_pos = torch.where(pos, self.n_pos[act] + 1, 0)
        grow = pos & (n_pos > 5)
        dt = torch.where(grow, torch.clamp(self.dt[act] * 1.1, max=dt_max), self.dt[act])
        dt = torch.where(pos, dt, dt * 0.5)
        alpha = torch.where(grow, self.alpha[act] * 0.99, self.alpha[act])
        alpha = torch.where(pos, alpha, torch.full_like(alpha, 0.1))
        v = torch.where(pos[:, None, None], v, torch.zeros_like(v)) + dt[:, None, None] * F
        self.v[act], self.dt[act], self.alpha[act], self.n_pos[act] = v, dt, alpha, n_pos
        return cap_rows(dt[:, None, None] * v, cap[:, None, None])


def run_bands(fn, A: torch.Tensor, Z: torch.Tensor, n_images: int, opts: MergeOptions, desc: str):
    """Climbing-image NEB between rows of A and Z (B, d), all bands batched.

    Returns the highest image of every band (B, d) (a tensor on A's
    device), its value (B,) and whether the band converged (B,) (numpy).
    """
    B, d = A.shape
    t = torch.linspace(0.0, 1.0, n_images + 2, dtype=_F64, device=A.device)[1:-1]
    R = A[:, None] + t[None, :, None] * (Z - A)[:, None]
    with torch.no_grad():
        EA, EZ = fn(A), fn(Z)
    cap = 0.5 * (Z - A).norm(dim=1) / (n_images + 1)
    fire = _Fire.start(R, opts.neb_dt)
    active = torch.ones(B, dtype=torch.bool, device=A.device)
    for it in tqdm(range(opts.neb_steps), disable=not opts.progress, desc=desc):
        act = torch.nonzero(active).flatten()
        if act.numel() == 0:
            break
        E, G = value_grad(fn, R[act].reshape(-1, d))
        E = torch.nan_to_num(E.reshape(act.numel(), n_images), nan=1e300, posinf=1e300)
        G = torch.nan_to_num(G.reshape(act.numel(), n_images, d))
        Ef = torch.cat([EA[act, None], E, EZ[act, None]], dim=1)
        Rf = torch.cat([A[act, None], R[act], Z[act, None]], dim=1)
        tau, lp, lm = _tangents(Rf, Ef)
        climbing = it >= opts.climb_after
        F = _neb_forces(tau, lp, lm, G, opts.spring, E.argmax(dim=1) if climbing else None)
        done = (F.norm(dim=-1).amax(dim=1) < opts.neb_tol) & climbing
        active[act[done]] = False
        move = fire.step(act[~done], F[~done], cap[act[~done]], 10 * opts.neb_dt)
        R[act[~done]] = clamp_box(R[act[~done]] + move, opts.box)
    with torch.no_grad():
        E = fn(R.reshape(-1, d)).reshape(B, n_images)
    E = torch.nan_to_num(E, nan=np.inf)
    top = E.argmax(dim=1)
    top_points = R[torch.arange(B, device=R.device), top]
    return top_points, E.max(dim=1).values.cpu().numpy(), (~active).cpu().numpy()
