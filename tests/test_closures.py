"""Closures as formulas: PA, SA and OA on hand-computed inputs, the random lattice, bad input,
projection onto the feasible set, JSON I/O (paper Section IV, Tables I–III; docs/model.md §4–5)."""

from __future__ import annotations

import json
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import xarray as xr
from helpers import unchecked
from test_closures_helpers import make_dataset, random_lattice_dataset

from meanclust_jax._labels import TRIPLET_INDEX, TRIPLETS
from meanclust_jax.closures import (
    AbstractClosure,
    OptimalApproximation,
    PairApproximation,
    SparseApproximation,
    _structure as S,
    closure_errors,
    closure_kinds,
    constraint_violation,
    load_closure,
    mean_closure_error,
    project_exponents,
    register_closure,
)
from meanclust_jax.closures._base import _REGISTRY as _CLOSURE_REGISTRY
from meanclust_jax.closures._projection import check_feasible, packed_bounds, project_packed

# A generic, correlated state: C_+ = 0.6, C_+- = 0.15 → C_++ = 0.45, C_-- = 0.25.
CS = np.array([0.6, 0.4])
CP = np.array([0.45, 0.25, 0.15])
C = {"+": 0.6, "-": 0.4, "++": 0.45, "--": 0.25, "+-": 0.15}


def _g(closure, label):
    return float(closure(jnp.asarray(CS), jnp.asarray(CP))[TRIPLET_INDEX[label]])


# ------------------------------------------------------------------ formulas, hand-computed


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("lin:+++", 0.2 * C["++"] ** 2 / C["+"]),
        ("lin:---", 0.2 * C["--"] ** 2 / C["-"]),
        ("lin:++-", 0.2 * C["++"] * C["+-"] / C["+"]),
        ("lin:--+", 0.2 * C["--"] * C["+-"] / C["-"]),
        ("lin:+-+", 0.2 * C["+-"] ** 2 / C["-"]),
        ("ang:-+-", 0.4 * C["+-"] ** 2 / C["+"]),
        ("ang:++-", 0.4 * C["++"] * C["+-"] / C["+"]),
        ("tri:+++", 0.4 * C["++"] ** 3 / C["+"] ** 3),
        ("tri:---", 0.4 * C["--"] ** 3 / C["-"] ** 3),
        ("tri:++-", 0.4 * C["++"] * C["+-"] ** 2 / (C["+"] ** 2 * C["-"])),
        ("tri:--+", 0.4 * C["--"] * C["+-"] ** 2 / (C["-"] ** 2 * C["+"])),
    ],
)
def test_pair_approximation_formulas(label, expected):
    assert _g(PairApproximation(), label) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("lin:+++", 0.2 * C["++"]),
        ("lin:---", 0.2 * C["--"]),
        ("lin:++-", 0.2 * C["+-"]),
        ("ang:--+", 0.4 * C["+-"]),
        ("ang:+-+", 0.4 * C["+-"]),
        ("ang:-+-", 0.4 * C["+-"]),
        ("tri:+++", 0.4 * C["++"]),
        ("tri:---", 0.4 * C["--"]),
        ("tri:++-", 0.4 * C["+-"]),
        ("tri:--+", 0.4 * C["+-"]),
    ],
)
def test_sparse_approximation_formulas(label, expected):
    assert _g(SparseApproximation(), label) == pytest.approx(expected, rel=1e-14)


def test_optimal_approximation_formula_and_parameter_order():
    """Table I: V = [γ1, γ2, ξ1, ξ2] with γ on (C_ij, C_jk)-pair types in order of appearance
    and ξ1 on the centre species; [γ, ξ1, ξ2] for +-+ (ξ1 on the centre '-')."""
    table = PairApproximation().exponent_table()
    table["ang:++-"] = {"gamma": {"++": 0.72, "+-": 0.28}, "xi": {"+": 0.1, "-": -0.1}}
    table["lin:+-+"] = {"gamma": {"+-": 1.5}, "xi": {"-": 0.3, "+": 0.2}}
    oa = OptimalApproximation.from_exponent_table(table)
    assert _g(oa, "ang:++-") == pytest.approx(
        0.4 * C["++"] ** 0.72 * C["+-"] ** 0.28 / (C["+"] ** 0.1 * C["-"] ** -0.1), rel=1e-14
    )
    assert _g(oa, "lin:+-+") == pytest.approx(0.2 * C["+-"] ** 1.5 / (C["-"] ** 0.3 * C["+"] ** 0.2), rel=1e-14)
    v = oa.parameter_vectors()
    np.testing.assert_allclose(v["ang:++-"], [0.72, 0.28, 0.1, -0.1])
    np.testing.assert_allclose(v["lin:+-+"], [1.5, 0.3, 0.2])
    assert S.param_symbols("tri:--+") == ("γ1", "γ2", "ξ1", "ξ2")
    assert S.param_names("tri:--+") == (("gamma", "--"), ("gamma", "+-"), ("xi", "-"), ("xi", "+"))
    assert S.param_symbols("tri:+++") == ("γ", "ξ")


def test_pa_exponents_match_paper_table_ii():
    """The PA columns of Table II (and the brief's tri:++- example)."""
    v = PairApproximation().parameter_vectors()
    for shape in ("lin", "ang"):
        np.testing.assert_array_equal(v[f"{shape}:+++"], [2, 1])
        np.testing.assert_array_equal(v[f"{shape}:+-+"], [2, 1, 0])
        np.testing.assert_array_equal(v[f"{shape}:-+-"], [2, 1, 0])
        np.testing.assert_array_equal(v[f"{shape}:++-"], [1, 1, 1, 0])
        np.testing.assert_array_equal(v[f"{shape}:--+"], [1, 1, 1, 0])
    np.testing.assert_array_equal(v["tri:+++"], [3, 3])
    np.testing.assert_array_equal(v["tri:++-"], [1, 2, 2, 1])
    np.testing.assert_array_equal(v["tri:--+"], [1, 2, 2, 1])


def test_oa_with_pa_exponents_equals_pa():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, size=(7, 1))
    s = rng.uniform(0.05, 1.0, size=(7, 1)) * np.minimum(x, 1 - x)
    Cs = np.concatenate([1 - x, x], axis=-1)
    Cp = np.concatenate([1 - x - s, x - s, s], axis=-1)
    oa = OptimalApproximation.from_closure(PairApproximation())
    a = np.asarray(oa(jnp.asarray(Cs), jnp.asarray(Cp)))
    b = np.asarray(PairApproximation()(jnp.asarray(Cs), jnp.asarray(Cp)))
    open_types = [t for t, lab in enumerate(TRIPLETS) if not lab.startswith("tri")]
    np.testing.assert_allclose(a[:, open_types], b[:, open_types], rtol=1e-14)
    np.testing.assert_allclose(a, b, rtol=1e-14)  # also the triangles, in our monomial reading


def test_pa_exact_on_analytic_uncorrelated_lattice():
    """Uncorrelated lattice: C_ij = C_i C_j, every triplet w C_i C_j C_k; PA is exact, SA is not."""
    for x in (0.25, 1 / 3, 0.5, 0.7):
        c = {"+": 1 - x, "-": x}
        Cs = jnp.array([1 - x, x])
        Cp = jnp.array([(1 - x) ** 2, x**2, x * (1 - x)])
        exact = np.array([S.WEIGHTS[t] * np.prod([c[s] for s in lab[4:]]) for t, lab in enumerate(TRIPLETS)])
        np.testing.assert_allclose(np.asarray(PairApproximation()(Cs, Cp)), exact, rtol=1e-14)
        assert np.max(np.abs(np.asarray(SparseApproximation()(Cs, Cp)) / exact - 1)) > 0.2


def test_pa_exact_on_sampled_random_lattice_up_to_sampling_error():
    """Independent random 48x48 lattices (docs/model.md §4 counting, written in the test helpers): the PA
    residual of every type has mean zero within 4.5 standard errors (computed from the records),
    while SA's residuals are hundreds of standard errors away from zero."""
    n = 40
    ds = random_lattice_dataset(np.random.default_rng(0), 48, 48, 1 / 3, n)
    Cs, Cp, Ct = (ds[v].values for v in ("C_single", "C_pair", "C_triplet"))
    for closure, should_pass in ((PairApproximation(), True), (SparseApproximation(), False)):
        r = Ct - np.asarray(closure(jnp.asarray(Cs), jnp.asarray(Cp)))
        z = r.mean(0) / (r.std(0, ddof=1) / math.sqrt(n))
        if should_pass:
            assert np.all(np.abs(z) < 4.5), z
        else:
            assert np.all(np.abs(z) > 20), z


def test_batch_shapes_broadcast_jit_and_grad():
    pa = PairApproximation()
    Cp = jnp.broadcast_to(jnp.asarray(CP), (4, 5, 3))
    out = pa(jnp.asarray(CS), Cp)
    assert out.shape == (4, 5, 16) and out.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(out[2, 3]), np.asarray(pa(jnp.asarray(CS), jnp.asarray(CP))))
    out_j = eqx.filter_jit(lambda c, s, p: c(s, p))(SparseApproximation(), jnp.asarray(CS), Cp)
    assert out_j.shape == (4, 5, 16)
    # d/dC_+- of the PA's lin:+-+ = 2 w C_+- / C_-
    grad = jax.grad(lambda p: pa(jnp.asarray(CS), p)[TRIPLET_INDEX["lin:+-+"]])(jnp.asarray(CP))
    np.testing.assert_allclose(np.asarray(grad), [0, 0, 0.2 * 2 * 0.15 / 0.4], rtol=1e-14)
    # gradients in the exponents stay finite where a concentration is zero
    oa = OptimalApproximation.from_closure(SparseApproximation())
    Cp0 = jnp.array([0.6, 0.0, 0.2])
    g = eqx.filter_grad(lambda m: jnp.sum(m(jnp.asarray(CS), Cp0)))(oa)
    assert np.all(np.isfinite(np.asarray(g.gamma))) and np.all(np.isfinite(np.asarray(g.xi)))


def test_zero_concentration_gives_zero_or_one_power():
    Cp0 = jnp.array([0.6, 0.0, 0.2])
    g = PairApproximation()(jnp.asarray(CS), Cp0)
    assert float(g[TRIPLET_INDEX["lin:---"]]) == 0.0
    assert float(g[TRIPLET_INDEX["lin:+++"]]) == pytest.approx(0.2 * 0.36 / 0.6)


@pytest.mark.parametrize(
    ("C_single", "C_pair", "match"),
    [
        (np.ones(3) / 3, CP, "C_single"),
        (CS, np.ones(2) / 2, "C_pair"),
        (np.tile(CS, (3, 1)), np.tile(CP, (4, 1)), "broadcast"),
    ],
)
def test_bad_shapes_raise(C_single, C_pair, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        PairApproximation()(jnp.asarray(C_single), jnp.asarray(C_pair))


def test_abstract_interface():
    assert isinstance(PairApproximation(), AbstractClosure)
    with pytest.raises(TypeError):
        AbstractClosure()  # abstract
    with unchecked(), pytest.raises(ValueError, match="gamma must have shape"):
        OptimalApproximation(np.zeros((16, 2)), np.zeros((16, 2)))
    with unchecked(), pytest.raises(ValueError, match="finite"):
        OptimalApproximation(np.full((16, 3), np.nan), np.zeros((16, 2)))


def test_structural_zeros_are_enforced():
    oa = OptimalApproximation(np.ones((16, 3)), np.ones((16, 2)))
    assert float(oa.gamma[TRIPLET_INDEX["lin:+++"], 1]) == 0.0  # no C_-- in lin:+++
    assert float(oa.xi[TRIPLET_INDEX["tri:---"], 0]) == 0.0  # no C_+ in tri:---


def test_describe_and_formulas():
    text = PairApproximation().describe()
    assert "tri:++-" in text and "2/5 · C_++ C_+-^2 / (C_+^2 C_-)" in text
    assert SparseApproximation().formulas()["ang:--+"] == "2/5 · C_+-"
    assert "[γ1=1, γ2=2, ξ1=2, ξ2=1]" in text


# ------------------------------------------------------------------------- data checks


def _small_dataset(n=5):
    x = 1 / 3
    s = np.linspace(0.22, 0.3, n)
    Cp = np.stack([(1 - x) - s, x - s, s], -1)
    Cs = np.tile([1 - x, x], (n, 1))
    Ct = np.asarray(PairApproximation()(jnp.asarray(Cs), jnp.asarray(Cp)))
    return make_dataset(np.arange(n, dtype=float), Cs, Cp, Ct, x)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda ds: ds.drop_vars("C_pair"), "C_pair"),
        (lambda ds: ds.drop_vars("C_triplet"), "C_triplet"),
        (lambda ds: ds.assign(C_pair=ds.C_pair.where(ds.time != 2)), r"C_pair.*NaN"),
        (lambda ds: ds.assign(C_triplet=ds.C_triplet * 30), r"C_triplet.*\[0, 1\]"),
        (lambda ds: ds.assign(C_pair=-ds.C_pair), r"C_pair.*\[0, 1\]"),
        (lambda ds: ds.assign(C_single=ds.C_single * 0), r"C_single.*\(0, 1\]"),
        (lambda ds: ds.isel(time=[0]), "at least 2"),
        (lambda ds: ds.assign_coords(time=ds.time[::-1].values), "increasing"),
        (lambda ds: ds.isel(pair=[0, 1]), "pair"),
        (lambda ds: ds.assign_coords(triplet=[f"x{i}" for i in range(16)]), "triplet"),
        (lambda ds: ds.C_pair, "xarray.Dataset"),
    ],
)
def test_bad_datasets_raise(mutate, match):
    ds = mutate(_small_dataset())
    with unchecked(), pytest.raises(ValueError, match=match):
        closure_errors(PairApproximation(), ds)


def test_label_order_in_dataset_is_irrelevant():
    ds = _small_dataset()
    shuffled = ds.isel(triplet=np.arange(16)[::-1], pair=[2, 0, 1], species=[1, 0])
    np.testing.assert_allclose(
        closure_errors(SparseApproximation(), shuffled).values, closure_errors(SparseApproximation(), ds).values
    )


def test_closure_errors_trapezoid_and_replicas():
    """J_τ = (1/T) ∫ (g − Ĉ)² dt by the trapezoid rule, on an uneven time grid; replicas are
    separate trajectories whose J are averaged (or kept)."""
    rng = np.random.default_rng(3)
    ds = _small_dataset(9).assign_coords(time=np.cumsum(rng.uniform(0.5, 2, 9)))
    noisy = ds.assign(C_triplet=ds.C_triplet * (1 + 0.05 * rng.standard_normal(ds.C_triplet.shape)))
    J = closure_errors(PairApproximation(), noisy)
    assert J.dims == ("triplet",) and list(J.triplet.values) == list(TRIPLETS)
    g = np.asarray(PairApproximation()(jnp.asarray(noisy.C_single.values), jnp.asarray(noisy.C_pair.values)))
    t = noisy.time.values
    expected = np.trapezoid((g - noisy.C_triplet.values) ** 2, t, axis=0) / (t[-1] - t[0])
    np.testing.assert_allclose(J.values, expected, rtol=1e-12)
    assert mean_closure_error(PairApproximation(), noisy) == pytest.approx(expected.mean(), rel=1e-12)
    both = xr.concat([noisy, ds], dim="replica").transpose("replica", ...)
    Jr = closure_errors(PairApproximation(), both, average_replicas=False)
    assert Jr.dims == ("replica", "triplet")
    np.testing.assert_allclose(Jr.values[0], expected, rtol=1e-12)
    np.testing.assert_allclose(Jr.values[1], 0, atol=1e-30)
    np.testing.assert_allclose(closure_errors(PairApproximation(), both).values, expected / 2, rtol=1e-12)


def test_nonfinite_closure_is_reported():
    gamma, xi = np.asarray(S.PA_GAMMA), np.asarray(S.PA_XI).copy()
    oa = OptimalApproximation(gamma - 3 * S.PAIR_MASK, xi)  # negative powers of C_-- = 0
    ds = _small_dataset()
    ds = ds.assign(C_pair=ds.C_pair.copy(data=np.where(ds.pair == "--", 0.0, ds.C_pair.values)))
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        J = closure_errors(oa, ds)
    assert np.isinf(J.sel(triplet="lin:---"))


# ----------------------------------------------------------------------------- projection

BOUNDS = {"hard": (0.0, 2.0, 2.0), "soft": (-math.inf, math.inf, 6.0), "custom": (-0.5, 1.0, 1.5)}


def _qp_projection(y, sign, lower, upper):
    """Reference: the projection as a QP solved by SciPy SLSQP."""
    m = sign != 0
    bnds = [(None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi)
            for lo, hi in zip(lower[m], upper[m], strict=True)]
    res = scipy.optimize.minimize(
        lambda v: 0.5 * np.sum((v - y[m]) ** 2), np.clip(y[m], -3, 3), jac=lambda v: v - y[m], method="SLSQP",
        bounds=bnds, constraints=[{"type": "eq", "fun": lambda v: sign[m] @ v - 1, "jac": lambda _: sign[m]}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    out = np.zeros(5)
    out[m] = res.x
    return out


@pytest.mark.parametrize("preset", list(BOUNDS))
def test_projection_feasible_idempotent_and_nearest(preset):
    rng = np.random.default_rng(7)
    lower, upper = packed_bounds(BOUNDS[preset])
    proj = jax.jit(project_packed)
    for _ in range(40):
        t = rng.integers(16)
        sign = S.PACKED_SIGN[t]
        y = rng.normal(0, 3, 5)
        z = np.asarray(proj(y, sign, lower[t], upper[t]))
        assert abs(sign @ z - 1) < 1e-12
        assert np.all(z >= lower[t] - 1e-15) and np.all(z <= upper[t] + 1e-15)
        assert np.all(z[sign == 0] == 0)
        np.testing.assert_allclose(np.asarray(proj(z, sign, lower[t], upper[t])), z, atol=1e-14)
        ref = _qp_projection(y, sign, lower[t], upper[t])
        m = sign != 0
        d_ours, d_ref = np.linalg.norm(z[m] - y[m]), np.linalg.norm(ref[m] - y[m])
        assert d_ours <= d_ref + 1e-9
        np.testing.assert_allclose(z, ref, atol=1e-6)


def test_project_exponents_and_constraint_violation():
    g, x = project_exponents(S.PA_GAMMA, S.PA_XI, BOUNDS["hard"])
    assert np.max(constraint_violation(g, x, BOUNDS["hard"])) < 1e-12
    v_pa = constraint_violation(S.PA_GAMMA, S.PA_XI, BOUNDS["hard"])
    open_types = [t for t, lab in enumerate(TRIPLETS) if not lab.startswith("tri")]
    assert np.all(v_pa[open_types] == 0)  # PA is feasible for linear/angled types...
    assert np.all(v_pa[12:] > 0.5)  # ...but not for triangles (Σγ − Σξ = 0)
    np.testing.assert_allclose(np.asarray(g)[open_types], S.PA_GAMMA[open_types])


def test_infeasible_bounds_raise():
    with unchecked(), pytest.raises(ValueError, match="no exponents"):
        check_feasible((0.0, 2.0, 0.4))  # γ ≤ 0.4 cannot reach Σγ − Σξ = 1 for +++
    with unchecked(), pytest.raises(ValueError, match="no exponents"):
        project_exponents(S.PA_GAMMA, S.PA_XI, (1.0, 2.0, 1.5))


# ----------------------------------------------------------------------------------- JSON


def test_json_roundtrip_and_format(tmp_path):
    table = PairApproximation().exponent_table()
    table["ang:++-"] = {"gamma": {"++": 0.72, "+-": 0.28}, "xi": {"+": 0.0, "-": 0.0}}
    oa = OptimalApproximation.from_exponent_table(
        table, regularization="soft", bounds=(-math.inf, math.inf, 6.0), source={"composition": 0.5}
    )
    path = tmp_path / "closure.json"
    oa.save(path)
    data = json.loads(path.read_text())
    assert set(data) == {"kind", "regularization", "bounds", "exponents", "source"}
    assert data["kind"] == "optimal" and data["regularization"] == "soft"
    assert data["bounds"] == {"beta1": None, "beta2": None, "delta": 6.0}
    assert data["exponents"]["ang:++-"] == {"gamma": {"++": 0.72, "+-": 0.28}, "xi": {"+": 0.0, "-": 0.0}}
    assert list(data["exponents"]) == list(TRIPLETS)
    back = load_closure(path)
    assert isinstance(back, OptimalApproximation)
    np.testing.assert_array_equal(np.asarray(back.gamma), np.asarray(oa.gamma))
    np.testing.assert_array_equal(np.asarray(back.xi), np.asarray(oa.xi))
    assert back.bounds == oa.bounds and back.source == {"composition": 0.5}
    for cls in (PairApproximation, SparseApproximation):
        cls().save(tmp_path / "c.json")
        assert isinstance(load_closure(tmp_path / "c.json"), cls)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(kind="neural"), "kind"),
        (lambda d: d["exponents"].pop("tri:---"), "missing"),
        (lambda d: d["exponents"]["lin:+++"]["gamma"].update({"+-": 1.0}), "exactly the keys"),
        (lambda d: d.update(bounds={"beta1": 0}), "bounds"),
    ],
)
def test_json_bad_files_raise(tmp_path, edit, match):
    path = tmp_path / "c.json"
    OptimalApproximation.from_closure(SparseApproximation()).save(path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with unchecked(), pytest.raises(ValueError, match=match):
        load_closure(path)
    path.write_text("{not json")
    with unchecked(), pytest.raises(ValueError, match="not valid JSON"):
        load_closure(path)
    with pytest.raises(FileNotFoundError):
        load_closure(tmp_path / "missing.json")


def test_registry_loads_a_new_closure_family(tmp_path):
    """A closure class registers itself by ``kind``; `load_closure` finds it without any edit of
    the JSON module, and a kind cannot be taken twice."""

    @register_closure
    class HalfPair(AbstractClosure):  # not a monomial closure: its own JSON fields
        factor: float
        kind: ClassVar[str] = "test-half-pair"

        def __call__(self, C_single, C_pair):
            return self.factor * PairApproximation()(C_single, C_pair)

        def to_json_dict(self):
            return {"kind": self.kind, "factor": self.factor}

        @classmethod
        def from_json_dict(cls, data):
            return cls(float(data["factor"]))

    try:
        assert closure_kinds()["test-half-pair"] is HalfPair
        assert {"pair", "sparse", "optimal"} <= set(closure_kinds())
        HalfPair(0.5).save(tmp_path / "half.json")
        back = load_closure(tmp_path / "half.json")
        assert isinstance(back, HalfPair) and back.factor == 0.5
        np.testing.assert_allclose(back(jnp.asarray(CS), jnp.asarray(CP)),
                                   0.5 * PairApproximation()(jnp.asarray(CS), jnp.asarray(CP)))

        class Impostor(HalfPair):
            kind: ClassVar[str] = "pair"

        with unchecked(), pytest.raises(ValueError, match="kind='pair' is already taken"):
            register_closure(Impostor)
        with unchecked(), pytest.raises(ValueError, match="not registered"):
            Impostor(1.0).save(tmp_path / "impostor.json")
        with unchecked(), pytest.raises(ValueError, match="not a subclass of AbstractClosure"):
            register_closure(dict)
    finally:
        _CLOSURE_REGISTRY.pop("test-half-pair", None)
    (tmp_path / "half.json").write_text(json.dumps({"kind": "test-half-pair", "factor": 0.5}))
    with unchecked(), pytest.raises(ValueError, match=r'"kind" must be one of \[.*optimal.*\]'):
        load_closure(tmp_path / "half.json")
