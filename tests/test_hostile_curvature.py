"""An independent hostile-input suite for pk.hessian_eigs, pk.lipschitz,
pk.stationary_points, net.lipschitz_bound and pykernels.datasets (issue 14's last bar):
a clear ValueError/TypeError naming the argument, or finite answers.  Regression tests
for each defect the campaign found follow."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pykernels as pk
from pykernels.curvature import spectral_norm_bound
from pykernels.datasets import spirals

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

A = np.diag([1.0, 2.0, 5.0])
OPERATORS = {
    "good": lambda v: A @ v,
    "scaled-1e300": lambda v: 1e300 * (A @ v),
    "scaled-1e-300": lambda v: 1e-300 * (A @ v),
    "subnormal": lambda v: 5e-324 * (A @ v),
    "overflow": lambda v: 1e308 * (A @ v),
    "zero": lambda v: 0.0 * v,
    "spread": lambda v: np.array([1e-300, 1.0, 1e300]) * v,
    "int": lambda v: np.round(A @ v * 100).astype(np.int64),
    "list": lambda v: list(A @ v),
    "short": lambda v: v[:2],
    "row": lambda v: (A @ v)[None],
    "nan": lambda v: v * np.nan,
    "none": lambda v: None,
    "string": lambda v: "Hv",
    "bool": lambda v: v > 0,
    "complex": lambda v: A @ v + 0j,
}
SCALARS = {
    "good": np.sin,
    "kinked": lambda x: abs(x - 0.3),
    "constant": lambda x: 2.0,
    "huge": lambda x: 1e300 * np.sin(x),
    "nan-right": lambda x: np.nan if np.max(x) > 2.5 else np.sin(x),
    "inf": lambda x: np.inf,
    "none": lambda x: None,
    "string": lambda x: "0.5",
    "complex": lambda x: 1j,
    "bool": lambda x: True,
    "vector": lambda x: np.ones(2),
    "ragged": lambda x: [[1.0], [1.0, 2.0]],
}
BOXES = [(0.0, 3.0), (-1e-3, 1e-3), (3.0, 0.0), (0.0, 0.0), (np.nan, 1.0), (0.0, np.inf),
         (-1e308, 1e308), (0.0, 1e-320), ("a", "b"), (True, 2.0), ([0, 0], [1, 1]),
         ([0.0, 1.0], [1.0]), (1e300, 1.0000001e300)]
NAMES = ("hvp", "n", "k", "which", "tol", "maxiter", "seed", "f", "grad", "fprime", "fsecond",
         "lo", "hi", "samples", "num", "xtol")


@st.composite
def curvature_calls(draw):
    """One call with at most one hostile part."""
    kind = draw(st.sampled_from(["eigs", "lipschitz", "stationary"]))
    part = draw(st.sampled_from(["none", "function", "option"]))
    if kind == "eigs":
        hvp = OPERATORS[draw(st.sampled_from(sorted(OPERATORS)))] if part == "function" \
            else OPERATORS["good"]
        options = {"n": 3, "k": 1, "which": draw(st.sampled_from(["largest", "smallest", "both"]))}
        if part == "option":
            key, values = draw(st.sampled_from([
                ("n", [0, 2, 3.0, True, 10**13]), ("k", [0, 4, 1.5]),
                ("which", ["Largest", None]), ("tol", [0.0, np.nan, 1e300, 5e-324, "1"]),
                ("maxiter", [0, 1, 10**12]), ("seed", [-1, "a", 2**70])]))
            options[key] = draw(st.sampled_from(values))
        return "eigs", lambda: pk.hessian_eigs(hvp, **options)
    f = SCALARS[draw(st.sampled_from(sorted(SCALARS)))] if part == "function" else np.sin
    lo, hi = draw(st.sampled_from(BOXES)) if part == "option" else (0.0, 3.0)
    if kind == "lipschitz":
        where = draw(st.sampled_from(["f", "grad"]))
        if where == "grad":
            return kind, lambda: pk.lipschitz(np.sin, lo, hi, grad=f if f is not np.sin
                                              else np.cos, samples=40)
        return kind, lambda: pk.lipschitz(f, lo, hi, samples=40)
    where = draw(st.sampled_from(["f", "fprime", "fsecond"]))
    if where == "f":
        return kind, lambda: pk.stationary_points(f, lo, hi, num=61)
    if where == "fprime":
        return kind, lambda: pk.stationary_points(np.sin, lo, hi, fprime=f, num=61)
    return kind, lambda: pk.stationary_points(np.sin, lo, hi, fprime=np.cos, fsecond=f, num=61)


def _finite(result):
    if isinstance(result, pk.curvature.HessianEigs):
        return np.isfinite(result.values).all() and np.isfinite(result.residuals).all()
    if isinstance(result, pk.LipschitzEstimate):
        return np.isfinite(result.value) and result.value >= 0 and result.x is not None
    return (all(np.isfinite(p.x) for p in result) and np.isfinite(result.values).all()
            and np.isfinite(result.curvatures).all())


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=curvature_calls())
def test_curvature_answers_or_names_the_argument(case):
    kind, call = case
    try:
        result = call()
    except (ValueError, TypeError) as exc:
        assert any(name in str(exc) for name in NAMES), str(exc)
        event(f"{kind}: {type(exc).__name__}")
        return
    event(f"{kind}: result")
    assert _finite(result), result


@pytest.mark.parametrize("scale", [1e-300, 5e-324 * 2**60, 1.0, 1e300])
def test_eigenvalues_follow_the_scale_of_the_operator(scale):
    r = pk.hessian_eigs(lambda v: scale * (A @ v), 3, which="both")
    np.testing.assert_allclose(r.values / scale, [1.0, 5.0], rtol=1e-10)


# -- regressions ----------------------------------------------------------------------

@pytest.mark.parametrize("value,exc", [("Hv", TypeError), (np.ones(3, bool), TypeError),
                                       (np.ones(3) * 1j, TypeError), (np.ones((1, 3)), ValueError)])
def test_hessian_eigs_checks_what_hvp_returns(value, exc):
    # was: "could not convert string to float: 'Hv'", booleans taken as numbers
    with pytest.raises(exc, match=r"hvp must return (a real )?an? ?.*array of shape \(3,\)"):
        pk.hessian_eigs(lambda v: value, 3)


@pytest.mark.parametrize("seed,exc", [(-1, ValueError), ("a", TypeError), (1.5, TypeError)])
def test_hessian_eigs_checks_its_seed(seed, exc):
    # was: numpy's "expected non-negative integer"
    with pytest.raises(exc, match="seed must be"):
        pk.hessian_eigs(OPERATORS["good"], 3, seed=seed)


def test_hessian_eigs_refuses_a_dimension_that_cannot_fit():
    # was: MemoryError "Unable to allocate 21.3 PiB"
    with pytest.raises(ValueError, match="n asks for .* GiB, more than"):
        pk.hessian_eigs(OPERATORS["good"], 10**13)


@pytest.mark.parametrize("scale", [1e300, 1e307, 1e-320])
def test_spectral_norm_bound_at_extreme_scales(scale):
    # was: "hvp returned NaN or Inf" (W^T W overflowed), 0 where it underflowed
    W = np.array([[3.0, 0.0], [0.0, 4.0]]) * scale
    assert spectral_norm_bound(W) == pytest.approx(4.0 * scale, rel=1e-10)


def test_lipschitz_bound_of_extreme_and_zero_networks():
    net = pk.MLP([2, 3, 1], seed=0)
    # was: "hvp returned NaN or Inf" (each layer's W^T W overflowed)
    assert net.lipschitz_bound(net.theta * 1e150) == pytest.approx(
        net.lipschitz_bound() * 1e300, rel=1e-10)
    assert net.lipschitz_bound(net.theta * 1e300) == np.inf  # the bound itself overflows
    # was: NaN (0 for the zero layer times inf for the exp output)
    exp = pk.MLP([2, 3, 1], output="exp", loss="poisson", seed=0)
    assert exp.lipschitz_bound(np.zeros(exp.size)) == 0.0
    assert exp.lipschitz_bound() == np.inf


@pytest.mark.parametrize("f,exc,match", [
    (lambda x: "0.5", TypeError, "f must return a real array"),
    (lambda x: 1j, TypeError, "f must return a real array"),
    (lambda x: np.ones(1 + int(np.sum(x) > 1.5)), ValueError, "f must return an array of shape"),
    (lambda x: np.nan if np.max(x) > 1 else 1.0, ValueError, "f returned a non-finite value"),
])
def test_lipschitz_checks_what_f_returns(f, exc, match):
    # was: strings parsed as numbers, "float() argument must be ...", numpy's
    # broadcasting error, or NaN slopes silently skipped
    with pytest.raises(exc, match=match):
        pk.lipschitz(f, 0.0, 3.0, samples=50)


@pytest.mark.parametrize("grad,exc,match", [
    (lambda x: None, TypeError, "grad must return a real array"),
    (lambda x: np.nan, ValueError, "grad returned a non-finite value"),
    (lambda x: np.ones((2, 2)), ValueError, r"grad must return an array of shape \(1, 1\)"),
])
def test_lipschitz_checks_what_grad_returns(grad, exc, match):
    # was: LinAlgError "SVD did not converge", or a (2, 2) Jacobian for a scalar f
    with pytest.raises(exc, match=match):
        pk.lipschitz(np.sin, 0.0, 3.0, grad=grad, samples=50)


def test_lipschitz_boxes_too_wide_or_subnormal():
    # was: OverflowError "Range exceeds valid bounds"
    with pytest.raises(ValueError, match="hi - lo must be finite"):
        pk.lipschitz(np.sin, -1e308, 1e308, samples=20)
    # was: TypeError "'NoneType' object is not subscriptable": |x - y| underflowed to 0
    # in the 2-norm's squares, so no pair had a finite slope
    est = pk.lipschitz(np.sin, 0.0, 1e-320, samples=20)
    assert est.value == pytest.approx(1.0, rel=1e-2) and est.x != est.y
    est = pk.lipschitz(lambda x: 1e300 * np.sin(x), 0.0, 3.0, samples=200)
    assert 0.9e300 < est.value <= 1e300  # was inf: the squares overflowed


@pytest.mark.parametrize("which,value,exc,match", [
    ("fprime", None, TypeError, "fprime must return a real number"),
    ("fprime", [1.0, 2.0], ValueError, "fprime must return a scalar"),
    ("fsecond", np.nan, ValueError, "fsecond returned nan"),
    ("fsecond", 1j, TypeError, "fsecond must return a real number"),
])
def test_stationary_points_checks_the_derivatives_it_is_given(which, value, exc, match):
    # was: float(None) errors, and a NaN f'' reported as a point's curvature
    kwargs = {"fprime": np.cos}
    kwargs[which] = lambda x: value
    with pytest.raises(exc, match=match):
        pk.stationary_points(np.sin, 0.0, 3.0, num=31, **kwargs)


def test_stationary_points_names_the_function_it_differentiates():
    # was: "f returned non-finite values ..." for a failure differencing fprime
    with pytest.raises(ValueError, match="the derivative of fprime at x"):
        pk.stationary_points(np.sin, -1.0, 3.0, fprime=lambda x: 1e308 * np.cos(x), num=31)


@pytest.mark.parametrize("lo,hi,num,match", [(-1e308, 1e308, 11, "too wide"),
                                             (0.0, 1e-320, 11, "too narrow"),
                                             (0.0, 1.0, 10**13, "num asks for")])
def test_stationary_points_grids_that_cannot_be_made(lo, hi, num, match):
    # was: a grid of NaN (hi - lo overflowed), misleading difference errors, and
    # MemoryError for a huge num
    with pytest.raises(ValueError, match=match):
        pk.stationary_points(np.sin, lo, hi, num=num)


@pytest.mark.parametrize("kwargs,exc,name", [
    ({"turns": "1"}, TypeError, "turns"), ({"noise": np.nan}, ValueError, "noise"),
    ({"seed": -1}, ValueError, "seed"), ({"dtype": np.int64}, TypeError, "dtype"),
    ({"n": 10**13}, ValueError, "n asks for"), ({"turns": True}, TypeError, "turns"),
])
def test_spirals_checks_its_arguments(kwargs, exc, name):
    # was: numpy's errors (isfinite of a string, a negative seed), int64 points
    with pytest.raises(exc, match=name):
        spirals(**kwargs)
