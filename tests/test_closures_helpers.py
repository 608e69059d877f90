"""Independent NumPy helpers for the closure tests (and tests of the helpers themselves).

* `count_concentrations`: singlet, pair and triplet concentrations of one configuration on a
  periodic triangular lattice in axial coordinates (docs/model.md §1, §4), written from scratch with
  the six neighbour directions in cyclic order, so that it does not share code with the package.
* `random_lattice_dataset`: a "trajectory" of independent uncorrelated lattices at fixed
  composition (infinite temperature), where the pair approximation is exact.
* `anneal_dataset`: a tiny sequential Metropolis anneal (global swaps, docs/model.md §2 Hamiltonian
  ``E = (1/4) Σ_bonds σ_i σ_j``), used as stand-in "real annealing data" for optimiser tests.
* `synthetic_dataset`: triplets generated exactly by a known closure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from meanclust_jax._labels import PAIRS, SHAPE_WEIGHTS, SPECIES, TRIPLETS

#: Neighbour directions in cyclic order: consecutive → 60° (triangle), two apart → 120°,
#: three apart → 180°.
DIRS = ((1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1))
SIGN = {"+": 1, "-": -1}


def _shape_of(p: int, q: int) -> str:
    d = (p - q) % 6
    return {1: "tri", 5: "tri", 2: "ang", 4: "ang", 3: "lin"}[d]


def neighbours(sigma: np.ndarray) -> list[np.ndarray]:
    """``nb[d][a, b] = sigma[a + da, b + db]`` (periodic)."""
    return [np.roll(sigma, shift=(-da, -db), axis=(0, 1)) for da, db in DIRS]


def count_concentrations(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(C_single (2,), C_pair (3,), C_triplet (16,))`` of one configuration ``sigma`` (±1)."""
    nb = neighbours(sigma)
    C_single = np.array([np.mean(sigma == 1), np.mean(sigma == -1)])
    pair = {}
    for lab in PAIRS:
        a, b = SIGN[lab[0]], SIGN[lab[1]]
        pair[lab] = np.mean([np.mean((sigma == a) & (n == b)) for n in nb])
    C_pair = np.array([pair[p] for p in PAIRS])
    shapes: dict[str, list[tuple[int, int]]] = {"lin": [], "ang": [], "tri": []}
    for p in range(6):
        for q in range(6):
            if p != q:
                shapes[_shape_of(p, q)].append((p, q))
    assert [len(shapes[s]) for s in ("lin", "ang", "tri")] == [6, 12, 12]
    C_trip = np.zeros(len(TRIPLETS))
    for t, label in enumerate(TRIPLETS):
        shape, pat = label.split(":")
        a, b, c = (SIGN[s] for s in pat)
        prob = np.mean([np.mean((nb[p] == a) & (sigma == b) & (nb[q] == c)) for p, q in shapes[shape]])
        C_trip[t] = SHAPE_WEIGHTS[shape] * prob
    return C_single, C_pair, C_trip


def make_dataset(times, C_single, C_pair, C_triplet, composition, **extra) -> xr.Dataset:
    """An annealing-trajectory `xarray.Dataset` in the data contract of the engine."""
    times = np.asarray(times, dtype=float)
    n = times.shape[0]
    ds = xr.Dataset(
        {
            "temperature": ("time", extra.pop("temperature", np.full(n, np.inf))),
            "energy": ("time", extra.pop("energy", np.zeros(n))),
            "acceptance": ("time", np.ones(n)),
            "C_single": (("time", "species"), np.asarray(C_single, float)),
            "C_pair": (("time", "pair"), np.asarray(C_pair, float)),
            "C_triplet": (("time", "triplet"), np.asarray(C_triplet, float)),
        },
        coords={"time": times, "species": list(SPECIES), "pair": list(PAIRS), "triplet": list(TRIPLETS)},
        attrs={"composition": float(composition), **extra},
    )
    return ds


def random_config(rng, rows: int, cols: int, x: float) -> np.ndarray:
    n = rows * cols
    sigma = np.ones(n, dtype=np.int8)
    sigma[rng.choice(n, size=round(x * n), replace=False)] = -1
    return sigma.reshape(rows, cols)


def random_lattice_dataset(rng, rows: int, cols: int, x: float, n_records: int) -> xr.Dataset:
    """Independent uncorrelated lattices at composition ``x``, one per record."""
    out = [count_concentrations(random_config(rng, rows, cols, x)) for _ in range(n_records)]
    Cs, Cp, Ct = (np.stack(a) for a in zip(*out, strict=True))
    return make_dataset(np.arange(n_records, dtype=float), Cs, Cp, Ct, x)


def anneal_dataset(
    seed: int, rows: int, cols: int, x: float, temperatures, sweeps_per_step: int, record_every: int
) -> xr.Dataset:
    """Sequential Metropolis anneal with global swaps of the docs/model.md §2 Hamiltonian (AFM Ising,
    coupling 1/4 per bond), stepwise schedule. Pure Python; keep it small."""
    rng = np.random.default_rng(seed)
    sigma = random_config(rng, rows, cols, x)
    n = rows * cols
    s = sigma.ravel().astype(int).tolist()
    nbr = []
    for a in range(rows):
        for b in range(cols):
            nbr.append([((a + da) % rows) * cols + (b + db) % cols for da, db in DIRS])
    nbr_set = [set(v) for v in nbr]
    J = 0.25
    records = []
    times = []
    temps = []
    sweep = 0

    def record(T):
        arr = np.array(s, dtype=np.int8).reshape(rows, cols)
        records.append(count_concentrations(arr))
        times.append(float(sweep))
        temps.append(T)

    record(float(temperatures[0]))
    for T in temperatures:
        for _ in range(sweeps_per_step):
            picks = rng.integers(0, n, size=(n, 2))
            us = rng.random(n)
            for (i, j), u in zip(picks.tolist(), us.tolist(), strict=True):
                si, sj = s[i], s[j]
                if si == sj:
                    continue
                hi = sum(s[m] for m in nbr[i])
                hj = sum(s[m] for m in nbr[j])
                dE = -2 * J * (si * hi + sj * hj)
                if j in nbr_set[i]:
                    dE += 4 * J * si * sj
                if dE <= 0 or u < math.exp(-dE / T):
                    s[i], s[j] = sj, si
            sweep += 1
            if sweep % record_every == 0:
                record(float(T))
    Cs, Cp, Ct = (np.stack(a) for a in zip(*records, strict=True))
    return make_dataset(times, Cs, Cp, Ct, x, temperature=np.array(temps))


def synthetic_dataset(closure, x: float, n_records: int = 200) -> xr.Dataset:
    """Pairs sweeping from the random-lattice value ``x(1-x)`` of ``C_+-`` down to 0.3 of it,
    triplets given exactly by ``closure`` (no noise)."""
    import jax.numpy as jnp

    s = x * (1 - x) * np.linspace(1.0, 0.3, n_records) ** 1.5
    C_pair = np.stack([(1 - x) - s, x - s, s], axis=-1)
    C_single = np.tile([1 - x, x], (n_records, 1))
    C_trip = np.asarray(closure(jnp.asarray(C_single), jnp.asarray(C_pair)))
    return make_dataset(np.linspace(0, 50, n_records) ** 1.2, C_single, C_pair, C_trip, x)


# ------------------------------------------------------------------------- tests of the helpers


def test_counter_identities_spec_section_4():
    """docs/model.md §4 identities on a random configuration (exact, not statistical)."""
    rng = np.random.default_rng(1)
    sigma = random_config(rng, 12, 15, 0.4)
    Cs, Cp, Ct = count_concentrations(sigma)
    T = {lab: Ct[i] for i, lab in enumerate(TRIPLETS)}
    assert Cs.sum() == pytest.approx(1.0, abs=1e-15)
    assert Cp[0] + Cp[1] + 2 * Cp[2] == pytest.approx(1.0, abs=1e-14)
    assert Cp[0] + Cp[2] == pytest.approx(Cs[0], abs=1e-14)
    for shape in ("lin", "ang"):
        total = (
            T[f"{shape}:+++"] + T[f"{shape}:---"] + 2 * T[f"{shape}:++-"] + 2 * T[f"{shape}:--+"]
            + T[f"{shape}:+-+"] + T[f"{shape}:-+-"]
        )
        assert total == pytest.approx(SHAPE_WEIGHTS[shape], abs=1e-14)
    total = T["tri:+++"] + T["tri:---"] + 3 * T["tri:++-"] + 3 * T["tri:--+"]
    assert total == pytest.approx(SHAPE_WEIGHTS["tri"], abs=1e-14)


def test_counter_ground_state_x_one_third():
    """The sqrt3 x sqrt3 state at x = 1/3: no -- bonds, every triangle holds exactly one Li."""
    a, b = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    sigma = np.where((a - b) % 3 == 0, -1, 1).astype(np.int8)
    Cs, Cp, Ct = count_concentrations(sigma)
    assert Cs[1] == pytest.approx(1 / 3)
    assert Cp[1] == 0.0
    T = {lab: Ct[i] for i, lab in enumerate(TRIPLETS)}
    assert T["tri:---"] == 0.0 and T["tri:--+"] == 0.0 and T["tri:+++"] == 0.0
    assert T["tri:++-"] == pytest.approx(0.4 / 3)


def slsqp_objectives(dataset, bounds, num_random: int = 6, seed: int = 1) -> np.ndarray:
    """Best ``J_τ`` (eq. (15), same trapezoid rule) per type found by SciPy SLSQP from the PA
    and SA exponents and ``num_random`` random points — the cross-check of the calibration.

    Written independently of the package's solver: a plain NumPy objective over the paper's
    parameter vector ``V_τ`` with SciPy's bounds and equality constraint."""
    import scipy.optimize

    from meanclust_jax.closures import PairApproximation, SparseApproximation, _structure as S

    b1, b2, d = bounds
    ds = dataset
    t = ds["time"].values
    w_t = np.zeros_like(t)
    w_t[:-1] += np.diff(t) / 2
    w_t[1:] += np.diff(t) / 2
    w_t /= t[-1] - t[0]
    Cs = ds["C_single"].sel(species=list(SPECIES)).values.reshape(-1, t.size, 2)
    Cp = ds["C_pair"].sel(pair=list(PAIRS)).values.reshape(-1, t.size, 3)
    Ct = ds["C_triplet"].sel(triplet=list(TRIPLETS)).values.reshape(-1, t.size, 16)
    rng = np.random.default_rng(seed)
    out = np.zeros(16)
    pa, sa = PairApproximation().parameter_vectors(), SparseApproximation().parameter_vectors()
    for k, label in enumerate(TRIPLETS):
        names = S.param_names(label)
        cols = [("++", "--", "+-").index(n) if kind == "gamma" else ("+", "-").index(n) for kind, n in names]
        kinds = [kind for kind, _ in names]
        sign = np.array([1.0 if kind == "gamma" else -1.0 for kind in kinds])
        logs = [np.log(np.where(Cp[..., c] > 0, Cp[..., c], 1.0)) if kind == "gamma" else np.log(Cs[..., c])
                for kind, c in zip(kinds, cols, strict=True)]
        zero = [(Cp[..., c] == 0) if kind == "gamma" else np.zeros_like(Cs[..., 0], bool)
                for kind, c in zip(kinds, cols, strict=True)]
        L = np.stack(logs, -1) * sign
        Z = np.stack(zero, -1)
        target = Ct[..., k]
        scale = max(np.mean((w_t * target**2).sum(-1)), 1e-300)

        def J(v, L=L, Z=Z, target=target, k=k, scale=scale):
            g = S.WEIGHTS[k] * np.exp(L @ v) * np.prod(np.where(Z, v == 0, 1.0), -1)
            return np.mean(((g - target) ** 2 * w_t).sum(-1)) / scale

        def dJ(v, L=L, target=target, k=k, scale=scale):
            g = S.WEIGHTS[k] * np.exp(L @ v)
            return np.mean(np.einsum("rt,rtp->rp", 2 * (g - target) * g * w_t, L), 0) / scale

        lo = np.array([0.0 if kd == "gamma" else b1 for kd in kinds])
        hi = np.array([d if kd == "gamma" else b2 for kd in kinds])
        scipy_bounds = [(None if not np.isfinite(a) else a, None if not np.isfinite(b) else b)
                        for a, b in zip(lo, hi, strict=True)]
        starts = [pa[label], sa[label]] + [
            rng.uniform(np.where(np.isfinite(lo), lo, -2), np.where(np.isfinite(hi), hi, 2)) for _ in range(num_random)
        ]
        best = np.inf
        for x0 in starts:
            res = scipy.optimize.minimize(
                J, np.clip(x0, lo, hi), jac=dJ, method="SLSQP", bounds=scipy_bounds,
                constraints=[{"type": "eq", "fun": lambda v, s=sign: s @ v - 1, "jac": lambda _, s=sign: s}],
                options={"ftol": 1e-15, "maxiter": 1000},
            )
            v = np.clip(res.x, lo, hi)
            if abs(sign @ v - 1) < 1e-8:
                best = min(best, J(v))
        out[k] = best * scale
    return out
