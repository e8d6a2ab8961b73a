"""pk.hessian_eigs, pk.lipschitz, net.lipschitz_bound, pk.stationary_points."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import get
from test_mlp import make_data, make_net

import pykernels as pk


def assert_eigs(result, H, expected):
    scale = np.abs(np.linalg.eigvalsh(H)).max()
    np.testing.assert_allclose(result.values, expected, rtol=0, atol=1e-8 * scale)
    assert result.converged
    # the vectors are eigenvectors, with the residuals reported
    residual = np.linalg.norm(H @ result.vectors - result.vectors * result.values, axis=0)
    np.testing.assert_allclose(residual, result.residuals, rtol=1e-3, atol=1e-9 * scale)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=0), 1, rtol=1e-10)


def random_symmetric(n, seed):
    A = np.random.default_rng(seed).standard_normal((n, n))
    return (A + A.T) / 2


@pytest.mark.parametrize("which", ["largest", "smallest", "both"])
@pytest.mark.parametrize("k", [1, 3])
def test_hessian_eigs_random_symmetric(which, k):
    H = random_symmetric(60, seed=k)
    ev = np.linalg.eigvalsh(H)
    expected = {"largest": ev[-k:], "smallest": ev[:k],
                "both": np.concatenate([ev[:k], ev[-k:]])}[which]
    result = pk.hessian_eigs(lambda v: H @ v, 60, k=k, which=which)
    assert_eigs(result, H, expected)
    assert result.nprod <= 60


def test_hessian_eigs_diagonal_with_repeated_eigenvalues():
    d = np.array([1.0] * 5 + [2.0] * 3 + [7.0, -4.0])
    H = np.diag(d)
    result = pk.hessian_eigs(lambda v: H @ v, d.size, k=4)
    assert_eigs(result, H, [2.0, 2.0, 2.0, 7.0])
    result = pk.hessian_eigs(lambda v: H @ v, d.size, k=1, which="smallest")
    assert_eigs(result, H, [-4.0])


def test_hessian_eigs_counts_products_and_reports_non_convergence():
    H = np.diag(np.linspace(1, 2, 200))
    calls = []
    result = pk.hessian_eigs(lambda v: calls.append(1) or H @ v, 200, maxiter=5)
    assert result.nprod == len(calls) == 5
    assert not result.converged
    assert result.values[-1] <= 2 + 1e-12
    few = pk.hessian_eigs(lambda v: H @ v, 200, k=3, maxiter=2)
    assert few.values.size == 2 and not few.converged


@pytest.mark.parametrize("scale", [1e-200, 1e200, 1e-300, 1e300])
def test_hessian_eigs_any_scale(scale):
    """Norms of products near 1e-200 square to zero (and 1e200 to inf) unless the
    iteration is scale-invariant; the values, vectors and residuals must not care."""
    A = np.diag([1.0, 2.0, 5.0])
    result = pk.hessian_eigs(lambda v: scale * (A @ v), 3, which="both")
    np.testing.assert_allclose(result.values / scale, [1.0, 5.0], rtol=1e-10)
    assert result.converged
    # honest residuals: they bound ||H y - theta y||, computed here at scale 1
    actual = np.linalg.norm(A @ result.vectors - result.vectors * (result.values / scale),
                            axis=0)
    assert np.all(actual <= result.residuals / scale + 1e-14)
    assert np.all(np.abs(result.values / scale - [1.0, 5.0]) <= result.residuals / scale
                  + 1e-14)
    reference = pk.hessian_eigs(lambda v: A @ v, 3, which="both")
    np.testing.assert_allclose(result.vectors, reference.vectors, atol=1e-12)
    assert result.nprod == reference.nprod


@settings(max_examples=25, deadline=None)
@given(power=st.integers(-900, 900), seed=st.integers(0, 2**16), n=st.integers(1, 8),
       which=st.sampled_from(["largest", "smallest", "both"]))
def test_hessian_eigs_is_scale_invariant(power, seed, n, which):
    """2**power H: the same iteration exactly -- values and residuals times 2**power,
    vectors identical, bit for bit."""
    H = random_symmetric(n, seed)
    c = 2.0 ** power
    base = pk.hessian_eigs(lambda v: H @ v, n, k=1, which=which)
    scaled = pk.hessian_eigs(lambda v: c * (H @ v), n, k=1, which=which)
    np.testing.assert_array_equal(scaled.values, base.values * c)
    np.testing.assert_array_equal(scaled.residuals, base.residuals * c)
    np.testing.assert_array_equal(scaled.vectors, base.vectors)
    assert (scaled.converged, scaled.nprod) == (base.converged, base.nprod)


@pytest.mark.parametrize("x", ["x0", "xstar"])
def test_hessian_eigs_rosenbrock(x):
    p = get("rosenbrock", 10)
    H = p.hess(getattr(p, x))
    ev = np.linalg.eigvalsh(H)
    result = pk.hessian_eigs(lambda v: H @ v, p.n, k=1, which="both")
    assert_eigs(result, H, [ev[0], ev[-1]])


def test_hessian_eigs_of_a_network_hessian():
    net = make_net("tanh", "softmax", "cross_entropy", sizes=(4, 6, 3))
    X, Y = make_data(net, 20)
    H = np.column_stack([net.hvp(X, Y, e) for e in np.eye(net.size)])
    result = pk.hessian_eigs(lambda v: net.hvp(X, Y, v), net.size, which="both")
    ev = np.linalg.eigvalsh((H + H.T) / 2)
    np.testing.assert_allclose(result.values, [ev[0], ev[-1]], atol=1e-8 * np.abs(ev).max())


def test_hessian_eigs_bad_input():
    H = np.eye(3)
    with pytest.raises(TypeError, match="hvp must be callable"):
        pk.hessian_eigs(H, 3)
    with pytest.raises(ValueError, match="which must be one of"):
        pk.hessian_eigs(lambda v: v, 3, which="middle")
    with pytest.raises(ValueError, match="k must be <= n"):
        pk.hessian_eigs(lambda v: v, 3, k=4)
    with pytest.raises(ValueError, match="n must be >= 1"):
        pk.hessian_eigs(lambda v: v, 0)
    with pytest.raises(ValueError, match=r"hvp must return an array of shape \(3,\)"):
        pk.hessian_eigs(lambda v: np.ones(4), 3)
    with pytest.raises(ValueError, match="hvp returned NaN"):
        pk.hessian_eigs(lambda v: v * np.nan, 3)
    with pytest.raises(ValueError, match="tol must be"):
        pk.hessian_eigs(lambda v: v, 3, tol=-1.0)


# -- Lipschitz ---------------------------------------------------------------

def check_witnesses(estimate, f):
    x, y = np.atleast_1d(estimate.x), np.atleast_1d(estimate.y)
    ratio = np.linalg.norm(np.atleast_1d(f(estimate.x) - f(estimate.y))) / np.linalg.norm(x - y)
    assert ratio == pytest.approx(estimate.value, rel=1e-12)


def test_lipschitz_sin():
    est = pk.lipschitz(np.sin, 0.0, 2 * np.pi)
    assert 0.99 <= est.value <= 1.0
    assert 0 <= est.x <= 2 * np.pi and 0 <= est.y <= 2 * np.pi
    check_witnesses(est, np.sin)
    with_grad = pk.lipschitz(np.sin, 0.0, 2 * np.pi, grad=np.cos, samples=50)
    assert 0.99 <= with_grad.value <= 1.0


def test_lipschitz_linear_map_is_its_operator_norm():
    A = np.random.default_rng(3).standard_normal((3, 5))
    lo, hi = -np.ones(5), 2 * np.ones(5)
    est = pk.lipschitz(lambda x: A @ x, lo, hi, samples=200)
    assert est.value == pytest.approx(np.linalg.norm(A, 2), rel=1e-9)
    assert np.all(est.x >= lo) and np.all(est.x <= hi)
    check_witnesses(est, lambda x: A @ x)


@pytest.mark.parametrize("act,out", [("tanh", "identity"), ("relu", "softmax"),
                                     ("sigmoid", "sigmoid"), ("identity", "tanh")])
def test_network_bound_dominates_sampled_lower_bound(act, out):
    for seed in range(3):
        net = make_net(act, out, "mse", sizes=(3, 8, 5, 2), seed=seed)
        lower = pk.lipschitz(lambda x: net.predict(x[None])[0], -np.ones(3), np.ones(3),
                             samples=200, seed=seed)
        assert 0 < lower.value <= net.lipschitz_bound()


def test_network_bound_of_a_linear_layer_is_its_norm():
    net = pk.MLP([6, 4], activation="identity", output="identity", seed=2)
    W = net.layers[0][0]
    assert net.lipschitz_bound() == pytest.approx(np.linalg.norm(W, 2), rel=1e-10)
    assert net.lipschitz_bound() >= np.linalg.norm(W, 2)
    sig = pk.MLP([6, 4], activation="identity", output="sigmoid", seed=2)
    assert sig.lipschitz_bound() == pytest.approx(np.linalg.norm(W, 2) / 4, rel=1e-10)


def test_lipschitz_bad_input():
    with pytest.raises(ValueError, match="lo must be < hi"):
        pk.lipschitz(np.sin, 1.0, 1.0)
    with pytest.raises(ValueError, match="lo must be < hi"):
        pk.lipschitz(lambda x: x.sum(), [0, 1], [1, 0])
    with pytest.raises(ValueError, match="lo and hi must have the same shape"):
        pk.lipschitz(lambda x: x.sum(), [0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="hi must be finite"):
        pk.lipschitz(np.sin, 0.0, np.inf)
    with pytest.raises(TypeError, match="f must be callable"):
        pk.lipschitz(3.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        pk.lipschitz(np.sin, 0.0, 1.0, samples=0)


# -- stationary points ---------------------------------------------------------

def quartic(x):
    return x**4 - 40 * x**2 - 100 * x


LECTURE = [((-5 - math.sqrt(5)) / 2, "minimum", 9.549150281252629),
           ((-5 + math.sqrt(5)) / 2, "maximum", 65.45084971874737),
           (5.0, "minimum", -875.0)]


@pytest.mark.parametrize("derivatives", ["exact", "finite differences"])
def test_lecture_quartic(derivatives):
    kwargs = {}
    if derivatives == "exact":  # the erratum: 4x^3 - 80x - 100 and 12x^2 - 80
        kwargs = dict(fprime=lambda x: 4 * x**3 - 80 * x - 100, fsecond=lambda x: 12 * x**2 - 80)
    points = pk.stationary_points(quartic, -10, 10, **kwargs)
    assert [p.kind for p in points] == [kind for _, kind, _ in LECTURE]
    tol = 1e-12 if derivatives == "exact" else 1e-10
    for p, value, (x, _, fx) in zip(points, points.values, LECTURE):
        assert p.x == pytest.approx(x, abs=tol)
        assert value == pytest.approx(fx, rel=1e-12)
    text = str(points)
    assert "maximum" in text and "-875" in text


def test_double_roots_and_degenerate_points():
    # f' = 3 (x - 2)^2 touches zero: one inflection, no sign change to bracket
    points = pk.stationary_points(lambda x: (x - 2) ** 3, 0, 5)
    assert [p.kind for p in points] == ["inflection"]
    assert points[0].x == pytest.approx(2, abs=1e-4)
    # x^4: f'' = 0 at the minimum, the first-derivative test decides
    points = pk.stationary_points(lambda x: x**4, -1, 1.3)
    assert [(round(p.x, 6), p.kind) for p in points] == [(0, "minimum")]
    # (x^2 - 1)^2: double roots of f, simple roots of f'
    points = pk.stationary_points(lambda x: (x * x - 1) ** 2, -3, 3)
    assert [p.kind for p in points] == ["minimum", "maximum", "minimum"]
    np.testing.assert_allclose([p.x for p in points], [-1, 0, 1], atol=1e-9)


def test_no_stationary_points():
    assert len(pk.stationary_points(np.exp, -3, 3)) == 0
    assert len(pk.stationary_points(lambda x: 3 * x + 1, -3, 3)) == 0
    assert len(pk.stationary_points(lambda x: (x - 5) ** 2, -3, 3)) == 0  # outside
    assert str(pk.stationary_points(np.exp, -3, 3)) == "no stationary points"


def test_stationary_points_at_the_ends_and_on_grid():
    points = pk.stationary_points(np.cos, 0, 2 * np.pi, fprime=lambda x: -np.sin(x))
    assert [p.kind for p in points] == ["maximum", "minimum", "maximum"]
    np.testing.assert_allclose([p.x for p in points], [0, np.pi, 2 * np.pi], atol=1e-12)


def test_derivatives_never_leave_the_interval():
    # math.sqrt raises below 0: every evaluation must stay in [0, 2]
    points = pk.stationary_points(lambda x: math.sqrt(x) * (x - 1), 0.0, 2.0)
    assert [p.kind for p in points] == ["minimum"]
    assert points[0].x == pytest.approx(1 / 3, abs=1e-10)
    est = pk.lipschitz(lambda x: math.sqrt(x - 1.0), 1.0, 2.0, samples=20)
    assert est.value > 10  # the slope is unbounded at 1


def test_stationary_points_bad_input():
    with pytest.raises(ValueError, match="lo must be < hi"):
        pk.stationary_points(quartic, 2, 1)
    with pytest.raises(TypeError, match="f must be callable"):
        pk.stationary_points("x^2", 0, 1)
    with pytest.raises(TypeError, match="fprime must be callable"):
        pk.stationary_points(quartic, 0, 1, fprime=1.0)
    with pytest.raises(ValueError, match="lo must be a finite number"):
        pk.stationary_points(quartic, -np.inf, 1)
    with pytest.raises(ValueError, match="num must be >= 3"):
        pk.stationary_points(quartic, 0, 1, num=2)


def test_top_eigenvalue_of_a_1000_parameter_network_in_few_products():
    # the bar: 1e-6 relative in <= 50 Hessian-vector products
    net = pk.MLP([8, 32, 20, 5], activation="tanh", output="softmax", loss="cross_entropy",
                 seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((64, 8)), rng.integers(0, 5, 64)
    H = np.column_stack([net.hvp(X, Y, e) for e in np.eye(net.size)])
    top = np.linalg.eigvalsh((H + H.T) / 2)[-1]
    result = pk.hessian_eigs(lambda v: net.hvp(X, Y, v), net.size, tol=1e-6)
    assert net.size > 1000
    assert result.nprod <= 50
    assert abs(result.values[-1] - top) <= 1e-6 * abs(top)
