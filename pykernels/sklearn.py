"""scikit-learn estimators on pykernels' kernels: ``MLPClassifier`` and ``MLPRegressor``.

``from pykernels.sklearn import MLPClassifier, MLPRegressor`` gives scikit-learn's
multilayer perceptrons -- its parameters and defaults, objective, stopping rules and
fitted attributes -- trained by :class:`pykernels.MLP`, :func:`pykernels.train` (``sgd``,
``adam``) and :func:`pykernels.minimize` (``lbfgs`` and every other method).  This
module only translates: parameters in, ``coefs_``/``intercepts_`` out (views of the
network's flat ``theta``, laid out ``(fan_in, fan_out)`` as scikit-learn's).  It
imports scikit-learn; ``import pykernels`` does not import this module.

Notes
-----
**The objective.**  scikit-learn minimises, over samples with weights :math:`s_i`,

.. math:: c \\, \\frac{\\sum_i s_i \\bar l_i}{\\sum_i s_i}
          + \\frac{\\alpha}{2 \\sum_i s_i} \\sum_l \\|W_l\\|_F^2,

with :math:`\\bar l_i` pykernels' per-row loss (its mean over the outputs) and
:math:`c` = 1/2 for squared error (scikit-learn halves it), the number of outputs for
the logistic (binary and multilabel) and Poisson losses (which scikit-learn sums over
the outputs), 1 for softmax.  This is ``c`` times ``net.loss(X, Y, sample_weight=s,
l2=alpha / (c sum(s)))``; the full-batch solvers minimise exactly this function
(the objective times the constant c), so ``loss_`` is the value minimised and its
gradient the one tested against ``tol``.  scikit-learn's own ``lbfgs`` with k
logistic outputs uses a gradient k times too large for the loss it reports
(scikit-learn issue #8349); here the two agree.

**Mini-batches** (``sgd``, ``adam``).  scikit-learn penalises each batch with
:math:`\\alpha / (2 \\sum_{batch} s_i)`; :func:`pykernels.train` takes one penalty for
all batches: ``l2 = alpha / (c * batch_size * mean(s))``, scikit-learn's for every
full batch without sample weights.  The last, smaller batch of an epoch gets the
full batch's penalty (scikit-learn's grows as the batch shrinks), and with sample
weights every batch gets the penalty of a full batch of average weight.  The
constant c is folded into the updates: ``sgd`` steps with ``c * learning_rate``,
``adam`` (invariant to the gradient's scale) uses ``epsilon / c``, so the steps are
scikit-learn's.  Two small differences remain: :class:`pykernels.optim.Adam` adds
epsilon to the bias-corrected second moment (scikit-learn to the raw one: a factor
:math:`\\sqrt{1 - \\beta_2^t}` on epsilon alone), and the momentum methods keep the
velocity in gradient units, so a learning-rate change (``invscaling``,
``adaptive``) also rescales the velocity already built up.

**Initialisation** is scikit-learn's, draw for draw (Glorot-uniform weights and
biases from ``random_state``): both libraries start from the same point.
"""

import numbers
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context,
                          is_classifier)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import optim
from .network import MLP
from .optimize import FIRST_ORDER, METHODS, Objective, minimize
from .train import train

__all__ = ["MLPClassifier", "MLPRegressor"]

_STOCHASTIC = ("sgd", "adam")
#: scikit-learn's hidden activation -> pk.MLP's
_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: scikit-learn's out_activation_ -> pk.MLP's (output, loss)
_OUTPUT = {"identity": ("identity", "mse"), "exp": ("exp", "poisson"),
           "logistic": ("sigmoid", "cross_entropy"), "softmax": ("softmax", "cross_entropy")}
#: scipy's L-BFGS-B default relative-reduction test (factr = 1e7), scikit-learn's
#: stopping rule besides tol; the full-batch solvers all use it
_FTOL = 1e7 * np.finfo(float).eps
#: pk.minimize statuses after which scikit-learn would warn: maxiter, maxfev (max_fun),
#: NaN/Inf, line search failed
_NOT_CONVERGED = (1, 2, 6, 7)


def _store(estimator, params):
    """``__init__``'s arguments as attributes (scikit-learn's convention, no checks)."""
    for name, value in params.items():
        if name != "self":
            setattr(estimator, name, value)


def _dense(X):
    """``X`` as an ndarray: the kernels take dense rows (a sparse X is densified)."""
    return X.toarray() if sp.issparse(X) else X


def _scaled(objective, c):
    """``objective`` times the constant ``c`` (scikit-learn's loss is c times pk's)."""
    if c == 1.0:
        return objective

    def fun_and_grad(theta):
        value, grad = objective.fun_and_grad(theta)
        grad *= c
        return c * value, grad

    return Objective(lambda theta: c * objective.fun(theta), fun_and_grad=fun_and_grad,
                     hvp=lambda theta, v: c * objective.hvp(theta, v),
                     gnvp=lambda theta, v: c * objective.gnvp(theta, v))


def _stochastic_only(estimator):
    """available_if test of ``partial_fit``: there for ``sgd`` and ``adam`` only."""
    if estimator.solver not in _STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for the stochastic solvers "
                             f"{_STOCHASTIC}; {estimator.solver!r} trains on the full batch")
    return True


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: fitting, the network, prediction."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_HIDDEN))],
        "solver": [StrOptions(set(_STOCHASTIC) | set(METHODS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # pk.optim's momentum methods need beta < 1 (scikit-learn also takes 1)
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "backend": [StrOptions({"numba", "c", "numpy"}), None],
        "callback": [callable, None],
    }

    # -- the network behind coefs_ and intercepts_ ----------------------------------

    def _loss_factor(self):
        """c: scikit-learn's loss is c times pk.MLP's mean loss (module Notes)."""
        return {"identity": 0.5, "softmax": 1.0}.get(self.out_activation_,
                                                     float(self.n_outputs_))

    def _build(self, layer_units, dtype):
        """A pk.MLP for ``layer_units``; coefs_ and intercepts_ become views of its theta."""
        output, loss = _OUTPUT[self.out_activation_]
        self._net = MLP(layer_units, activation=_HIDDEN[self.activation], output=output,
                        loss=loss, dtype=dtype, seed=0)
        self._view_network()
        return self._net

    def _view_network(self):
        """coefs_ and intercepts_ as views of the network's theta."""
        self.coefs_ = [W.T for W, _ in self._net.layers]
        self.intercepts_ = [b for _, b in self._net.layers]

    def _layer_units(self):
        """[n_features, hidden widths..., n_outputs] of the network in coefs_."""
        return [self.coefs_[0].shape[0]] + [coef.shape[1] for coef in self.coefs_]

    def _packed(self):
        """coefs_ and intercepts_ as one theta (they may have been replaced by the user)."""
        return np.concatenate([part.ravel() for coef, b in zip(self.coefs_, self.intercepts_)
                               for part in (np.transpose(coef), b)])

    def __getstate__(self):
        state = dict(super().__getstate__())  # (it may be self.__dict__ itself)
        state.pop("_net", None)  # holds thread-local workspaces; rebuilt on load
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "coefs_" in state:
            theta = self._packed()
            self._build(self._layer_units(), self.coefs_[0].dtype).theta = theta

    def _forward(self, X, check_input=True):
        """The network's output for the rows of X (validated unless ``check_input`` is False)."""
        if check_input:
            X = _dense(validate_data(self, X, accept_sparse=["csr", "csc"],
                                     dtype=(np.float64, np.float32), reset=False))
        return self._net.predict(X, theta=self._packed(), backend=self.backend)

    def _predict(self, X, check_input=True):
        return self._decode(self._forward(X, check_input))

    def _score(self, X, y, sample_weight=None):
        """The early-stopping score of validated X (NaN if the predictions are not finite)."""
        y_pred = self._predict(X, check_input=False)
        if y_pred.dtype.kind == "f" and not np.isfinite(y_pred).all():
            return np.nan
        return self._metric(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predictions for the rows of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (multilabel: an indicator matrix) or regression targets.
        """
        check_is_fitted(self)
        return self._predict(X)

    # -- fitting -------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (a sparse matrix is densified: the kernels take dense rows).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or real targets (regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; integer weights equal repeated rows.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental):
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if any(not isinstance(h, numbers.Integral) or h <= 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {hidden}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        layer_units = [X.shape[1], *hidden, Y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, X.dtype)
        else:
            units = self._layer_units()
            if units != layer_units:
                raise ValueError(f"warm_start and partial_fit continue the fitted network of "
                                 f"layer sizes {units}; these data and hidden_layer_sizes "
                                 f"need {layer_units}")
            self._net.theta = self._packed()  # coefs_ / intercepts_ may have been replaced
            self._view_network()
        if self.solver in _STOCHASTIC:
            self._fit_stochastic(X, Y, sample_weight, incremental)
        else:
            self._fit_full_batch(X, Y, sample_weight)
        if not np.isfinite(self._net.theta).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        return self

    def _initialize(self, layer_units, dtype):
        """Fitted attributes of a first fit, and scikit-learn's initial weights, draw for
        draw: per layer, Glorot-uniform weights (fan_in, fan_out) then biases."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        net = self._build(layer_units, dtype)
        factor = 2.0 if self.activation == "logistic" else 6.0
        for coef, intercept in zip(self.coefs_, self.intercepts_):
            fan_in, fan_out = coef.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef[...] = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept[...] = self._random_state.uniform(-bound, bound, fan_out)
        self.loss_curve_ = []
        self._best_theta = net.theta.copy()
        self._optimizer = None
        self._reset_monitor()

    def _reset_monitor(self):
        """The stopping rule's attributes, for the current ``early_stopping`` (which
        only the stochastic solvers use)."""
        self._no_improvement_count = 0
        if self.early_stopping and self.solver in _STOCHASTIC:
            self.validation_scores_, self.validation_loss_curve_ = [], []
            self.best_validation_score_, self.best_loss_ = -np.inf, None
        else:
            self.validation_scores_ = self.validation_loss_curve_ = None
            self.best_validation_score_, self.best_loss_ = None, np.inf

    def _fit_full_batch(self, X, Y, sample_weight):
        """lbfgs (scikit-learn's rules: gtol=tol, maxiter=max_iter, maxfev=max_fun and
        scipy's relative reduction), newton-cg or any other pk.minimize method."""
        net, c = self._net, self._loss_factor()
        total = len(X) if sample_weight is None else float(np.sum(sample_weight,
                                                                   dtype=np.float64))
        objective = _scaled(net.objective(X, Y, sample_weight=sample_weight,
                                          l2=self.alpha / (c * total), backend=self.backend),
                            c)
        options = {"maxfev": self.max_fun, "ftol": _FTOL}
        if self.solver in FIRST_ORDER:
            options["lr"] = self.learning_rate_init

        def each_iteration(result):
            self.n_iter_, self.loss_ = result.nit, result.fun
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            if self.callback is not None:
                net.theta = result.x                # coefs_ (views) show this iterate
                self.callback(self)

        res = minimize(objective, net.theta, method=self.solver, maxiter=self.max_iter,
                       tol=self.tol, seed=self._random_state.randint(np.iinfo(np.int32).max),
                       callback=each_iteration if self.verbose or self.callback else None,
                       options=options)
        net.theta = res.x
        self.n_iter_ = min(res.nit, self.max_iter)
        self.loss_ = self.best_loss_ = res.fun
        self.loss_curve_.extend(res.history.tolist())
        if res.status in _NOT_CONVERGED:
            warnings.warn(f"{self.solver} stopped after {res.nit} iteration(s) without "
                          f"converging: {res.message}. Increase max_iter (or max_fun), or "
                          "scale the data (e.g. with a StandardScaler).", ConvergenceWarning)

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        """sgd and adam through pk.train, with scikit-learn's epochs, schedules and
        stopping rules kept by a callback after each epoch."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if (self.validation_scores_ is None) == self.early_stopping:
            self._reset_monitor()          # a warm start switched early stopping on or off
        validation = None
        if self.early_stopping:
            X, Y, sample_weight, validation = self._hold_out(X, Y, sample_weight)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It "
                              "is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n))
        c = self._loss_factor()
        if not incremental or self._optimizer is None:
            self._optimizer = self._new_optimizer(c)
        solver = self._optimizer
        weight = 1.0 if sample_weight is None else float(np.mean(sample_weight,
                                                                  dtype=np.float64))
        step_scale = c if self.solver == "sgd" else 1.0   # adam: eps / c instead
        self.n_iter_ = 0
        stopped = []

        def end_of_epoch(epoch, history):
            if self._end_of_epoch(history["loss"][-1] * c, n, validation, solver):
                stopped.append(True)
                raise StopIteration

        try:
            train(self._net, X, Y, optimizer=solver["opt"], epochs=1 if incremental
                  else self.max_iter, batch_size=batch_size,
                  seed=self._random_state.randint(np.iinfo(np.int32).max),
                  callback=end_of_epoch, schedule=lambda epoch: step_scale * solver["lr"],
                  sample_weight=sample_weight, l2=self.alpha / (c * batch_size * weight),
                  shuffle=self.shuffle, state=solver["state"], backend=self.backend)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
            stopped.append(True)
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                          "reached and the optimization hasn't converged yet.",
                          ConvergenceWarning)
        if self.early_stopping:
            self._net.theta = self._best_theta

    def _hold_out(self, X, Y, sample_weight):
        """scikit-learn's early-stopping split: (X, Y, sample_weight) for training and
        (X_val, y_val, Y_val, sample_weight_val) held out."""
        stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X, X_val, Y, Y_val = parts[:4]
        sw, sw_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        return X, Y, sw, (X_val, self._decode(Y_val), Y_val, sw_val)

    def _new_optimizer(self, c):
        """The pk.optim rule of scikit-learn's solver, its state and learning rate."""
        rate = float(self.learning_rate_init)
        if self.solver == "adam":
            opt = optim.Adam(rate, beta1=self.beta_1, beta2=self.beta_2,
                             eps=self.epsilon / c, backend=self.backend)
        elif self.momentum == 0:
            opt = optim.SGD(rate, backend=self.backend)
        else:
            kind = optim.Nesterov if self.nesterovs_momentum else optim.Momentum
            opt = kind(rate, beta=self.momentum, backend=self.backend)
        return {"opt": opt, "state": opt.init(self._net.theta), "lr": rate}

    def _end_of_epoch(self, loss, n, validation, solver):
        """scikit-learn's bookkeeping after an epoch; True when training should stop."""
        self.n_iter_ += 1
        self.t_ += n
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
        self._count_no_improvement(validation)
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            solver["lr"] = self.learning_rate_init / (self.t_ + 1) ** self.power_t
        if self.callback is not None:
            try:
                self.callback(self)
            except StopIteration:
                return True
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score" if validation is not None else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        if self.solver == "sgd" and self.learning_rate == "adaptive" and solver["lr"] > 1e-6:
            solver["lr"] /= 5.0
            self._no_improvement_count = 0
            if self.verbose:
                print(msg + " Setting learning rate to %f" % solver["lr"])
            return False
        if self.verbose:
            print(msg + " Stopping.")
        return True

    def _count_no_improvement(self, validation):
        """Epochs without a tol improvement of the training loss or, with early stopping,
        of the validation score (whose best weights are kept)."""
        if validation is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return
        X_val, y_val, Y_val, sw_val = validation
        score = self._score(X_val, y_val, sw_val)
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(self._loss_factor() * self._net.loss(
            X_val, Y_val, sample_weight=sw_val, backend=self.backend))
        if self.verbose:
            print("Validation score: %f" % score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_theta = self._net.theta.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer; ``()`` is a linear model.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation of the hidden layers.
    solver : str, default='adam'
        ``'sgd'`` and ``'adam'``: mini-batch training (:func:`pykernels.train`);
        ``'lbfgs'`` (scikit-learn's quasi-Newton solver), ``'newton-cg'`` (truncated
        Newton on exact Hessian-vector products) or any other method of
        :func:`pykernels.minimize` by name: full-batch minimisation.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the biases), divided by the
        total sample weight (see the module Notes).
    batch_size : int, default='auto'
        Mini-batch size of the stochastic solvers; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of ``'sgd'``: constant; ``learning_rate_init / (t + 1) ** power_t``
        with t the number of samples seen; divided by 5 after ``n_iter_no_change``
        epochs without improvement (until it falls to 1e-6).
    learning_rate_init : float, default=0.001
        Initial learning rate of ``'sgd'`` and ``'adam'`` (and of the first-order
        full-batch methods of :func:`pykernels.minimize`).
    power_t : float, default=0.5
        Exponent of the ``'invscaling'`` schedule.
    max_iter : int, default=200
        Epochs (``'sgd'``, ``'adam'``) or iterations (other solvers).
    shuffle : bool, default=True
        Shuffle the samples at every epoch (stochastic solvers).
    random_state : int, RandomState instance or None, default=None
        Initial weights (drawn as scikit-learn draws them), the early-stopping split,
        the shuffling seed.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) counted as progress by the
        stochastic solvers; bound on the gradient's max-norm for the others.
    verbose : bool, default=False
        Print the loss after each epoch or iteration.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
    momentum : float in [0, 1), default=0.9
        Momentum of ``'sgd'`` (0: plain SGD).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``'sgd'``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the validation
        score has not improved by ``tol`` for ``n_iter_no_change`` epochs, restoring
        the best weights (stochastic solvers).
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Decay rates of Adam's moment estimates.
    epsilon : float, default=1e-8
        Adam's epsilon.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping (stochastic solvers).
    max_fun : int, default=15000
        Maximum number of loss evaluations of the full-batch solvers.
    backend : {'numba', 'c', 'numpy'} or None, default=None
        Kernel backend; None: pykernels' current default.
    callback : callable or None, default=None
        ``callback(estimator)`` after every epoch (stochastic solvers) or iteration
        (others), with ``n_iter_``, ``loss_`` and ``loss_curve_`` up to date and
        ``coefs_``/``intercepts_`` holding the current weights; raising
        ``StopIteration`` ends the fit (keeping the best weights with early stopping).
"""

_ATTRIBUTES = """\
    loss_ : float
        The loss when training ended: for the full-batch solvers the value of the
        minimised objective at the returned weights, for the stochastic ones the mean
        of the last epoch's mini-batch losses (penalty included).
    best_loss_ : float or None
        Lowest loss seen (None with early stopping).
    loss_curve_ : list of float
        Loss after each epoch (stochastic solvers) or iteration (others; scikit-learn's
        ``lbfgs`` has none).
    validation_scores_ : list of float or None
        Score on the held-out data after each epoch (early stopping only).
    validation_loss_curve_ : list of float or None
        Loss (c times the weighted mean loss, no penalty) on the held-out data after
        each epoch (early stopping only; not in scikit-learn).
    best_validation_score_ : float or None
        Best validation score (early stopping only).
    t_ : int
        Number of training samples seen by the stochastic solvers.
    coefs_ : list of ndarray of shape (fan_in, fan_out)
        Weight matrices, views of the network's flat parameter vector.
    intercepts_ : list of ndarray of shape (fan_out,)
        Bias vectors, views of the same vector.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (when X has string column names).
    n_iter_ : int
        Epochs or iterations run by the last fit.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Output activation: 'identity', 'exp', 'logistic' or 'softmax'.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier: scikit-learn's, trained by pykernels' kernels.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` (same parameters,
    defaults, objective -- log-loss plus an L2 penalty --, stopping rules and fitted
    attributes), with more solvers, a ``backend``, a ``callback`` and a validation
    loss curve.  Binary (one logistic output), multiclass (softmax) and multilabel
    (logistic outputs) targets; any label type; float32 input is trained and
    predicted in float32.

    Parameters
    ----------
{parameters}
    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels.
{attributes}
    See Also
    --------
    MLPRegressor : The regressor.
    pykernels.MLP : The network underneath.

    Notes
    -----
    See :mod:`pykernels.sklearn` for how scikit-learn's objective maps onto
    pykernels' and what differs.  ``partial_fit`` exists for ``'sgd'`` and ``'adam'``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pykernels.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((20,), solver="lbfgs", max_iter=300, random_state=0).fit(X, y)
    >>> clf.coefs_[0].shape, bool(clf.score(X, y) > 0.95)
    ((4, 20), True)
    """

    _metric = staticmethod(accuracy_score)     # the early-stopping score

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend=None, callback=None):
        _store(self, locals())

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        """Checked dense X and the binarized targets Y (n_samples, n_outputs) in X's dtype."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same "
                                     "classes as in the previous call to fit. Previously "
                                     f"got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return _dense(X), self._binarized(y, X.dtype)

    def _binarized(self, y, dtype):
        """The targets as the network's outputs, in ``dtype``: one-hot rows (multiclass),
        a 0/1 column (binary, 1 for ``classes_[1]``) or the indicator matrix
        (multilabel), as LabelBinarizer.transform gives them.  Labels of a fitted class
        are encoded directly -- without transform's second validation of y, a
        millisecond of every fit; anything else (an unseen label) goes through transform
        for its error."""
        binarizer = self._label_binarizer
        if binarizer.y_type_ in ("binary", "multiclass") and y.ndim == 1 \
                and y.dtype.kind in "biufUS" and self.classes_.dtype.kind == y.dtype.kind:
            index = np.searchsorted(self.classes_, y)
            if np.array_equal(self.classes_[np.minimum(index, len(self.classes_) - 1)], y):
                if binarizer.y_type_ == "binary":
                    return (index == 1).astype(dtype)[:, None]
                Y = np.zeros((len(y), len(self.classes_)), dtype)
                Y[np.arange(len(y)), index] = 1.0
                return Y
        return binarizer.transform(y).astype(dtype)

    def _decode(self, Y):
        """Labels of network outputs (or binarized targets) Y (n_samples, n_outputs)."""
        return self._label_binarizer.inverse_transform(Y.ravel() if Y.shape[1] == 1 else Y)

    def predict_proba(self, X):
        """Probability of each class (multilabel: of each label, independently).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        out = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    @available_if(_stochastic_only)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of ``'sgd'`` or ``'adam'`` on (X, y), continuing the optimizer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of the whole problem; required on the first call.

        Returns
        -------
        self : object
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel")
                                      else classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor: scikit-learn's, trained by pykernels' kernels.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor` (same parameters,
    defaults, objective, stopping rules and fitted attributes), with more solvers, a
    ``backend``, a ``callback`` and a validation loss curve.  One or several outputs;
    float32 input is trained and predicted in float32.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Half the squared error (identity output), or half the Poisson deviance
        (exponential output; targets >= 0).
{parameters}
    Attributes
    ----------
{attributes}
    See Also
    --------
    MLPClassifier : The classifier.
    pykernels.MLP : The network underneath.

    Notes
    -----
    See :mod:`pykernels.sklearn` for how scikit-learn's objective maps onto
    pykernels' and what differs.  ``partial_fit`` exists for ``'sgd'`` and ``'adam'``
    only (scikit-learn's runs a whole L-BFGS fit for ``'lbfgs'``).

    Examples
    --------
    >>> import numpy as np
    >>> from pykernels.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", solver="newton-cg",
    ...                    max_iter=100, random_state=0).fit(X, np.sin(3 * X).ravel())
    >>> bool(reg.score(X, np.sin(3 * X).ravel()) > 0.99)
    True
    """

    _parameter_constraints: dict = {**_BaseMLP._parameter_constraints,
                                    "loss": [StrOptions({"squared_error", "poisson"})]}
    _metric = staticmethod(r2_score)           # the early-stopping score

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend=None, callback=None):
        _store(self, locals())

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        """Checked dense X and the targets Y (n_samples, n_outputs) in X's dtype."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.min(y) < 0:
            raise ValueError(f"y must be >= 0 for loss='poisson', got a minimum of {np.min(y)}")
        return _dense(X), np.asarray(y, dtype=X.dtype).reshape(len(y), -1)

    def _decode(self, Y):
        """Targets of network outputs Y (n_samples, n_outputs): 1-D for one output."""
        return Y.ravel() if Y.shape[1] == 1 else Y

    @available_if(_stochastic_only)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of ``'sgd'`` or ``'adam'`` on (X, y), continuing the optimizer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=True)


for _cls in (MLPClassifier, MLPRegressor):
    _cls.__doc__ = _cls.__doc__.replace("{parameters}\n", _PARAMETERS).replace(
        "{attributes}\n", _ATTRIBUTES)
