"""scikit-learn's own ``MLPClassifier`` as a peer of :mod:`pykernels.sklearn`: fit times.

Each group (``sklearn-fit|<data>|<solver>-<iterations>``) fits one data set with one
solver and identical parameters on every side: ``(100,)`` relu, scikit-learn's
defaults otherwise, ``random_state=0`` (the same initial weights), ``tol=0`` and
``n_iter_no_change=max_iter``, so both run ``max_iter`` epochs (``sgd``, ``adam``;
batches of 200) or iterations (``lbfgs``: unless scipy's relative-reduction test ends
one of them earlier -- :func:`fit` returns the estimator, whose ``n_iter_`` and
``loss_`` the benchmarks record).  Implementations: ``sklearn``,
``pykernels-<backend>``, and beside ``lbfgs`` ``pykernels-newton-cg-<k>``: k Newton
iterations on exact Hessian-vector products (each costs many L-BFGS iterations, so k
is smaller).  scikit-learn is optional: without it the factories raise ``ImportError``.
"""

import functools
import warnings


#: group -> (data set, solver, max_iter, newton-cg iterations, part of the quick run)
FITS = {
    "sklearn-fit|iris|lbfgs-10": ("iris", "lbfgs", 10, 10, True),
    "sklearn-fit|digits|adam-30": ("digits", "adam", 30, None, True),
    "sklearn-fit|digits|sgd-30": ("digits", "sgd", 30, None, True),
    "sklearn-fit|digits|lbfgs-50": ("digits", "lbfgs", 50, 20, True),
    "sklearn-fit|20000x40|adam-30": ("20000x40", "adam", 30, None, False),
    "sklearn-fit|20000x40|sgd-30": ("20000x40", "sgd", 30, None, False),
    "sklearn-fit|20000x40|lbfgs-100": ("20000x40", "lbfgs", 100, 10, False),
}


@functools.lru_cache(maxsize=None)
def data(name):
    """(X, y) of a data set: iris, digits (pixels / 16) or a 20000 x 40, 5-class
    ``make_classification`` set."""
    from sklearn.datasets import load_digits, load_iris, make_classification

    if name == "iris":
        return load_iris(return_X_y=True)
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y
    return make_classification(20000, 40, n_informative=20, n_classes=5, random_state=0)


def estimator(impl, solver, max_iter):
    """An unfitted classifier of implementation ``impl`` with the groups' parameters."""
    params = dict(hidden_layer_sizes=(100,), solver=solver, max_iter=max_iter, tol=0.0,
                  n_iter_no_change=max_iter, random_state=0)
    if impl == "sklearn":
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(**params)
    from .sklearn import MLPClassifier
    if impl.startswith("pykernels-newton-cg-"):
        return MLPClassifier(**{**params, "solver": "newton-cg",
                                "max_iter": int(impl.rsplit("-", 1)[1])})
    return MLPClassifier(backend=impl.removeprefix("pykernels-"), **params)


def fit(group, impl):
    """The timed callable of (group, impl): one fit, returning the fitted estimator."""
    name, solver, max_iter, _, _ = FITS[group]
    X, y = data(name)
    est = estimator(impl, solver, max_iter)

    def run():
        from sklearn.exceptions import ConvergenceWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)   # tol=0: never converged
            return est.fit(X, y)

    return run
