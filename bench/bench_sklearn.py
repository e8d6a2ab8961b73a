"""pykernels.sklearn against scikit-learn's MLPClassifier: fit time, identical parameters.

Bars: adam and sgd >= 3x faster than scikit-learn, lbfgs >= 1.6x (digits and 20000x40),
iris with 10 L-BFGS iterations no slower; newton-cg reported beside lbfgs.  The cases
are :mod:`pykernels._sklearn_bench`'s (also ``pykernels bench --group sklearn``).
Run: ``python -m pytest bench/bench_sklearn.py --benchmark-only
--benchmark-group-by=group`` (CI smoke: ``--benchmark-disable``).  One thread, one core
(bench/conftest.py); the smoke run skips the large (20000 x 40) fits.  Each case records
its final ``loss`` and ``n_iter`` (and scikit-learn's) in ``extra_info``, and checks
that it ran as many epochs/iterations and -- for the mini-batch solvers, whose steps
are scikit-learn's on differently shuffled batches -- ended at the same loss (1 %).
"""

import pytest

pytest.importorskip("sklearn")

from pykernels._sklearn_bench import FITS, fit  # noqa: E402
from pykernels.benchmarks import sklearn_cases  # noqa: E402

CASES = sklearn_cases()


_SKLEARN = {}   # group -> scikit-learn's (loss_, n_iter_), kept by its own case (the first)


def _scikit_learn(group):
    if group not in _SKLEARN:
        est = fit(group, "sklearn")()
        _SKLEARN[group] = est.loss_, est.n_iter_
    return _SKLEARN[group]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fit(benchmark, case):
    if benchmark.disabled and not case.quick:
        pytest.skip("a large fit: timed with --benchmark-only, not in the smoke run")
    benchmark.group = case.group
    est = benchmark(case.make())
    if case.impl == "sklearn":
        _SKLEARN[case.group] = est.loss_, est.n_iter_
    loss, n_iter = _scikit_learn(case.group)
    benchmark.extra_info.update(loss=est.loss_, n_iter=est.n_iter_, sklearn_loss=loss,
                                sklearn_n_iter=n_iter)
    if "newton" not in case.impl:
        assert est.n_iter_ == n_iter         # as many epochs / iterations as scikit-learn
    if FITS[case.group][1] in ("adam", "sgd"):
        # the same steps but a different shuffling of the batches
        assert est.loss_ == pytest.approx(loss, rel=1e-2)
