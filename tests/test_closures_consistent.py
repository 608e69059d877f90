"""The consistent closure (issue 12, deliverable 1 and validation): consistency, normalisation
and bounds for any parameters, the pair approximation at zero association, exactness on an
uncorrelated lattice, the √3×√3 ordered state as a limit of the family, safe gradients, JSON."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked
from test_closures_helpers import count_concentrations, random_lattice_dataset

from meanclust_jax._labels import SHAPE_WEIGHTS, TRIPLET_INDEX, TRIPLETS
from meanclust_jax.closures import (
    DEFAULT_BASIS,
    QUANTITIES,
    ConsistentClosure,
    PairApproximation,
    empirical_quantities,
    feature_library,
    load_closure,
    parse_feature,
    plackett_table,
    triangle_from_pairs,
)

OPEN = [t for t, lab in enumerate(TRIPLETS) if not lab.startswith("tri")]


def random_pair_states(rng, n: int, *, max_mixed: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pair states spread over the allowed region, with edges: for composition ``x``,
    ``C_+-`` anywhere in ``[0, min(x, 1 − x, max_mixed)]`` (so ``C_--`` or ``C_++`` can be 0), plus
    exact corners. ``C_+- ≤ 1/3`` is the region a triangle can realise (every triangle of a
    two-species triangular lattice has a like bond)."""
    x = rng.uniform(0.0, 1.0, n)
    cpm = rng.uniform(0.0, 1.0, n) ** rng.choice([0.2, 1.0, 5.0], n) * np.minimum(np.minimum(x, 1 - x), max_mixed)
    C_pair = np.stack([1 - x - cpm, x - cpm, cpm], axis=-1)
    corners = np.array([[1.0, 0, 0], [0, 1.0, 0], [1 / 3, 0, 1 / 3], [0, 1 / 3, 1 / 3],
                        [0.5, 0.5, 0.0], [1 / 6, 1 / 6, 1 / 3], [1e-300, 1 / 3, 1 / 3]])
    if max_mixed > 1 / 3:
        corners = np.concatenate([corners, [[0, 0, 0.5], [0.25, 0.25, 0.25]]])
    C_pair = np.maximum(np.concatenate([C_pair, corners]), 0.0)
    C_single = np.stack([C_pair[:, 0] + C_pair[:, 2], C_pair[:, 1] + C_pair[:, 2]], axis=-1)
    return C_single, C_pair


def sums(g: np.ndarray) -> dict[str, np.ndarray]:
    """Per-shape totals and the pair marginals of docs/model.md §4 and §9 (closure consistency)."""
    T = {lab: g[..., i] for lab, i in TRIPLET_INDEX.items()}
    out = {}
    for s in ("lin", "ang"):
        out[f"{s} total"] = (T[f"{s}:+++"] + T[f"{s}:---"] + 2 * T[f"{s}:++-"] + 2 * T[f"{s}:--+"]
                             + T[f"{s}:+-+"] + T[f"{s}:-+-"])
        # Σ_i C_ijk = w C_jk for (j, k) = ++, +-, -+, --
        out[f"{s} ++"] = T[f"{s}:+++"] + T[f"{s}:++-"]
        out[f"{s} +-"] = T[f"{s}:++-"] + T[f"{s}:-+-"]
        out[f"{s} -+"] = T[f"{s}:+-+"] + T[f"{s}:--+"]
        out[f"{s} --"] = T[f"{s}:--+"] + T[f"{s}:---"]
    out["tri total"] = T["tri:+++"] + T["tri:---"] + 3 * T["tri:++-"] + 3 * T["tri:--+"]
    out["tri ++"] = T["tri:+++"] + T["tri:++-"]
    out["tri +-"] = T["tri:++-"] + T["tri:--+"]
    out["tri --"] = T["tri:--+"] + T["tri:---"]
    return out


def expected_sums(C_pair: np.ndarray) -> dict[str, np.ndarray]:
    cpp, cmm, cpm = C_pair[:, 0], C_pair[:, 1], C_pair[:, 2]
    out = {}
    for s in ("lin", "ang", "tri"):
        w = SHAPE_WEIGHTS[s]
        out[f"{s} total"] = np.full(cpp.shape, w)
        out[f"{s} ++"], out[f"{s} +-"], out[f"{s} --"] = w * cpp, w * cpm, w * cmm
        if s != "tri":
            out[f"{s} -+"] = w * cpm
    return out


@pytest.mark.parametrize("features", [DEFAULT_BASIS, feature_library(2)])
def test_consistency_normalisation_and_bounds_for_random_parameters(features):
    rng = np.random.default_rng(7)
    C_single, C_pair = random_pair_states(rng, 3000)
    want = expected_sums(C_pair)
    # chains are consistent for any pairs, also beyond what a triangle can realise (C_+- > 1/3)
    C_single_all, C_pair_all = random_pair_states(rng, 1000, max_mixed=0.5)
    want_all = {k: v for k, v in expected_sums(C_pair_all).items() if not k.startswith("tri")}
    for scale in (0.3, 3.0, 30.0):
        closure = ConsistentClosure(rng.normal(0, scale, (5, len(features))), features)
        g = np.asarray(closure(jnp.asarray(C_single), jnp.asarray(C_pair)))
        assert np.all(np.isfinite(g))
        got = sums(g)
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-12, err_msg=key)
        w = np.array([SHAPE_WEIGHTS[lab.split(":")[0]] for lab in TRIPLETS])
        assert np.all(g >= 0) and np.all(g <= w + 1e-15)
        got_all = sums(np.asarray(closure(jnp.asarray(C_single_all), jnp.asarray(C_pair_all))))
        for key, value in want_all.items():
            np.testing.assert_allclose(got_all[key], value, rtol=0, atol=1e-12, err_msg=key)


def test_zero_association_is_the_pair_approximation_on_chains():
    rng = np.random.default_rng(8)
    C_single, C_pair = random_pair_states(rng, 2000)
    keep = np.all(C_single > 0, axis=1)
    C_single, C_pair = C_single[keep], C_pair[keep]
    g = np.asarray(ConsistentClosure()(C_single, C_pair))
    g_pa = np.asarray(PairApproximation()(C_single, C_pair))
    np.testing.assert_allclose(g[:, OPEN], g_pa[:, OPEN], rtol=1e-13, atol=1e-16)
    # and zero coefficients mean zero free quantities for any basis
    closure = ConsistentClosure(None, feature_library(2))
    assert np.all(np.asarray(closure.free_quantities(C_pair)) == 0.0)


def test_pair_approximation_triangles_are_not_consistent_but_ours_are():
    """The reason for the family: PA's Kirkwood triangles do not sum back to the pairs."""
    C_single, C_pair = np.array([0.6, 0.4]), np.array([0.45, 0.25, 0.15])
    pa = sums(np.asarray(PairApproximation()(C_single, C_pair))[None])
    ours = sums(np.asarray(ConsistentClosure()(C_single, C_pair))[None])
    assert abs(pa["tri total"][0] - 0.4) > 1e-3
    assert abs(ours["tri total"][0] - 0.4) < 1e-15


def test_exact_within_sampling_error_on_an_uncorrelated_lattice():
    """Independent random lattices (infinite temperature): the zero-association closure (PA
    chains, maximum-entropy triangles) matches the counted triplets within 4 standard errors,
    the standard error from the scatter over the independent records."""
    ds = random_lattice_dataset(np.random.default_rng(11), 24, 24, 0.4, 60)
    g = np.asarray(ConsistentClosure()(ds["C_single"].values, ds["C_pair"].values))
    diff = g - ds["C_triplet"].values
    mean = diff.mean(axis=0)
    se = diff.std(axis=0, ddof=1) / np.sqrt(diff.shape[0])
    assert np.all(np.abs(mean) <= 4 * se), (mean / se)
    # the test can fail: a closure with association is far outside
    g_bad = np.asarray(ConsistentClosure({"ang:+": {"1": 0.5}})(ds["C_single"].values, ds["C_pair"].values))
    d_bad = g_bad - ds["C_triplet"].values
    assert np.max(np.abs(d_bad.mean(0)) / (d_bad.std(0, ddof=1) / np.sqrt(60))) > 10


def sqrt3_configuration(n: int = 12) -> np.ndarray:
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.where((a - b) % 3 == 0, -1, 1).astype(np.int8)


def test_sqrt3_ordered_state_is_a_limit_of_the_family():
    """x = 1/3 √3×√3 order: the two ends of an angled chain around Mn are on one sublattice
    (odds ratio → ∞), those of a linear chain on two (odds ratio → 0); the Li-centred chains and
    the triangles are fixed by the pairs. With intercepts ±s the error vanishes as s grows."""
    Cs, Cp, Ct = count_concentrations(sqrt3_configuration())
    assert Cp[1] == 0.0 and Cs[1] == pytest.approx(1 / 3)
    errors = []
    for s in (0.0, 10.0, 20.0, 40.0, 80.0):
        coef = {"lin:+": {"1": -s}, "lin:-": {"1": -s}, "ang:+": {"1": s}, "ang:-": {"1": s}}
        g = np.asarray(ConsistentClosure(coef)(Cs, Cp))
        errors.append(np.max(np.abs(g - Ct)))
    assert errors[0] > 0.02  # PA's chains are far off
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False) if a > 1e-15)
    assert errors[-1] < 1e-15
    # the triangles and the Li-centred chains are exact for any parameters
    g = np.asarray(ConsistentClosure(np.random.default_rng(0).normal(0, 3, (5, 4)))(Cs, Cp))
    for lab in ("tri:+++", "tri:++-", "tri:--+", "tri:---", "ang:+-+", "lin:+-+", "ang:--+", "lin:---"):
        assert g[TRIPLET_INDEX[lab]] == pytest.approx(Ct[TRIPLET_INDEX[lab]], abs=1e-15), lab


def test_plackett_table_cells_and_limits():
    a, b = 0.3, 0.5
    for eta in (-50.0, -2.0, 0.0, 1.5, 50.0):
        aa, ab, bb = (float(v) for v in plackett_table(a, b, eta))
        assert aa + ab == pytest.approx(a, abs=1e-15) and ab + bb == pytest.approx(b, abs=1e-15)
        if abs(eta) < 30:
            assert np.log(aa * bb / ab**2) == pytest.approx(eta, abs=1e-10)
    assert float(plackett_table(a, b, 0.0)[0]) == pytest.approx(a * a / (a + b), rel=1e-14)
    assert float(plackett_table(a, b, np.inf)[1]) == 0.0  # Fréchet bounds at ±∞
    assert float(plackett_table(a, b, -np.inf)[0]) == 0.0
    assert float(plackett_table(0.7, 0.2, -np.inf)[2]) == 0.0


def test_triangle_three_factor_interaction_is_the_parameter():
    rng = np.random.default_rng(3)
    _, C_pair = random_pair_states(rng, 500)
    C_pair = C_pair[:500]
    kappa = rng.normal(0, 3, 500)
    t = np.asarray(triangle_from_pairs(C_pair, kappa))
    ok = np.all(t > 1e-12, axis=1)
    k = np.log(t[ok, 0] * t[ok, 2] ** 3 / (t[ok, 1] ** 3 * t[ok, 3]))
    np.testing.assert_allclose(k, kappa[ok], atol=1e-7)
    assert ok.sum() > 400


def test_empirical_quantities_invert_the_closure():
    rng = np.random.default_rng(5)
    C_single, C_pair = random_pair_states(rng, 400)
    closure = ConsistentClosure(rng.normal(0, 0.5, (5, 4)))
    g = np.asarray(closure(C_single, C_pair))
    eta, weight = empirical_quantities(g)
    truth = np.asarray(closure.free_quantities(C_pair))
    ok = weight > 1e-20
    assert ok.mean() > 0.8
    np.testing.assert_allclose(eta[ok], truth[ok], atol=1e-5)
    assert np.all(weight[~ok] >= 0)


def _loss(coef, C_pair):
    closure = ConsistentClosure(coef)
    return jnp.sum(closure(jnp.ones(C_pair.shape[:-1] + (2,)), C_pair) ** 2)


@pytest.mark.parametrize(
    "C_pair",
    [[1 / 3, 0.0, 1 / 3], [0.5, 0.5, 0.0], [0.0, 0.0, 0.5], [1.0, 0.0, 0.0], [0.3, 0.2, 0.25], [0.0, 1 / 3, 1 / 3]],
)
def test_gradients_are_finite_at_the_boundary(C_pair):
    coef = jnp.asarray(np.random.default_rng(1).normal(0, 2, (5, 4)))
    C_pair = jnp.asarray(C_pair)
    for fn in (jax.grad(_loss, argnums=0), jax.grad(_loss, argnums=1), jax.jacfwd(_loss, argnums=1)):
        assert np.all(np.isfinite(np.asarray(fn(coef, C_pair))))


def test_derivatives_match_finite_differences():
    coef = jnp.asarray(np.random.default_rng(2).normal(0, 1, (5, 4)))
    C_pair = jnp.asarray([0.41, 0.21, 0.19])
    g_auto = np.asarray(jax.grad(_loss, argnums=(0, 1))(coef, C_pair)[1])
    eps = 1e-6
    fd = [(float(_loss(coef, C_pair.at[i].add(eps))) - float(_loss(coef, C_pair.at[i].add(-eps)))) / (2 * eps)
          for i in range(3)]
    np.testing.assert_allclose(g_auto, fd, rtol=1e-6, atol=1e-9)
    g_coef = np.asarray(jax.grad(_loss)(coef, C_pair))
    fd = (float(_loss(coef.at[4, 1].add(eps), C_pair)) - float(_loss(coef.at[4, 1].add(-eps), C_pair))) / (2 * eps)
    assert g_coef[4, 1] == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_json_round_trip_and_description(tmp_path):
    closure = ConsistentClosure(np.arange(20.0).reshape(5, 4) / 7, source={"note": "test"})
    path = tmp_path / "c.json"
    closure.save(path)
    data = json.loads(path.read_text())
    assert data["kind"] == "consistent" and data["features"] == list(DEFAULT_BASIS)
    assert set(data["coefficients"]) == set(QUANTITIES)
    back = load_closure(path)
    assert isinstance(back, ConsistentClosure)
    np.testing.assert_array_equal(np.asarray(back.coefficients), np.asarray(closure.coefficients))
    assert back.source == {"note": "test"}
    text = closure.describe()
    assert "η(ang:+)" in text and "κ(tri)" in text and "log(rho+-)" in text


def test_bad_input_names_the_parameter():
    with unchecked(), pytest.raises(ValueError, match="features"):
        ConsistentClosure(None, ("1", "log(rho+*)"))
    with unchecked(), pytest.raises(ValueError, match="features"):
        ConsistentClosure(None, ("1", "log(rho++)", "log(rho++)"))
    with unchecked(), pytest.raises(ValueError, match="coefficients"):
        ConsistentClosure(np.zeros((4, 4)))
    with unchecked(), pytest.raises(ValueError, match="coefficients"):
        ConsistentClosure({"ang:0": {"1": 1.0}})
    with unchecked(), pytest.raises(ValueError, match="finite"):
        ConsistentClosure(np.full((5, 4), np.nan))
    with unchecked(), pytest.raises(ValueError, match="C_pair"):
        ConsistentClosure()(jnp.ones(2), jnp.ones(4))
    assert parse_feature("log(C+)*log(rho++)") == (0, 2)
    assert len(feature_library(2)) == 21
