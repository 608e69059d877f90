"""The shared argument checks and metadata cleaner: one wording for every message, JSON- and
netCDF-safe attributes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax._io import jsonable, netcdf_attrs
from meanclust_jax._validate import check_float, check_int


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (np.int64(3), 3), (np.int8(0), 0)])
def test_check_int_accepts_integers(value, expected):
    out = check_int(value, "n", minimum=0)
    assert out == expected and type(out) is int


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (0, dict(minimum=1), r"^n must be an integer >= 1, got 0$"),
        (True, dict(minimum=0), r"^n must be an integer >= 0, got True$"),
        (2.0, dict(minimum=1), r"^n must be an integer >= 1, got 2.0$"),
        ("3", dict(), r"^n must be an integer, got '3'$"),
        (11, dict(minimum=1, maximum=10), r"^n must be an integer in \[1, 10\], got 11$"),
        (2.5, dict(minimum=1, allow_float=True), r"got 2.5"),
        (math.nan, dict(minimum=1, allow_float=True), r"got nan"),
    ],
)
def test_check_int_refuses(value, kwargs, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        check_int(value, "n", **kwargs)


def test_check_int_allow_float():
    assert check_int(100.0, "sweeps", minimum=1, allow_float=True) == 100
    assert check_int(np.float32(4), "sweeps", minimum=1, allow_float=True) == 4


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (0.0, dict(minimum=0.0, open_min=True), r"^x must be a finite number > 0, got 0.0$"),
        (math.inf, dict(), r"^x must be a finite number, got inf$"),
        (1.0, dict(minimum=0, maximum=1, open_min=True, open_max=True), r"in \(0, 1\), got 1.0$"),
        (-0.5, dict(minimum=0), r">= 0, got -0.5$"),
        (True, dict(), r"got True"),
        ("0.3", dict(), r"got '0.3'"),
        (np.array([0.1, 0.2]), dict(), r"must be a finite number"),
    ],
)
def test_check_float_refuses(value, kwargs, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        check_float(value, "x", **kwargs)


def test_check_float_accepts():
    assert check_float(np.float32(0.5), "x", minimum=0, maximum=1) == 0.5
    assert check_float(np.array(2.0), "x", minimum=0, open_min=True) == 2.0
    assert type(check_float(3, "x")) is float


def test_jsonable_and_netcdf_attrs():
    value = {"a": np.int64(3), "b": np.array([[1.5, np.nan]]), "c": (np.bool_(True), None, "s"), 4: math.inf}
    clean = jsonable(value)
    assert clean == {"a": 3, "b": [[1.5, "nan"]], "c": [True, None, "s"], "4": "inf"}
    json.dumps(clean, allow_nan=False)  # strict JSON
    attrs = netcdf_attrs({"flag": True, "n": np.int32(2), "name": "x", "v": [1, 2.5], "d": value})
    assert attrs["flag"] == 1 and attrs["n"] == 2 and attrs["name"] == "x"
    np.testing.assert_array_equal(attrs["v"], [1.0, 2.5])
    assert json.loads(attrs["d"]) == clean
