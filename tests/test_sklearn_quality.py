"""pykernels.sklearn beside scikit-learn on its own data sets, every solver, identical
parameters (and so the same initial weights); in Pipeline and GridSearchCV."""

import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import (load_breast_cancer, load_digits, load_iris,  # noqa: E402
                              make_friedman1)
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from pykernels.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DATA = {"iris": load_iris, "digits": load_digits, "breast_cancer": load_breast_cancer,
        "friedman1": lambda return_X_y: make_friedman1(600, noise=0.5, random_state=0)}
#: solver -> its parameters on both sides (sgd: scikit-learn's example rate)
SOLVERS = {"lbfgs": dict(max_iter=200), "adam": dict(max_iter=150),
           "sgd": dict(max_iter=150, learning_rate_init=0.01)}


def _split(name):
    X, y = DATA[name](return_X_y=True)
    if name == "friedman1":
        y = (y - y.mean()) / y.std()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("name", list(DATA))
def test_held_out_score_beside_scikit_learn(name, solver):
    X_train, X_test, y_train, y_test = _split(name)
    regression = name == "friedman1"
    ours_cls, theirs_cls = ((MLPRegressor, SkRegressor) if regression
                            else (MLPClassifier, SkClassifier))
    kw = dict(hidden_layer_sizes=(30,), solver=solver, random_state=0, alpha=1e-3,
              **SOLVERS[solver])
    ours = ours_cls(**kw).fit(X_train, y_train)
    theirs = theirs_cls(**kw).fit(X_train, y_train)
    margin = 0.05 if regression else 0.03
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - margin
    # the training objective too (scikit-learn's reported loss, on its own footing)
    assert ours.loss_ <= 1.5 * theirs.loss_ + 1e-3


@pytest.mark.parametrize("name", list(DATA))
def test_newton_cg_held_out_score(name):
    X_train, X_test, y_train, y_test = _split(name)
    regression = name == "friedman1"
    cls, reference = (MLPRegressor, SkRegressor) if regression else (MLPClassifier,
                                                                     SkClassifier)
    kw = dict(hidden_layer_sizes=(30,), random_state=0, alpha=1e-3)
    ours = cls(solver="newton-cg", max_iter=30, **kw).fit(X_train, y_train)
    theirs = reference(solver="lbfgs", max_iter=200, **kw).fit(X_train, y_train)
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.05


def test_pipeline_in_grid_search_on_two_workers():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(5,), (20,)],
                               "mlpclassifier__alpha": [1e-4, 1.0]}, cv=3, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.9
    assert len(grid.cv_results_["params"]) == 4
    best = grid.best_estimator_[-1]
    assert isinstance(best, MLPClassifier) and best.coefs_[0].shape[0] == 4
    assert grid.score(X, y) > 0.95
