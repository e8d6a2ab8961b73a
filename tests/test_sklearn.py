"""pykernels.sklearn: scikit-learn's conformance suite, the objective against closed
forms and scikit-learn itself, the API (pickle, clone, errors, partial_fit) and the
extras (newton-cg, backend, callback, validation loss)."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from pykernels.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


def test_import_pykernels_does_not_import_scikit_learn():
    code = "import sys, pykernels; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- the objective -------------------------------------------------------------------

def _ridge(X, Y, s, lam):
    """argmin_W,b sum_i s_i ||y_i - W^T x_i - b||^2 + lam ||W||^2 (b not penalised)."""
    xm, ym = s @ X / s.sum(), s @ Y / s.sum()
    Xc, Yc = X - xm, Y - ym
    W = np.linalg.solve(Xc.T @ (s[:, None] * Xc) + lam * np.eye(X.shape[1]),
                        Xc.T @ (s[:, None] * Yc))
    return W, ym - xm @ W


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_no_hidden_layer_reaches_the_ridge_solution(n_outputs):
    # sklearn's objective 0.5 sum_i s_i mean_k r_ik^2 / sum(s) + alpha ||W||^2 / (2 sum(s))
    # is, times 2 k sum(s), ridge with lam = alpha k: with k outputs sklearn's own lbfgs
    # reaches lam = alpha instead (its gradient is k times too large, issue #8349)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    Y = X @ rng.standard_normal((4, n_outputs)) + 0.3 * rng.standard_normal((60, n_outputs))
    s = rng.uniform(0.5, 2.0, 60)
    alpha = 3.0
    W, b = _ridge(X, Y, s, alpha * n_outputs)
    y = Y.ravel() if n_outputs == 1 else Y
    reg = MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", alpha=alpha, tol=1e-12,
                       max_iter=1000, random_state=0).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(reg.coefs_[0], W, atol=1e-5)
    np.testing.assert_allclose(reg.intercepts_[0], b, atol=1e-5)
    # loss_ is the value of the documented objective there
    R = Y - X @ W - b
    expected = (0.5 * s @ (R ** 2).mean(axis=1) + 0.5 * alpha * (W ** 2).sum()) / s.sum()
    assert reg.loss_ == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_integer_sample_weights_equal_repeated_rows(solver):
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    w = np.random.default_rng(0).integers(0, 4, len(X))
    kw = dict(hidden_layer_sizes=(5,), solver=solver, alpha=0.01, max_iter=10, random_state=0)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    for a, b in zip(weighted.coefs_ + weighted.intercepts_,
                    repeated.coefs_ + repeated.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-9)


def test_softmax_regression_matches_scikit_learns_optimum():
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    kw = dict(hidden_layer_sizes=(), solver="lbfgs", alpha=5.0, tol=1e-10, max_iter=2000,
              random_state=0)
    ours, theirs = MLPClassifier(**kw).fit(X, y), SkClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-4)
    np.testing.assert_allclose(ours.intercepts_[0], theirs.intercepts_[0], atol=1e-4)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-7)


def _regression(n_outputs=1, n=120):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, 5))
    Y = np.tanh(X @ rng.standard_normal((5, n_outputs))) + 0.1 * rng.standard_normal(
        (n, n_outputs))
    return X, Y.ravel() if n_outputs == 1 else Y


@pytest.mark.parametrize("cls, target, params", [
    (MLPRegressor, "regression", dict(solver="sgd")),
    (MLPRegressor, "regression", dict(solver="sgd", nesterovs_momentum=False)),
    (MLPRegressor, "regression", dict(solver="sgd", momentum=0.0)),
    (MLPRegressor, "poisson", dict(solver="sgd", loss="poisson")),
    (MLPRegressor, "poisson-2", dict(solver="sgd", loss="poisson")),
    (MLPClassifier, "binary", dict(solver="sgd")),
    (MLPClassifier, "multiclass", dict(solver="sgd", activation="logistic")),
    (MLPClassifier, "multilabel", dict(solver="sgd", activation="tanh")),
    (MLPRegressor, "regression", dict(solver="adam")),
    (MLPClassifier, "multiclass", dict(solver="adam")),
])
def test_mini_batch_steps_are_scikit_learns(cls, target, params):
    # same initial weights (drawn as sklearn draws them), batches in order, batch_size
    # dividing n: every step is sklearn's (adam's epsilon sits in a slightly different
    # place, hence the looser tolerance)
    X, y = _regression(n_outputs=2 if target.endswith("-2") else 1)
    if target.startswith("poisson"):
        y = np.exp(y)
    elif target != "regression":
        y = {"binary": y > 0, "multiclass": np.digitize(y, [-0.5, 0.5]),
             "multilabel": np.c_[y > 0, np.abs(y) > 0.5]}[target]
    kw = dict(hidden_layer_sizes=(7,), batch_size=40, shuffle=False, max_iter=15, tol=0,
              alpha=0.1, learning_rate_init=0.01, random_state=1, **params)
    ours = cls(**kw).fit(X, y)
    theirs = (SkRegressor if cls is MLPRegressor else SkClassifier)(**kw).fit(X, y)
    tol = 1e-4 if params["solver"] == "adam" else 1e-12
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=tol)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_


def test_stopping_rules_and_schedules_follow_scikit_learn():
    X, y = _regression()
    # (momentum 0: pk.optim keeps a velocity in gradient units, so a change of the rate
    # also rescales the velocity built up; without momentum the steps are sklearn's)
    for params in (dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.5,
                        momentum=0.0, n_iter_no_change=2, tol=1e-3),
                   dict(solver="adam", n_iter_no_change=3, tol=1e-2),
                   dict(solver="sgd", early_stopping=True, n_iter_no_change=3)):
        kw = dict(hidden_layer_sizes=(7,), batch_size=12, shuffle=False, max_iter=300,
                  random_state=1, **params)        # 12 divides 120 and 108 (early stopping)
        ours, theirs = MLPRegressor(**kw).fit(X, y), SkRegressor(**kw).fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_, params
        if params.get("early_stopping"):
            np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                       rtol=1e-10)
            assert ours.best_validation_score_ == pytest.approx(
                theirs.best_validation_score_, rel=1e-10)
            assert ours.best_loss_ is None
            for a, b in zip(ours.coefs_, theirs.coefs_):      # best weights restored
                np.testing.assert_allclose(a, b, rtol=1e-10)
        else:   # (adam's epsilon sits in a slightly different place)
            rel = 1e-6 if params["solver"] == "adam" else 1e-10
            assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=rel)


# -- targets, dtypes, attributes -------------------------------------------------------

def test_string_labels_and_multilabel():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((10,), solver="lbfgs", random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.predict(X).dtype == names.dtype and clf.score(X, names) > 0.95
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3

    binary = MLPClassifier((10,), solver="lbfgs", random_state=0).fit(X, names == "setosa")
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    assert binary.predict_proba(X).shape == (150, 2)

    X, Y = make_multilabel_classification(200, 10, n_classes=4, random_state=0)
    multi = MLPClassifier((20,), solver="lbfgs", max_iter=300, random_state=0).fit(X, Y)
    assert multi.out_activation_ == "logistic" and multi.n_outputs_ == 4
    assert multi.predict(X).shape == Y.shape and multi.score(X, Y) > 0.5  # all 4 right
    proba = multi.predict_proba(X)
    assert proba.shape == Y.shape and not np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(multi.predict_log_proba(X), np.log(proba))


@pytest.mark.parametrize("y", [np.arange(40) % 7, np.arange(40) % 2, (np.arange(40) % 3) * 2.0,
                               np.array(list("abcd") * 10), np.array(["no", "yes"] * 20),
                               np.full(40, 3), np.arange(40) % 2 == 0,
                               np.array(["b", "a"] * 20, dtype=object)])
def test_targets_encoded_as_label_binarizer_encodes_them(y):
    from sklearn.preprocessing import LabelBinarizer

    clf = MLPClassifier()
    clf._label_binarizer = LabelBinarizer().fit(y)
    clf.classes_ = clf._label_binarizer.classes_
    for dtype in (np.float64, np.float32):
        got = clf._binarized(y, dtype)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, clf._label_binarizer.transform(y))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_end_to_end(solver):
    X, y = load_iris(return_X_y=True)
    X32 = X.astype(np.float32)
    clf = MLPClassifier((8,), solver=solver, max_iter=20, random_state=0).fit(X32, y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver=solver, max_iter=20,
                       random_state=0).fit(X32, X[:, 0])
    assert reg.predict(X32).dtype == np.float32


def test_coefs_are_views_of_the_network_and_replacing_them_counts():
    X, y = _regression(n_outputs=2)
    reg = MLPRegressor(hidden_layer_sizes=(6, 4), solver="lbfgs", max_iter=5,
                       random_state=0).fit(X, y)
    assert [c.shape for c in reg.coefs_] == [(5, 6), (6, 4), (4, 2)]
    assert [b.shape for b in reg.intercepts_] == [(6,), (4,), (2,)]
    assert reg.n_layers_ == 4 and reg.n_outputs_ == 2 and reg.out_activation_ == "identity"
    theta = reg._net.theta
    assert all(np.shares_memory(c, theta) for c in reg.coefs_ + reg.intercepts_)
    # predict uses coefs_ / intercepts_ as they are now, even when replaced
    by_hand = np.maximum(np.maximum(X @ reg.coefs_[0] + reg.intercepts_[0], 0)
                         @ reg.coefs_[1] + reg.intercepts_[1], 0) @ reg.coefs_[2] \
        + reg.intercepts_[2]
    np.testing.assert_allclose(reg.predict(X), by_hand, rtol=1e-12)
    reg.coefs_ = [2 * c for c in reg.coefs_]
    assert not np.allclose(reg.predict(X), by_hand)


# -- estimator API ----------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_pickle_clone_and_deepcopy_round_trips(solver):
    import copy

    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((8,), solver=solver, max_iter=10, random_state=0).fit(X, y)
    for other in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
        assert np.shares_memory(other.coefs_[0], other._net.theta)
    if solver == "sgd":   # the optimizer state survives: partial_fit continues alike
        other = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(other.partial_fit(X, y).coefs_[0],
                                      clf.partial_fit(X, y).coefs_[0])
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "coefs_")
    np.testing.assert_array_equal(fresh.fit(X, y).coefs_[0], MLPClassifier(
        (8,), solver=solver, max_iter=10, random_state=0).fit(X, y).coefs_[0])


def test_partial_fit_continues_the_optimizer():
    X, y = _regression()
    kw = dict(hidden_layer_sizes=(7,), solver="adam", shuffle=False, batch_size=40,
              random_state=0, tol=0)
    once = MLPRegressor(max_iter=3, **kw).fit(X, y)
    steps = MLPRegressor(**kw)
    first = steps.partial_fit(X, y).coefs_[0]
    for _ in range(2):
        steps.partial_fit(X, y)
    np.testing.assert_allclose(steps.coefs_[0], once.coefs_[0], rtol=1e-12)
    np.testing.assert_array_equal(first, steps.coefs_[0])   # updated in place, as sklearn's
    assert steps.t_ == once.t_ == 3 * len(X) and steps.loss_curve_ == once.loss_curve_


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_no_partial_fit_for_full_batch_solvers(cls):
    assert hasattr(cls(solver="adam"), "partial_fit")
    for solver in ("lbfgs", "newton-cg"):
        assert not hasattr(cls(solver=solver), "partial_fit")
        with pytest.raises(AttributeError):
            cls(solver=solver).partial_fit


@pytest.mark.parametrize("change, X, match", [
    (dict(activation="softplus"), None, "activation"),
    (dict(hidden_layer_sizes=(10, 0)), None, "hidden_layer_sizes"),
    (dict(solver="conjugate"), None, "solver"),
    (dict(backend="gpu"), None, "backend"),
    (dict(momentum=1.0), None, "momentum"),
    ({}, np.array([[np.nan, 1.0, 2.0, 3.0]]), "NaN"),
])
def test_bad_input_is_a_clear_value_error(change, X, match):
    Xi, y = load_iris(return_X_y=True)
    if X is not None:
        Xi = np.vstack([Xi, X])
        y = np.append(y, 0)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(max_iter=2, **change).fit(Xi, y)


def test_bad_input_after_fit():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((5,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, X[:, 0] - 6)
    with pytest.raises(ValueError, match="sample_weight|negative"):
        MLPRegressor(max_iter=2).fit(X, X[:, 0], sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="layer sizes"):
        MLPClassifier((5,), max_iter=2).fit(X, y).set_params(
            hidden_layer_sizes=(6,), warm_start=True).fit(X, y)


# -- more than scikit-learn ---------------------------------------------------------------

def test_newton_cg_and_other_minimize_methods():
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    losses = {}
    for solver in ("lbfgs", "newton-cg", "newton", "gd"):
        clf = MLPClassifier((6,), solver=solver, max_iter=40, random_state=0).fit(X, y)
        assert clf.n_iter_ <= 40 and len(clf.loss_curve_) == clf.n_iter_
        assert clf.loss_ == min(clf.loss_curve_[-1], clf.loss_) == clf.best_loss_
        losses[solver] = clf.loss_
    assert losses["newton-cg"] < losses["gd"] and losses["newton"] < losses["gd"]


def test_backends_agree():
    X, y = load_iris(return_X_y=True)
    fits = [MLPClassifier((6,), solver="lbfgs", max_iter=10, random_state=0,
                          backend=b).fit(X, y) for b in ("numba", "numpy")]
    np.testing.assert_allclose(fits[0].coefs_[0], fits[1].coefs_[0], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_callback_sees_every_epoch_and_can_stop(solver):
    X, y = load_iris(return_X_y=True)
    seen = []

    def callback(est):
        seen.append((est.n_iter_, est.loss_, est.predict_proba(X[:1]).copy()))
        if est.n_iter_ == 4:
            raise StopIteration

    clf = MLPClassifier((6,), solver=solver, random_state=0, callback=callback).fit(X, y)
    assert [n for n, *_ in seen] == [1, 2, 3, 4] and clf.n_iter_ == 4
    assert not np.allclose(seen[0][2], seen[-1][2])        # the weights moved between calls


def test_validation_loss_curve_with_early_stopping(recwarn):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((10,), early_stopping=True, max_iter=30, n_iter_no_change=100,
                        random_state=0).fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    assert clf.validation_loss_curve_[-1] < clf.validation_loss_curve_[0]
    assert MLPClassifier(max_iter=2).fit(X, y).validation_loss_curve_ is None


def test_convergence_warning_when_the_budget_runs_out():
    X, y = load_iris(return_X_y=True)
    for solver in ("adam", "lbfgs"):
        with pytest.warns(ConvergenceWarning):
            MLPClassifier((5,), solver=solver, max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPClassifier((5,), solver="lbfgs", max_iter=3, callback=_stop).fit(X, y)


def _stop(est):
    raise StopIteration
