"""An independent hostile-input suite for pykernels.plot, the command line, benchmark
output, the sharded objective and the scikit-learn estimators (issue 14's last bar):
a clear error naming the argument (a usage error for the command line) before any work
is done, or a finite answer."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pykernels as pk
from pykernels import plot
from pykernels.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(0)
XY = RNG.standard_normal((30, 2))
LABELS = (XY[:, 0] > 0).astype(int)


def _surface(P):
    return np.sum(np.asarray(P) ** 2, axis=1)


def _surface_grad(P):
    return 2.0 * np.asarray(P)


GOOD = {
    "decision_boundary": dict(predict=lambda P: np.column_stack([P[:, 0], -P[:, 0]]), X=XY,
                              y=LABELS),
    "loss_curves": dict(curves={"a": ([1, 10, 100], [1.0, 0.1, 0.01])}),
    "flow_field": dict(f=_surface, grad=_surface_grad, lo=(-1.0, -1.0), hi=(1.0, 1.0),
                       paths={"gd": np.array([[0.5, 0.5], [0.1, 0.1]])}),
    "stationary_points": dict(f=np.cos, points=[(0.0, "maximum"), (np.pi, "minimum")],
                              lo=-1.0, hi=4.0),
    "lipschitz_cone": dict(f=np.sin, lo=0.0, hi=3.0, x0=1.0, slope=1.0),
}
HOSTILE = {
    "predict": [lambda P: None, lambda P: np.full((len(P), 2), np.nan), lambda P: P[:, 0],
                lambda P: np.ones((3, 2)), lambda P: np.array([["a"]] * len(P)), "predict"],
    "X": [XY * np.nan, XY[:, :1], XY[:0], XY.astype(str), [[0.0, 1.0], [1.0]], XY.ravel()],
    "y": [LABELS[:5], LABELS.astype(float) + 0.5, LABELS.astype(str), None],
    "curves": [["a"], {"a": ([1, 2], [1.0])}, {"a": ([1, 2],)}, {"a": "xy"},
               {"a": ([1, 2], ["1", "2"])}, None],
    "f": [lambda P: None, lambda P: np.nan * np.ones(np.shape(P)[:1]), lambda P: "1", 3],
    "grad": [lambda P: np.ones((len(P), 3)), lambda P: np.full((len(P), 2), np.inf), None],
    "lo": [(1.0, 1.0), (np.nan, 0.0), (-1e308, -1.0), "lo", 5.0, (0.0,)],
    "hi": [(-1.0, -1.0), (np.inf, 1.0), 1e308, "hi", 0.0],
    "paths": [{"gd": np.ones((3, 3))}, {"gd": []}, ["gd"], {"gd": [[np.nan, 0.0]]}],
    "points": [[(0.0, "saddle")], [(0.0,)], [("x", "minimum")], [0.0], "points"],
    "x0": [5.0, np.nan, "1"],
    "slope": [-1.0, np.inf, np.nan, "1"],
}


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_plots_draw_or_name_the_argument_before_drawing(data, tmp_path_factory):
    name = data.draw(st.sampled_from(sorted(GOOD)))
    kwargs = dict(GOOD[name])
    key = data.draw(st.sampled_from(["none"] + [k for k in kwargs if k in HOSTILE]))
    if key != "none":
        kwargs[key] = data.draw(st.sampled_from(HOSTILE[key]))
    path = tmp_path_factory.mktemp("plot") / f"{name}.png"
    try:
        assert getattr(plot, name)(**kwargs, path=path) == str(path)
    except (TypeError, ValueError) as exc:
        assert key in str(exc) or (key == "y" and "y must" in str(exc)), str(exc)
        assert not path.exists()
        return
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("name", sorted(GOOD))
def test_plots_check_the_path_before_drawing(name, tmp_path):
    # was: matplotlib's FileNotFoundError after the whole figure was drawn
    with pytest.raises(FileNotFoundError, match="path="):
        getattr(plot, name)(**GOOD[name], path=tmp_path / "missing" / "x.png")
    with pytest.raises(IsADirectoryError, match="path="):
        getattr(plot, name)(**GOOD[name], path=tmp_path)
    with pytest.raises(TypeError, match="path must be a file path"):
        getattr(plot, name)(**GOOD[name], path=3)


@pytest.mark.parametrize("argv,message", [
    (["demo", "--backend", "fortran"], "argument --backend: invalid choice"),
    (["demo", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["bench", "--group", "no-such-group"], "--group 'no-such-group' matches no benchmark"),
])
def test_command_line_usage_errors_are_usage_errors(argv, message, capsys):
    # was: a traceback (ValueError from numpy's seed, from the backend), or success
    # after running nothing
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_demo_out_that_is_a_file(tmp_path, capsys):
    # was: FileExistsError traceback
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SystemExit):
        main(["demo", "--quick", "--out", str(target)])
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_bench_json_path_checked_before_the_benchmarks_run(tmp_path, capsys, where):
    # was: the benchmarks ran, then the write failed and left a .tmp-*.json behind
    target = tmp_path / "no" / "out.json" if where == "missing" else tmp_path
    with pytest.raises(SystemExit):
        main(["bench", "--quick", "--group", "gradient", "--json", str(target)])
    assert "--json=" in capsys.readouterr().err
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_write_json_leaves_no_temporary_file_behind(tmp_path):
    from pykernels.benchmarks import write_json

    with pytest.raises(TypeError):
        write_json([{"seconds": object()}], tmp_path / "out.json")  # not JSON
    assert os.listdir(tmp_path) == []
    write_json([{"seconds": 1.0}], tmp_path / "out.json")
    assert os.listdir(tmp_path) == ["out.json"]


# -- the sharded objective ------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _sharded_problem():
    net = pk.MLP([3, 4, 2], seed=0)
    X, Y = RNG.standard_normal((20, 3)), RNG.standard_normal((20, 2))
    return net, X, Y


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("weight", [5e-324, 1e308])
@pytest.mark.parametrize("dask_input", [False, True])
def test_sharded_objective_with_extreme_weights(client, weight, dask_input):
    # was: 1 / (total weight) overflowed (tiny weights) or the total did (huge ones):
    # NaN values and gradients
    da = pytest.importorskip("dask.array")
    net, X, Y = _sharded_problem()
    sw = np.full(20, weight)
    args = (da.from_array(X, chunks=5), da.from_array(Y, chunks=5),
            da.from_array(sw, chunks=5)) if dask_input else (X, Y, sw)
    obj = net.objective(args[0], args[1], sample_weight=args[2], executor=client, shards=4)
    try:
        f, g = obj.fun_and_grad(net.theta)
    finally:
        obj.close()
    ref_f, ref_g = net.loss_and_grad(X, Y)
    assert f == pytest.approx(ref_f, rel=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-10, atol=1e-14)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sharded_dask_input_with_a_chunk_of_zero_weights(client):
    # was: "shard 0: sample_weight must have a positive sum" (NumPy input took it)
    da = pytest.importorskip("dask.array")
    net, X, Y = _sharded_problem()
    sw = np.ones(20)
    sw[:5] = 0.0
    obj = net.objective(da.from_array(X, chunks=5), Y, sample_weight=da.from_array(sw, chunks=5),
                        executor=client)
    try:
        assert obj.fun(net.theta) == pytest.approx(net.loss(X, Y, sample_weight=sw), rel=1e-12)
    finally:
        obj.close()
    with pytest.raises(ValueError, match="sample_weight must have a positive sum"):
        net.objective(da.from_array(X, chunks=5), Y, executor=client,
                      sample_weight=da.from_array(np.zeros(20), chunks=5))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sharded_dask_input_of_the_wrong_dimension_names_it(client):
    # was: dask's "Chunks and shape must be of the same length/dimension"
    da = pytest.importorskip("dask.array")
    net, X, Y = _sharded_problem()
    with pytest.raises(ValueError, match=r"X must be 2-D, got shape \(1, 20, 3\)"):
        net.objective(da.from_array(X[None], chunks=5), Y, executor=client)


# -- scikit-learn estimators -----------------------------------------------------------

SKLEARN_DATA = {
    "X*1e300": lambda X, y: (X * 1e300, y), "X*1e150": lambda X, y: (X * 1e150, y),
    "X*5e-324": lambda X, y: (X * 5e-324, y), "y*1e300": lambda X, y: (X, y * 1e300),
    "X nan": lambda X, y: (np.where(X > 1, np.nan, X), y),
    "y inf": lambda X, y: (X, np.where(y > 0, np.inf, y)), "X str": lambda X, y: (X.astype(str), y),
    "one row": lambda X, y: (X[:1], y[:1]), "X 3-D": lambda X, y: (X[None], y),
}
SKLEARN_PARAMS = [{}, {"learning_rate_init": 1e300}, {"learning_rate_init": 1e3},
                  {"alpha": 1e300}, {"hidden_layer_sizes": (2**40,)}, {"momentum": 1.0},
                  {"epsilon": 0.0}, {"batch_size": 10**9}, {"max_fun": 1}, {"tol": np.nan}]


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(regressor=st.booleans(), solver=st.sampled_from(["adam", "sgd", "lbfgs", "newton-cg"]),
       data=st.sampled_from([None] + sorted(SKLEARN_DATA)),
       params=st.sampled_from(SKLEARN_PARAMS))
def test_estimators_fit_finite_or_refuse(regressor, solver, data, params):
    sklearn = pytest.importorskip("pykernels.sklearn")
    X = RNG.standard_normal((40, 3))
    y = X[:, 0] * 2.0 if regressor else (X[:, 0] > 0).astype(int)
    if data is not None:
        X, y = SKLEARN_DATA[data](X, y)
    cls = sklearn.MLPRegressor if regressor else sklearn.MLPClassifier
    est = cls(solver=solver, max_iter=5, random_state=0, **params)
    try:
        est.fit(X, y)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert all(np.isfinite(c).all() for c in est.coefs_)
    assert np.isfinite(est.predict(RNG.standard_normal((4, 3))).astype(float)).all()
