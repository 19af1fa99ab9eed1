"""Merge trees of a function on R^d: minima joined by minimum-energy paths.

The H0 persistence diagram of the sublevel filtration ``{f <= c}`` of a Morse
function on R^d is decided by its minima and by the index-1 saddles that join
their basins: a component is born at a minimum's value and dies, by the elder
rule, at the lowest level at which a path joins it to a component born
earlier. :func:`merge_tree` measures that diagram for the basins it finds, in
any dimension (Wales' disconnectivity graphs; Draxler et al. 2018 for
networks):

1. **Minima.** All starts are descended at once (batched Levenberg-Marquardt
   for an MSE :class:`~lossbounds.landscape.surface.LossSurface`, otherwise batched
   gradient descent with a per-point step that grows on success and halves
   on failure), then polished by batched saddle-free Newton steps (Hessian
   eigenvalues replaced by their absolute values plus a per-point
   Levenberg regularisation), and kept when the gradient is below
   ``grad_tol`` and the Hessian is positive definite.
   They are deduplicated (Euclidean tolerance, or modulo a symmetry group
   with :func:`lossbounds.landscape.symmetry.dedup_modulo_group`; then the minima are
   stored as canonical representatives).
2. **Paths.** Every minimum is paired with its ``n_neighbors`` nearest minima
   (distance between canonical forms modulo the group), plus the edges of
   their Euclidean minimum spanning tree so that the pairs connect all minima.
   Each pair is joined by a nudged elastic band (improved tangent, climbing
   image, FIRE steps); all images of all bands are evaluated in one batched
   call of ``f`` per iteration. With a small group the band ends at the image
   ``g m_j`` of the second minimum nearest to ``m_i``.
3. **Saddles.** Each climbing image is refined by eigenvector-following
   Newton steps (ascend along the lowest Hessian mode, descend along the
   others) to an index-1 saddle (gradient below ``grad_tol``, exactly one
   negative Hessian eigenvalue). Its two sides are descended (from
   ``s +- push * v``, ``v`` the negative mode) to the minima it joins; a
   minimum reached this way that was not known is added. A refined saddle
   gives an edge between the minima it joins at its value; a band whose
   refinement fails, or whose saddle joins other minima than the band's
   ends, also gives an edge between the band's ends at the band maximum
   (an upper bound of their merge level, flagged in :class:`Saddles`).
4. **Tree.** Kruskal's union-find over the edges in order of level with the
   elder rule gives the merge tree and the diagram; with ``max_rounds > 1``
   the number of neighbours doubles until the diagram stops changing.

All tensors are float64; the work runs on one torch thread by default
(option ``threads``), which is fastest for these small batches. A
:class:`~lossbounds.landscape.surface.LossSurface` on a GPU (``device="cuda"``)
evaluates ``f`` and its derivatives there; the bands, steps and trees stay on the host.

The diagram is exact for the basins found when every merge of the true merge
tree is the saddle of some band; it misses minima no start reached (see the
saturation curve and :func:`chao1`) and can put a merge too high when the
band of the joining saddle was not run (raise ``n_neighbors`` or
``max_rounds``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields

import numpy as np
import torch
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist
from tqdm.auto import tqdm

from lossbounds._checks import check_int
from lossbounds.landscape.surface import LossSurface
from lossbounds.landscape.symmetry import dedup_modulo_group

__all__ = [
    "MergeOptions",
    "Saddles",
    "MergeTree",
    "merge_tree",
    "chao1",
]

_F64 = torch.float64


# ---------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MergeOptions:
    """Options of :func:`merge_tree` (pass them as keyword arguments).

    Attributes
    ----------
    descent : {"auto", "gd", "lm"}
        First stage from every start (and from both sides of every saddle):
        ``"gd"`` batched gradient descent; ``"lm"`` batched
        Levenberg-Marquardt (:func:`lossbounds.landscape.optimize.minimize_lm`, for a
        LossSurface with the MSE loss; much faster on networks; ``box`` is
        not applied during it); ``"auto"`` picks ``"lm"`` when it applies.
    lm_steps : int
        Levenberg-Marquardt iterations (>= 1).
    descent_steps : int
        Largest number of batched gradient-descent iterations (>= 0).
    descent_step : float
        Initial step size of gradient descent (> 0).
    descent_tol : float
        Gradient norm below which gradient descent hands over to Newton (> 0).
    newton_steps : int
        Largest number of Newton iterations, for minima and for saddles (>= 0).
    max_step : float
        Longest step of any descent or Newton iteration (Euclidean, > 0).
    grad_tol : float
        Gradient norm below which a point counts as critical (> 0).
    rel_tol, abs_tol : float
        A Hessian eigenvalue counts as zero when its modulus is at most
        ``max(abs_tol, rel_tol * max |lambda|)`` (> 0).
    dedup_tol : float
        Distance (modulo the group) under which two critical points are one (> 0).
    n_neighbors : int
        Nearest minima paired with each minimum in the first round (>= 1).
    max_rounds : int
        Rounds of pairing; each further round doubles ``n_neighbors`` and
        runs the bands of the new pairs; the rounds stop early when the
        diagram did not change or no pair is new (>= 1).
    n_images : int
        Movable images per band (>= 3).
    neb_steps : int
        Largest number of band iterations (>= 1).
    neb_tol : float
        A band stops when every image's force is below this (> 0).
    spring : float
        Spring constant of the band (> 0).
    neb_dt : float
        Initial FIRE time step (> 0; the largest is ten times it).
    climb_after : int
        Iterations before the highest image starts climbing (>= 0).
    push : float
        Distance from a saddle along its negative mode where the descents to
        the minima it joins start (> 0).
    check_bands : int
        Bands of the merge tree re-run with twice the images to measure the
        convergence of the barriers (>= 0).
    box : float or None
        When given, every point is clamped to ``[-box, box]^d`` (> 0).
    exact_limit : int
        Largest group order for which distances modulo the group are exact
        orbit distances (otherwise canonical forms are compared).
    threads : int or None
        torch intra-op threads during the call, restored afterwards (>= 1).
        The batches are small, so one thread is usually fastest, and on a
        busy machine several threads can be many times slower; None keeps
        torch's setting.
    progress : bool
        tqdm progress bars.
    """

    # descent from the starts
    descent: str = "auto"
    lm_steps: int = 100
    descent_steps: int = 2000
    descent_step: float = 0.05
    descent_tol: float = 1e-3
    # Newton polish and classification
    newton_steps: int = 40
    max_step: float = 0.5
    grad_tol: float = 1e-7
    rel_tol: float = 1e-8
    abs_tol: float = 1e-12
    # deduplication and pairs
    dedup_tol: float = 1e-4
    n_neighbors: int = 4
    max_rounds: int = 3
    # elastic bands
    n_images: int = 12
    neb_steps: int = 400
    neb_tol: float = 1e-3
    # FIRE dynamics of the bands
    spring: float = 1.0
    neb_dt: float = 0.1
    climb_after: int = 30
    # saddles, checks, run time
    push: float = 1e-2
    check_bands: int = 8
    box: float | None = None
    exact_limit: int = 512
    threads: int | None = 1
    progress: bool = False

    def __post_init__(self):
        """Check every option and raise ValueError naming the bad one."""
        if self.descent not in ("auto", "gd", "lm"):
            raise ValueError(f"descent must be 'auto', 'gd' or 'lm', got {self.descent!r}")
        minimum = {
            "lm_steps": 1,
            "n_neighbors": 1,
            "max_rounds": 1,
            "n_images": 3,
            "neb_steps": 1,
            "threads": 1,
        }
        for fld in fields(self):
            value = getattr(self, fld.name)
            if fld.name == "descent":
                continue
            if fld.name == "progress":
                if not isinstance(value, bool):
                    raise ValueError(f"progress must be True or False, got {value!r}")
            elif value is None and fld.type.endswith("| None"):
                continue
            elif fld.type.startswith("int"):
                low = minimum.get(fld.name, 0)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | np.integer)
                    or value < low
                ):
                    raise ValueError(f"{fld.name} must be an integer >= {low}, got {value!r}")
            else:
                ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
                if not (ok and math.isfinite(value) and value > 0):
                    raise ValueError(f"{fld.name} must be a finite number > 0, got {value!r}")


def _options(options: dict) -> MergeOptions:
    names = {f.name for f in fields(MergeOptions)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; accepted options: {sorted(names)}")
    return MergeOptions(**options)


# ---------------------------------------------------------------------------
# batched derivatives
# ---------------------------------------------------------------------------
def _value_grad(fn, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Values (K,) and gradients (K, d) at the rows of X, one call of ``fn``."""
    x = X.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        v = fn(x)
        (g,) = torch.autograd.grad(v.sum(), x)
    return v.detach(), g


def _hessians(fn, X: torch.Tensor, max_entries: int = 2**22) -> torch.Tensor:
    """Symmetrised Hessians (K, d, d) by double backward, chunked to bound memory."""
    K, d = X.shape
    out = torch.zeros(K, d, d, dtype=_F64)
    eye = torch.eye(d, dtype=_F64)
    chunk = max(1, max_entries // (d * d))
    for s in range(0, K, chunk):
        x = X[s : s + chunk].detach().clone().requires_grad_(True)
        k = x.shape[0]
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # vmap fallback notices
            (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
            if not g.requires_grad:  # f affine: zero Hessian
                continue
            (H,) = torch.autograd.grad(
                g, x, eye[:, None, :].expand(d, k, d), is_grads_batched=True, allow_unused=True
            )
        if H is not None:
            out[s : s + k] = H.transpose(0, 1)
    out = torch.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return 0.5 * (out + out.transpose(1, 2))


def _cap(step: torch.Tensor, max_len) -> torch.Tensor:
    """Shorten every row (last axis) of ``step`` to length at most ``max_len``."""
    n = step.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return step * torch.clamp(torch.as_tensor(max_len, dtype=_F64) / n, max=1.0)


def _clamp(X: torch.Tensor, box) -> torch.Tensor:
    return X if box is None else X.clamp(-box, box)


def _index(lam: np.ndarray, opts: MergeOptions) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of negative and of zero eigenvalues per row of ``lam`` (K, d)."""
    tau = np.maximum(opts.abs_tol, opts.rel_tol * np.abs(lam).max(axis=1))[:, None]
    return (lam < -tau).sum(axis=1), (np.abs(lam) <= tau).sum(axis=1)


# ---------------------------------------------------------------------------
# descent and Newton
# ---------------------------------------------------------------------------
class _Target:
    """The function on tensors, and the LossSurface behind it (or None)."""

    def __init__(self, f):
        if isinstance(f, LossSurface):
            self.fn, self.surface = f.losses, f
        elif callable(f):
            self.fn, self.surface = f, None
        else:
            raise ValueError(
                f"f must be a LossSurface or a callable on (K, d) float64 tensors, got {type(f)!r}"
            )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) on the host; a surface on another device evaluates there (differentiably)."""
        if self.surface is None or self.surface.device == x.device:
            return self.fn(x)
        return self.fn(x.to(self.surface.device)).to(x.device)

    def use_lm(self, opts: MergeOptions) -> bool:
        lm_ok = self.surface is not None and self.surface.loss == "mse"
        if opts.descent == "lm" and not lm_ok:
            raise ValueError("descent='lm' needs f to be a LossSurface with the MSE loss")
        return opts.descent == "lm" or (opts.descent == "auto" and lm_ok)


def _descend(fn, X: torch.Tensor, opts: MergeOptions, desc: str) -> torch.Tensor:
    """First stage of the descent: Levenberg-Marquardt or gradient descent (see ``descent``)."""
    if isinstance(fn, _Target) and fn.use_lm(opts) and X.shape[0]:
        from lossbounds.landscape.optimize import minimize_lm

        P, _ = minimize_lm(fn.surface, X.numpy(), opts.lm_steps, 0, progress=opts.progress)
        return torch.as_tensor(P, dtype=_F64)
    return _gradient_descent(fn, X, opts, desc)


def _gradient_descent(fn, X: torch.Tensor, opts: MergeOptions, desc: str) -> torch.Tensor:
    """Batched gradient descent, per-point step x1.2 on decrease and x0.5 otherwise.

    Points stop when their gradient norm is below ``descent_tol`` (or their
    step has shrunk below 1e-14). Returns the end points (K, d).
    """
    X = _clamp(X.detach().clone(), opts.box)
    v, g = _value_grad(fn, X)
    g = torch.nan_to_num(g)
    eta = torch.full((X.shape[0],), opts.descent_step, dtype=_F64)
    for _ in tqdm(range(opts.descent_steps), disable=not opts.progress, desc=desc):
        act = torch.nonzero((g.norm(dim=1) > opts.descent_tol) & (eta > 1e-14)).flatten()
        if act.numel() == 0:
            break
        xn = _clamp(X[act] - _cap(eta[act, None] * g[act], opts.max_step), opts.box)
        vn, gn = _value_grad(fn, xn)
        ok = torch.isfinite(vn) & torch.isfinite(gn).all(dim=1) & (vn < v[act])
        idx = act[ok]
        X[idx], v[idx], g[idx] = xn[ok], vn[ok], gn[ok]
        eta[idx] *= 1.2
        eta[act[~ok]] *= 0.5
    return X


def _newton_step(lam, V, g, saddle: bool, opts: MergeOptions, reg) -> torch.Tensor:
    """Regularised saddle-free Newton step (eigenvector following to index 1 if ``saddle``).

    Along every Hessian eigenvector the step is ``-g_i / (|lambda_i| + r)``
    (uphill ``+g_0 / (|lambda_0| + r)`` along the lowest one for saddles),
    with ``r = reg * max |lambda|`` per point and ``|lambda_i|`` clamped to
    ``abs_tol``: flat directions give bounded steps, and a large ``reg``
    turns the step into a short gradient step.
    """
    scale = lam.abs().amax(dim=1, keepdim=True).clamp_min(opts.abs_tol)
    denom = lam.abs().clamp_min(opts.abs_tol) + reg[:, None] * scale
    comp = (V.transpose(1, 2) @ g[..., None])[..., 0]
    coef = -comp / denom
    if saddle:
        coef[:, 0] = comp[:, 0] / denom[:, 0]  # uphill along the lowest mode
    return _cap((V @ coef[..., None])[..., 0], opts.max_step)


def _improves(v, gnorm, vn, gn, saddle: bool) -> torch.Tensor:
    """Whether new points (values vn, gradients gn) improve on old ones (v, gnorm)."""
    ok = torch.isfinite(vn) & torch.isfinite(gn).all(dim=1)
    shorter = gn.norm(dim=1) < gnorm
    if saddle:
        return ok & shorter
    flat = vn <= v + 1e-13 * (1.0 + v.abs())
    return ok & ((vn < v) | (flat & shorter))


def _newton(fn, X: torch.Tensor, opts: MergeOptions, saddle: bool, desc: str):
    """Batched Levenberg-damped Newton polish of minima (of index-1 saddles if ``saddle``).

    A step is kept when it lowers the value (minima; or keeps it within
    rounding and lowers the gradient) or the gradient norm (saddles). Per
    Hessian, up to four regularisations ``reg, 10 reg, 100 reg, 1000 reg``
    are tried (shorter, more gradient-like steps); after a success ``reg``
    is the successful one divided by 10 (down to 1e-12), after four
    failures it is multiplied by 1e4 (the point stops above 1e6). Returns
    points (K, d), values (K,), gradient norms (K,) and Hessian spectra
    (K, d), ascending, all numpy.
    """
    X = _clamp(X.detach().clone(), opts.box)
    v, g = _value_grad(fn, X)
    reg = torch.full((X.shape[0],), 1e-3, dtype=_F64)
    for _ in tqdm(range(opts.newton_steps), disable=not opts.progress, desc=desc):
        act = torch.nonzero((g.norm(dim=1) > opts.grad_tol) & (reg < 1e6)).flatten()
        if act.numel() == 0:
            break
        lam, V = torch.linalg.eigh(_hessians(fn, X[act]))
        todo = torch.ones(act.numel(), dtype=torch.bool)
        for factor in (1.0, 10.0, 100.0, 1000.0):
            sub = torch.nonzero(todo).flatten()
            if sub.numel() == 0:
                break
            pts, r = act[sub], reg[act[sub]] * factor
            step = _newton_step(lam[sub], V[sub], g[pts], saddle, opts, r)
            xn = _clamp(X[pts] + step, opts.box)
            vn, gn = _value_grad(fn, xn)
            ok = _improves(v[pts], g[pts].norm(dim=1), vn, gn, saddle)
            idx = pts[ok]
            X[idx], v[idx], g[idx] = xn[ok], vn[ok], gn[ok]
            reg[idx] = torch.clamp(r[ok] * 0.1, min=1e-12)
            todo[sub[ok]] = False
        reg[act[todo]] *= 1e4
    lam = torch.linalg.eigvalsh(_hessians(fn, X)) if X.shape[0] else torch.zeros(0, X.shape[1])
    return X.numpy(), v.numpy(), g.norm(dim=1).numpy(), lam.numpy()


# ---------------------------------------------------------------------------
# nudged elastic bands
# ---------------------------------------------------------------------------
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
        b = torch.arange(G.shape[0])
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
            torch.full((B,), dt, dtype=_F64),
            torch.full((B,), 0.1, dtype=_F64),
            torch.zeros(B, dtype=torch.long),
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
        return _cap(dt[:, None, None] * v, cap[:, None, None])


def _neb(fn, A: torch.Tensor, Z: torch.Tensor, n_images: int, opts: MergeOptions, desc: str):
    """Climbing-image NEB between rows of A and Z (B, d), all bands batched.

    Returns the highest image of every band (B, d), its value (B,) and
    whether the band converged (B,), numpy.
    """
    B, d = A.shape
    t = torch.linspace(0.0, 1.0, n_images + 2, dtype=_F64)[1:-1]
    R = A[:, None] + t[None, :, None] * (Z - A)[:, None]
    with torch.no_grad():
        EA, EZ = fn(A), fn(Z)
    cap = 0.5 * (Z - A).norm(dim=1) / (n_images + 1)
    fire = _Fire.start(R, opts.neb_dt)
    active = torch.ones(B, dtype=torch.bool)
    for it in tqdm(range(opts.neb_steps), disable=not opts.progress, desc=desc):
        act = torch.nonzero(active).flatten()
        if act.numel() == 0:
            break
        E, G = _value_grad(fn, R[act].reshape(-1, d))
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
        R[act[~done]] = _clamp(R[act[~done]] + move, opts.box)
    with torch.no_grad():
        E = fn(R.reshape(-1, d)).reshape(B, n_images)
    E = torch.nan_to_num(E, nan=np.inf)
    top = E.argmax(dim=1)
    return R[torch.arange(B), top].numpy(), E.max(dim=1).values.numpy(), (~active).numpy()


# ---------------------------------------------------------------------------
# minima modulo the group
# ---------------------------------------------------------------------------
class _Catalogue:
    """Known minima (canonical forms when a group is given) and matching against them."""

    def __init__(self, d: int, group, opts: MergeOptions):
        self.group, self.opts = group, opts
        self.points = np.empty((0, d))
        self.values = np.empty(0)
        self._orbits: dict[int, np.ndarray] = {}
        self.exact = group is not None and group.order <= opts.exact_limit

    def canonical(self, P: np.ndarray) -> np.ndarray:
        if self.group is None or len(P) == 0:
            return np.asarray(P, dtype=np.float64)
        return np.stack([self.group.canonical(p) for p in P])

    def orbit(self, i: int) -> np.ndarray:
        if i not in self._orbits:
            self._orbits[i] = self.group.orbit(self.points[i], max_order=self.opts.exact_limit)
        return self._orbits[i]

    def add(self, P: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Append points (already distinct); return their indices."""
        start = len(self.values)
        self.points = np.concatenate([self.points, self.canonical(P)])
        self.values = np.concatenate([self.values, values])
        return np.arange(start, len(self.values))

    def match(self, p: np.ndarray) -> int:
        """Index of the known minimum within ``dedup_tol`` of ``p`` modulo G, or -1."""
        if len(self.values) == 0:
            return -1
        dist = np.linalg.norm(self.points - self.canonical(p[None])[0], axis=1)
        best = int(np.argmin(dist))
        if dist[best] <= self.opts.dedup_tol:
            return best
        if self.exact:  # canonical forms jump near bias ties: check nearby orbits exactly
            for i in np.argsort(dist)[:8]:
                if np.min(np.linalg.norm(self.orbit(int(i)) - p, axis=1)) <= self.opts.dedup_tol:
                    return int(i)
        return -1

    def align(self, i: int, j: int) -> np.ndarray:
        """Return the image of minimum j nearest to minimum i (exact orbit for small groups)."""
        if not self.exact:
            return self.points[j]
        orb = self.orbit(j)
        return orb[np.argmin(np.linalg.norm(orb - self.points[i], axis=1))]


def _dedup(P: np.ndarray, values: np.ndarray, group, opts: MergeOptions):
    """Return representatives (R,) and the class of every point (K,), greedy by value."""
    order = np.argsort(values, kind="stable")
    if group is not None:
        return dedup_modulo_group(
            P, group, tol=opts.dedup_tol, order=order, exact_limit=opts.exact_limit
        )
    from scipy.spatial import cKDTree

    assign = np.full(len(P), -1)
    reps: list[int] = []
    tree = cKDTree(P)
    for i in order:
        if assign[i] >= 0:
            continue
        near = np.asarray(tree.query_ball_point(P[i], opts.dedup_tol), dtype=int)
        assign[near[assign[near] < 0]] = len(reps)
        reps.append(int(i))
    return np.array(reps, dtype=int), assign


def chao1(hits) -> float:
    """Chao1 estimate of the number of classes from how often each was seen.

    Parameters
    ----------
    hits : array_like of int, shape (k,)
        Times each observed class was hit (entries of 0 are ignored).

    Returns
    -------
    float
        ``k_obs + f1^2 / (2 f2)`` with f1, f2 the numbers of classes hit once
        and twice; when ``f2 = 0`` the bias-corrected ``k_obs + f1 (f1 - 1) / 2``.
    """
    h = np.asarray(hits)
    if h.ndim != 1 or (h.size and (h.min() < 0 or not np.issubdtype(h.dtype, np.integer))):
        raise ValueError(f"hits must be a 1-D array of non-negative integers, got {hits!r}")
    h = h[h > 0]
    f1, f2 = int(np.sum(h == 1)), int(np.sum(h == 2))
    if f2 > 0:
        return float(h.size + f1 * f1 / (2.0 * f2))
    return float(h.size + f1 * (f1 - 1) / 2.0)


def _saturation(assign: np.ndarray) -> np.ndarray:
    """Distinct classes among the first s+1 entries of ``assign`` (-1 ignored), shape (S,)."""
    first = np.zeros(len(assign), dtype=int)
    seen: set[int] = set()
    for s, a in enumerate(assign):
        if a >= 0 and a not in seen:
            seen.add(int(a))
            first[s] = 1
    return np.cumsum(first)


def _candidate_pairs(points: np.ndarray, k: int, dense_limit: int = 4000) -> np.ndarray:
    """Pairs (P, 2), i < j: each point with its k nearest, plus a spanning tree."""
    n = len(points)
    if n < 2:
        return np.empty((0, 2), dtype=int)
    if n > dense_limit:
        from scipy.spatial import cKDTree

        _, nb = cKDTree(points).query(points, k=min(k, n - 1) + 1)
        D = None
    else:
        D = cdist(points, points)
        nb = np.argsort(D, axis=1, kind="stable")[:, : min(k, n - 1) + 1]
    rows = np.repeat(np.arange(n), nb.shape[1])
    pairs = np.stack([rows, nb.ravel()], axis=1)
    if D is not None:
        tree = minimum_spanning_tree(np.maximum(D, 1e-300) * (1 - np.eye(n))).tocoo()
        pairs = np.concatenate([pairs, np.stack([tree.row, tree.col], axis=1)])
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    return np.unique(pairs, axis=0)


# ---------------------------------------------------------------------------
# saddles and edges
# ---------------------------------------------------------------------------
@dataclass
class Saddles:
    """One row per band (a path between a candidate pair of minima).

    Attributes
    ----------
    points : numpy.ndarray, shape (E, d)
        Refined saddle (or the band's highest image when refinement failed).
    values : numpy.ndarray, shape (E,)
        ``f`` at ``points``.
    pairs : numpy.ndarray of int, shape (E, 2)
        The minima (indices into ``MergeTree.minima``) the band joined.
    ends : numpy.ndarray of int, shape (E, 2)
        The minima reached by descending from both sides of a refined saddle
        (-1 when the saddle was not refined or a side ended elsewhere).
    index : numpy.ndarray of int, shape (E,)
        Number of negative Hessian eigenvalues at ``points``.
    refined : numpy.ndarray of bool, shape (E,)
        Newton refinement reached an index-1 saddle (gradient <= ``grad_tol``).
    band_max : numpy.ndarray, shape (E,)
        Highest value among the band's images.
    fallback : numpy.ndarray of bool, shape (E,)
        The band's ends were joined at ``band_max`` (refinement failed, or the
        saddle joins other minima than the band's ends).
    converged : numpy.ndarray of bool, shape (E,)
        The band's forces fell below ``neb_tol``.
    distinct : numpy.ndarray of int, shape (E,)
        Class of the refined saddle among the distinct index-1 saddles
        (modulo the group), -1 if not refined.
    """

    points: np.ndarray
    values: np.ndarray
    pairs: np.ndarray
    ends: np.ndarray
    index: np.ndarray
    refined: np.ndarray
    band_max: np.ndarray
    fallback: np.ndarray
    converged: np.ndarray
    distinct: np.ndarray

    @classmethod
    def concat(cls, parts: list[Saddles], d: int) -> Saddles:
        """Join the rows of several ``Saddles`` (points of dimension ``d``)."""
        if not parts:
            empty = np.empty(0)
            return cls(
                np.empty((0, d)),
                empty,
                np.empty((0, 2), int),
                np.empty((0, 2), int),
                empty.astype(int),
                empty.astype(bool),
                empty,
                empty.astype(bool),
                empty.astype(bool),
                empty.astype(int),
            )
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    @property
    def levels(self) -> np.ndarray:
        """Merge level of every band: saddle value if refined, else band maximum, shape (E,)."""
        return np.where(self.refined, self.values, self.band_max)


def _saddle_ends(fn, cat: _Catalogue, S: np.ndarray, opts: MergeOptions, discover: bool):
    """Minima joined by each saddle S (E', d): descend from S +- push * (negative mode)."""
    if len(S) == 0:
        return np.empty((0, 2), dtype=int)
    St = torch.as_tensor(S, dtype=_F64)
    v0 = torch.linalg.eigh(_hessians(fn, St))[1][:, :, 0]
    X = torch.cat([St + opts.push * v0, St - opts.push * v0])
    P, vals, gn, lam = _newton(fn, _descend(fn, X, opts, "saddle ends"), opts, False, "ends")
    neg, zero = _index(lam, opts)
    is_min = (gn <= opts.grad_tol) & (neg == 0) & (zero == 0)
    ends = np.full(len(P), -1)
    for i in np.flatnonzero(is_min):
        ends[i] = cat.match(P[i])
        if ends[i] < 0 and discover:
            ends[i] = cat.add(P[i : i + 1], vals[i : i + 1])[0]
    return ends.reshape(2, -1).T


def _run_pairs(fn, cat: _Catalogue, pairs, n_images: int, opts: MergeOptions, ends: bool):
    """Bands, saddle refinement and (with ``ends``) the minima each saddle joins."""
    d = cat.points.shape[1]
    A = torch.as_tensor(cat.points[pairs[:, 0]], dtype=_F64)
    Z = torch.as_tensor(np.stack([cat.align(i, j) for i, j in pairs]), dtype=_F64)
    top, band_max, conv = _neb(fn, A, Z, n_images, opts, f"bands ({n_images} images)")
    S, sval, sgn, lam = _newton(fn, torch.as_tensor(top), opts, True, "saddles")
    neg, _ = _index(lam, opts) if len(lam) else (np.zeros(0, int), None)
    refined = (sgn <= opts.grad_tol) & (neg == 1) & np.isfinite(sval)
    S = np.where(refined[:, None], S, top)
    sval = np.where(refined, sval, band_max)
    joined = np.full((len(pairs), 2), -1)
    if ends:
        joined[refined] = _saddle_ends(fn, cat, S[refined], opts, discover=True)
    same = (np.sort(joined, axis=1) == np.sort(pairs, axis=1)).all(axis=1)
    fallback = ~(refined & same) & np.isfinite(band_max)
    E = len(pairs)
    return Saddles(
        S.reshape(E, d), sval, pairs, joined, neg, refined, band_max, fallback, conv, np.full(E, -1)
    )


def _edges(sad: Saddles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (e, 2), their levels (e,) and the band of each (e,)."""
    ok = sad.refined & (sad.ends >= 0).all(axis=1) & (sad.ends[:, 0] != sad.ends[:, 1])
    fb = sad.fallback
    edges = np.concatenate([sad.ends[ok], sad.pairs[fb]]).astype(int)
    levels = np.concatenate([sad.values[ok], sad.band_max[fb]])
    band = np.concatenate([np.flatnonzero(ok), np.flatnonzero(fb)])
    return edges.reshape(-1, 2), levels, band


def _sorted_bars(bars) -> np.ndarray:
    dgm = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    dgm = dgm[dgm[:, 1] > dgm[:, 0]]
    return np.ascontiguousarray(dgm[np.lexsort((dgm[:, 1], dgm[:, 0]))])


def _elder(values: np.ndarray, edges: np.ndarray, levels: np.ndarray):
    """Kruskal union-find with the elder rule.

    Returns the diagram (r, 2), the merges as (node_a, node_b, level, edge)
    tuples (nodes 0..n-1 are the minima, node n + i is merge i), and the
    tree nodes of the components that never merge.
    """
    n = len(values)
    parent, node = list(range(n)), list(range(n))
    bars, merges = [], []

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for e in np.lexsort((np.arange(len(levels)), levels)):
        ra, rb = find(int(edges[e, 0])), find(int(edges[e, 1]))
        if ra == rb:
            continue
        if (values[rb], rb) < (values[ra], ra):  # the older component absorbs the younger
            ra, rb = rb, ra
        bars.append((values[rb], levels[e]))
        merges.append((node[ra], node[rb], float(levels[e]), int(e)))
        parent[rb] = ra
        node[ra] = n + len(merges) - 1
    roots = [i for i in range(n) if parent[i] == i]
    bars.extend((values[r], np.inf) for r in roots)
    return _sorted_bars(bars), merges, [node[r] for r in roots]


# ---------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------
@dataclass
class MergeTree:
    """Merge tree of the sublevel sets of ``f`` over the basins found by :func:`merge_tree`.

    With a symmetry group the minima are classes modulo the group (stored as
    canonical representatives) and the tree is that of the quotient: a
    path from ``m_i`` to any ``g m_j`` joins classes i and j.

    Attributes
    ----------
    minima : numpy.ndarray, shape (k, d)
        Distinct strict minima (positive definite Hessian), ascending value
        among those found from the starts, then those found below saddles.
    minima_values : numpy.ndarray, shape (k,)
    hits : numpy.ndarray of int, shape (k,)
        Starts that descended to each minimum (0 for minima found only by
        descending from a saddle).
    start_minimum : numpy.ndarray of int, shape (S,)
        Minimum reached from every start, -1 when the end point was not a
        strict minimum.
    saddles : Saddles
        One row per band.
    edges : numpy.ndarray of int, shape (e, 2)
        Graph of the merge tree computation (pairs of minima).
    edge_levels : numpy.ndarray, shape (e,)
    rejected : dict
        End points of the starts that are not strict minima, counted by
        reason: ``"saddle"`` (a negative eigenvalue), ``"degenerate"`` (a zero
        eigenvalue, none negative), ``"not_converged"`` (gradient above
        ``grad_tol``).
    saturation : numpy.ndarray of int, shape (S,)
        Distinct minima among the first s + 1 starts (in start order).
    image_check : dict
        Barrier convergence against the number of images: ``"bands"``
        (indices into ``saddles``), ``"levels"`` and ``"levels_2x"`` (merge
        levels with ``n_images`` and ``2 n_images`` images), ``"band_max"``
        and ``"band_max_2x"`` (highest images), ``"max_change"`` (largest
        absolute change of a level, NaN when no band was checked).
    n_neighbors : int
        Neighbours per minimum in the last round.
    rounds : int
        Pairing rounds run.
    """

    minima: np.ndarray
    minima_values: np.ndarray
    hits: np.ndarray
    start_minimum: np.ndarray
    saddles: Saddles
    edges: np.ndarray
    edge_levels: np.ndarray
    rejected: dict
    saturation: np.ndarray
    image_check: dict
    n_neighbors: int
    rounds: int

    def merges(self):
        """Return the tree: its diagram, merges and root nodes.

        Returns
        -------
        diagram : numpy.ndarray, shape (r, 2)
            The H0 diagram.
        merges : list of tuple
            ``(node_a, node_b, level, edge)`` per merge; nodes ``0..k-1`` are the
            minima, node ``k + i`` is merge i; ``edge`` indexes ``edges``.
        roots : list of int
            Tree nodes of the components that never merge.
        """
        return _elder(self.minima_values, self.edges, self.edge_levels)

    @property
    def chao1(self) -> float:
        """Chao1 estimate of the number of minima reachable from such starts (see :func:`chao1`)."""
        return chao1(self.hits[self.hits > 0])

    def diagram(self) -> np.ndarray:
        """H0 diagram (r, 2), float64: rows (birth, death), sorted by birth then death.

        Births are minima values, deaths merge levels (elder rule); zero-length
        bars are dropped. There is one infinite bar per connected component of
        the graph of edges: exactly one when the bands connect all minima,
        which the spanning-tree pairs ensure unless a band has no finite maximum.
        """
        return self.merges()[0]

    def betti0(self, c):
        """b0 of the sublevel set at level(s) ``c``: bars with ``birth <= c < death``.

        Parameters
        ----------
        c : float or array_like
            Finite level(s).

        Returns
        -------
        int, or numpy.ndarray of int with the shape of ``c``.
        """
        return _count_alive(self.diagram(), c, "c")

    @property
    def n_saddles(self) -> int:
        """Number of distinct refined index-1 saddles (modulo the group)."""
        return int(np.unique(self.saddles.distinct[self.saddles.refined]).size)

    def n_minima_below(self, c):
        """Count the minima with value <= c (float or array -> int or array)."""
        lv = _levels(c, "c")
        out = (self.minima_values[None, :] <= lv.reshape(-1, 1)).sum(axis=1)
        return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)

    def n_saddles_below(self, c):
        """Count the distinct refined index-1 saddles with value <= c (modulo the group)."""
        lv = _levels(c, "c")
        s = self.saddles
        _, first = np.unique(s.distinct[s.refined], return_index=True)
        vals = s.values[s.refined][first]
        out = (vals[None, :] <= lv.reshape(-1, 1)).sum(axis=1)
        return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)

    def morse_lower(self, c):
        """Weak Morse lower bound #minima(c) - #index-1 saddles(c) of b0(c), from what was found.

        It is a true lower bound of b0 only when every index-1 saddle below c
        was found; a value above :meth:`betti0` flags saddles that were missed.
        """
        return self.n_minima_below(c) - self.n_saddles_below(c)


def _levels(c, name: str) -> np.ndarray:
    try:
        lv = np.asarray(c, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number or array of numbers, got {c!r}") from None
    if not np.isfinite(lv).all():
        raise ValueError(f"{name} must be finite, got {c!r}")
    return lv


def _count_alive(dgm: np.ndarray, c, name: str):
    lv = _levels(c, name)
    alive = (dgm[None, :, 0] <= lv.reshape(-1, 1)) & (lv.reshape(-1, 1) < dgm[None, :, 1])
    out = alive.sum(axis=1)
    return int(out[0]) if lv.ndim == 0 else out.reshape(lv.shape)


# ---------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------
def _check_input(fn, starts, group) -> torch.Tensor:
    """Convert the starts to a float64 tensor (S, d) and probe ``fn`` on them once."""
    try:
        X = np.asarray(starts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"starts must be a numeric array of shape (S, d), got {starts!r}"
        ) from None
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"starts must have shape (S, d) with S, d >= 1, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("starts must be finite (no NaN or inf)")
    if group is not None and X.shape[1] != group.layout.n_params:
        raise ValueError(
            f"starts have d = {X.shape[1]} columns but the group acts on "
            f"N = {group.layout.n_params} parameters"
        )
    x = torch.tensor(X, dtype=_F64, requires_grad=True)
    try:
        with torch.enable_grad():
            v = fn(x)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(f"f failed on starts of shape {X.shape} (d mismatch?): {err}") from None
    if not isinstance(v, torch.Tensor) or tuple(v.shape) != (X.shape[0],):
        shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(
            f"f must map a (K, d) tensor to a (K,) tensor, got {shape} for K = {len(X)}"
        )
    if v.grad_fn is None:
        raise ValueError(
            "f is not differentiable: its output has no grad_fn (use torch operations)"
        )
    if not torch.isfinite(v).all():
        raise ValueError("f must be finite at every start")
    return x.detach()


def _find_minima(fn, X: torch.Tensor, group, opts: MergeOptions):
    """Descend all starts; return the catalogue, start -> minimum, hits and rejections."""
    P, vals, gn, lam = _newton(fn, _descend(fn, X, opts, "descent"), opts, False, "newton")
    neg, zero = _index(lam, opts)
    converged = gn <= opts.grad_tol
    is_min = converged & (neg == 0) & (zero == 0)
    rejected = {
        "saddle": int(np.sum(converged & (neg > 0))),
        "degenerate": int(np.sum(converged & (neg == 0) & (zero > 0))),
        "not_converged": int(np.sum(~converged)),
    }
    cat = _Catalogue(X.shape[1], group, opts)
    start_min = np.full(len(P), -1)
    idx = np.flatnonzero(is_min)
    if idx.size:
        reps, assign = _dedup(P[idx], vals[idx], group, opts)
        order = np.argsort(vals[idx][reps], kind="stable")  # minima in ascending value
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        cat.add(P[idx][reps][order], vals[idx][reps][order])
        start_min[idx] = rank[assign]
    hits = np.bincount(start_min[start_min >= 0], minlength=len(cat.values))
    return cat, start_min, hits, rejected


def _new_pairs(pairs: np.ndarray, done: np.ndarray) -> np.ndarray:
    if len(done) == 0 or len(pairs) == 0:
        return pairs
    seen = {tuple(p) for p in done.tolist()}
    keep = [tuple(p) not in seen for p in pairs.tolist()]
    return pairs[np.array(keep, dtype=bool)]


def _connect(fn, cat: _Catalogue, opts: MergeOptions):
    """Run rounds of bands until the diagram stops changing; return saddles, k and rounds."""
    d = cat.points.shape[1]
    k, parts, prev = opts.n_neighbors, [], None
    done = np.empty((0, 2), dtype=int)
    rounds = 0
    for rounds in range(1, opts.max_rounds + 1):
        pairs = _new_pairs(_candidate_pairs(cat.points, k), done)
        if len(pairs) == 0:
            break
        parts.append(_run_pairs(fn, cat, pairs, opts.n_images, opts, ends=True))
        done = np.concatenate([done, pairs])
        dgm = _elder(cat.values, *_edges(Saddles.concat(parts, d))[:2])[0]
        if prev is not None and prev.shape == dgm.shape and np.allclose(prev, dgm, rtol=0):
            break
        prev = dgm
        if rounds < opts.max_rounds:
            k *= 2
    return Saddles.concat(parts, d), k, rounds


def _image_check(fn, cat: _Catalogue, sad: Saddles, tree_bands, opts: MergeOptions, seed):
    """Re-run up to ``check_bands`` bands of the tree with twice the images."""
    tree_bands = np.unique(np.asarray(tree_bands, dtype=int))
    m = min(opts.check_bands, len(tree_bands))
    if m == 0:
        e = np.empty(0)
        return {
            "bands": e.astype(int),
            "levels": e,
            "levels_2x": e,
            "band_max": e,
            "band_max_2x": e,
            "max_change": float("nan"),
        }
    chosen = np.sort(np.random.default_rng(seed).choice(tree_bands, m, replace=False))
    redo = _run_pairs(fn, cat, sad.pairs[chosen], 2 * opts.n_images, opts, ends=False)
    levels, levels_2x = sad.levels[chosen], redo.levels
    return {
        "bands": chosen,
        "levels": levels,
        "levels_2x": levels_2x,
        "band_max": sad.band_max[chosen],
        "band_max_2x": redo.band_max,
        "max_change": float(np.max(np.abs(levels_2x - levels))),
    }


def merge_tree(f, starts, group=None, seed: int = 0, **options) -> MergeTree:
    """Merge tree (H0 persistence of the sublevel sets) of ``f`` over the basins found.

    See the module docstring for the method.

    Parameters
    ----------
    f : LossSurface or callable
        A callable mapping a float64 tensor (K, d) to values (K,),
        differentiably (twice, for Hessians) with torch operations; for a
        :class:`~lossbounds.landscape.surface.LossSurface` its ``losses`` method is used.
    starts : array_like, shape (S, d)
        Finite starting points (e.g. a scrambled Sobol sample of a box).
    group : lossbounds.landscape.symmetry.SymmetryGroup, optional
        Work modulo this group (``d`` must be its number of parameters).
    seed : int
        Seed of the random choice of bands re-run for ``image_check``.
    **options
        Fields of :class:`MergeOptions`.

    Returns
    -------
    MergeTree

    Raises
    ------
    ValueError
        For starts that are not a finite (S, d) array, a ``d`` that ``f`` or
        ``group`` does not accept, an ``f`` whose output is not a finite
        (S,) tensor with a ``grad_fn``, or an unknown or invalid option.
    """
    opts = _options(options)
    seed = check_int("seed", seed, 0)
    fn = _Target(f)
    X = _check_input(fn, starts, group)
    threads = torch.get_num_threads()
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    try:
        return _merge_tree(fn, X, group, seed, opts)
    finally:
        torch.set_num_threads(threads)


def _merge_tree(fn, X: torch.Tensor, group, seed: int, opts: MergeOptions) -> MergeTree:
    cat, start_min, hits, rejected = _find_minima(fn, X, group, opts)
    n_found = len(cat.values)
    sad, k, rounds = _connect(fn, cat, opts)
    hits = np.concatenate([hits, np.zeros(len(cat.values) - n_found, dtype=int)])
    refined = np.flatnonzero(sad.refined)
    if refined.size:
        sad.distinct[refined] = _dedup(sad.points[refined], sad.values[refined], group, opts)[1]
    edges, levels, band = _edges(sad)
    _, merges, _ = _elder(cat.values, edges, levels)
    check = _image_check(fn, cat, sad, band[[m[3] for m in merges]], opts, seed)
    return MergeTree(
        cat.points,
        cat.values,
        hits,
        start_min,
        sad,
        edges,
        levels,
        rejected,
        _saturation(start_min),
        check,
        k,
        rounds,
    )
