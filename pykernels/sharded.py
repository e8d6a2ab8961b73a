"""A network's objective over rows held in shards on a Dask cluster.

``net.objective(X, Y, executor=client, shards=k)`` returns a :class:`ShardedObjective`:
the driver keeps the algorithm (any ``pk.minimize`` method, ``pk.hessian_eigs``) and the
workers only sum.  Each shard -- a contiguous block of rows with its targets and sample
weights -- is placed on a worker once and stays there.  An evaluation sends theta (and
v) once, scattered to every worker when large; each worker returns the *sums* over its
rows of the loss and of its gradient, Hessian-vector or Gauss-Newton-vector product (the
kernels with scale 1 and no penalty); the driver adds them in shard order, scales once by
the total weight and adds the L2 penalty.  The result is bit-for-bit the same for any
number of workers and any order in which they finish (given the same shards), and equal
to the local objective up to the order of the additions (~1e-16 relative).

Faults: a shard lost with its worker is rebuilt -- re-sent from the driver's rows (NumPy
input) or recomputed by Dask from its graph (dask-array input) -- and the evaluation is
retried, so a run ends with the same result as an undisturbed one.  An exception on a
worker is raised naming the shard; a cluster with no workers left, or gone, is an error
after ``timeout`` seconds, never a hang.

Dask stays optional: ``net.objective`` imports this module, and this module imports
``distributed``, only when a cluster is given.
"""

import functools
import time

import numpy as np

from . import _backend
from ._checks import float_array, l2_penalty, positive_int, scaled_weights
from .optimize import Objective
from .reference.mlp import weight_penalty

__all__ = ["ShardedObjective"]

#: theta (or v) with more entries than this (1 MiB of float64) is scattered once per
#: evaluation to every worker instead of travelling inside each task: below it, the
#: extra round trip of a scatter costs more than the copies
_SCATTER_ENTRIES = 2 ** 17


class _Rows:
    """A shard's rows on a worker: X (rows, n_in), Y (rows, n_out), sample weights (rows,)
    or an empty array (all ones).  Unpickled arrays are made writeable (copied if Dask
    handed out read-only buffers), so the kernels see the layout they were compiled for."""

    __slots__ = ("X", "Y", "sw")

    def __init__(self, X, Y, sw):
        self.X, self.Y, self.sw = X, Y, sw

    def __reduce__(self):
        return _Rows._rebuild, (self.X, self.Y, self.sw)

    @staticmethod
    def _rebuild(X, Y, sw):
        return _Rows(*(np.require(a, requirements=["C", "W"]) for a in (X, Y, sw)))

    def totals(self):
        """(rows, total sample weight)."""
        weight = np.sum(self.sw, dtype=np.float64) if self.sw.size else len(self.X)
        return len(self.X), float(weight)


@functools.lru_cache(maxsize=64)
def _network(spec, shard):
    """The worker's network for ``spec`` and ``shard`` (one per shard, so that the
    R-operator's kept pass survives between products at one theta)."""
    cls, sizes, activation, output, loss, dtype, _ = spec
    return cls(list(sizes), activation, output, loss, dtype=np.dtype(dtype), seed=0)


def _spec_of(net, backend):
    """What a worker needs to rebuild ``net`` (its class travels by reference)."""
    return (type(net), tuple(int(n) for n in net.sizes), net.activation, net.output,
            net.loss_name, net.dtype.name, backend)


def _make_rows(spec, X, Y, sw):
    """Worker side, dask-array input: check one chunk's rows as the local objective does
    (a chunk whose weights are all zero is rows that count for nothing, as in NumPy
    input; the driver checks that the total weight is positive)."""
    net = _network(spec, None)
    X = net._check_X(X)
    Y = net._check_Y(Y, X.shape[0])
    if sw is not None and sw.shape == (X.shape[0],) and sw.dtype.kind in "biuf" \
            and not np.any(sw):
        sw = np.zeros(X.shape[0], net.dtype)
    else:
        sw = net._check_weights(sw, 0.0, X.shape[0], rescale=False)[0]
    return _Rows(X, Y, sw)


def _largest(sw):
    """Dask weights scaled as the network scales NumPy weights (by the power of two
    that brings the largest into [0.5, 1)), when the largest is positive and finite;
    else the workers' checks say why."""
    if not sw.size or sw.dtype.kind not in "iuf":
        return sw
    top = float(sw.max().compute())
    return scaled_weights(sw, top) if 0.0 < top < np.inf else sw


def _sums(spec, shard, rows, kind, theta, v):
    """Worker side: the sums over ``rows`` of the loss and of its gradient or product."""
    return _network(spec, shard)._sums(kind, rows.X, rows.Y, rows.sw, theta, v,
                                       backend=spec[-1])


def _totals(rows):
    return rows.totals()


class ShardedObjective(Objective):
    """The loss of ``net`` on rows spread over a Dask cluster, as a ``pk.Objective``.

    Built by ``net.objective(X, Y, executor=client, shards=k)``; see the module
    docstring for how an evaluation runs and what happens when a worker fails.

    Parameters
    ----------
    net : pk.MLP
        The network (its sizes, activations, loss and dtype; not its theta).
    X, Y : array_like or dask.array.Array
        Rows and targets, as for ``net.loss``.  Dask arrays stay on the cluster: their
        row chunks (``shards`` equal ones when given) become the shards.
    client : distributed.Client
    shards : int, optional
        Number of shards for NumPy input (default: twice the cluster's threads).
    sample_weight : array_like or dask.array.Array, optional
    l2 : float
        L2 penalty on the weights, added on the driver.
    backend : str, optional
        The workers' kernels (default: this process's default backend, resolved here
        so that every worker computes the same bits).
    timeout : float
        Seconds an evaluation may wait while the cluster has no workers.
    retries : int
        Evaluations retried after losing shards with their workers.

    Attributes
    ----------
    n_shards : int
    rows : int
        Total number of rows.
    """

    def __init__(self, net, X, Y, client, *, shards=None, sample_weight=None, l2=0.0,
                 backend=None, timeout=60.0, retries=3):
        import distributed

        if not isinstance(client, distributed.Client):
            raise TypeError(f"executor must be a dask.distributed.Client to shard a network's "
                            f"objective, got {type(client).__name__}")
        self._client, self.timeout, self.retries = client, float(timeout), int(retries)
        self._net = net
        self._spec = _spec_of(net, _backend.get_backend() if backend is None else backend)
        _backend.resolve(self._spec[-1])  # an unknown or unavailable backend fails here
        self._l2 = l2_penalty(l2)
        if _is_dask(X) or _is_dask(Y) or _is_dask(sample_weight):
            self._rows, self._shards = None, self._persist(X, Y, sample_weight, shards)
        else:
            self._rows, self._shards = self._scatter(X, Y, sample_weight, shards)
        totals = self._gather([client.submit(_totals, s, pure=False) for s in self._shards])
        self.n_shards = len(self._shards)
        self.rows = sum(n for n, _ in totals)
        weight = sum(w for _, w in totals)  # in shard order: the same bits every time
        if not weight > 0:
            raise ValueError("sample_weight must have a positive sum, got all zeros")
        self._scale = 1.0 / (weight * net._row_terms)
        super().__init__(self._fun, self._grad, self._hvp, fun_and_grad=self._fun_and_grad,
                         gnvp=self._gnvp)

    # -- placing the shards -------------------------------------------------------

    def _scatter(self, X, Y, sample_weight, shards):
        """NumPy input: checked here, cut into row blocks, each sent to a worker once."""
        net = self._net
        X = net._check_X(X)
        Y = net._check_Y(Y, X.shape[0])
        sw = net._check_weights(sample_weight, 0.0, X.shape[0])[0]
        if shards is None:
            shards = 2 * max(1, sum(self._client.nthreads().values()))
        bounds = np.cumsum((0,) + _row_blocks(len(X), shards))
        rows = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._source = X, Y, sw
        return rows, self._client.scatter([self._recipe(a, b) for a, b in rows], hash=False)

    def _recipe(self, start, stop):
        X, Y, sw = self._source
        return _Rows(X[start:stop], Y[start:stop], sw[start:stop] if sw.size else sw)

    def _persist(self, X, Y, sample_weight, shards):
        """Dask input: chunks of rows become shards on the workers, checked there."""
        import dask
        import dask.array as da

        X = X if _is_dask(X) else da.from_array(np.asarray(X))
        for name, a, dims in (("X", X, (2,)), ("Y", Y, (1, 2)), ("sample_weight", sample_weight,
                                                               (1,))):
            if a is not None and np.ndim(a) not in dims:
                raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in dims)}, got "
                                 f"shape {np.shape(a)}")
        chunks = X.chunks[0] if shards is None else _row_blocks(X.shape[0], shards)
        X = X.rechunk((chunks, -1))
        Y = (Y if _is_dask(Y) else da.from_array(np.asarray(Y))).rechunk(
            (chunks,) + ((-1,) if np.ndim(Y) == 2 else ()))
        parts = [X.to_delayed().ravel(), Y.to_delayed().ravel()]
        if sample_weight is not None:
            sample_weight = _largest((sample_weight if _is_dask(sample_weight)
                                      else da.from_array(np.asarray(sample_weight))
                                      ).rechunk((chunks,)))
            parts.append(sample_weight.to_delayed().ravel())
        else:
            parts.append([None] * len(parts[0]))
        make = dask.delayed(_make_rows, pure=True)
        return self._client.compute([make(self._spec, *p) for p in zip(*parts)])

    # -- one evaluation -----------------------------------------------------------

    def _share(self, a):
        """``a`` as a task argument: itself when small, else scattered to every worker."""
        if a is None or a.size <= _SCATTER_ENTRIES:
            return a
        return self._client.scatter(a, broadcast=True, hash=False)

    def _evaluate(self, kind, theta, v=None):
        """(sum of the loss, sum of the gradient or product or None) over every shard."""
        theta = self._net._check_theta(theta)
        if v is not None:
            v = float_array(v, "v", dtype=self._net.dtype, ndim=1)
            if v.size != self._net.size:
                raise ValueError(f"v must have {self._net.size} entries (net.size), "
                                 f"got {v.size}")
        from distributed.client import ClosedClientError

        for attempt in range(self.retries + 1):
            try:
                theta_arg, v_arg = self._share(theta), self._share(v)
                futures = [self._client.submit(_sums, self._spec, k, shard, kind, theta_arg,
                                               v_arg, pure=False)
                           for k, shard in enumerate(self._shards)]
                parts = self._gather(futures)
                break
            except _LostShards as lost:
                if attempt == self.retries:
                    raise RuntimeError(f"shards {lost.shards} were lost {self.retries + 1} "
                                       f"times with their workers; giving up") from None
                self._rebuild(lost.shards)
            except (OSError, ClosedClientError) as exc:
                raise RuntimeError(f"the Dask cluster is unreachable: {type(exc).__name__}: "
                                   f"{exc}") from exc
        value = None if parts[0][0] is None else 0.0
        vector = None if parts[0][1] is None else np.zeros_like(theta)
        for part_value, part_vector in parts:  # shard order: the same bits every time
            if value is not None:
                value += part_value
            if vector is not None:
                vector += part_vector
        return value, vector

    def _gather(self, futures):
        """Results of ``futures`` in order; lost shards raise :class:`_LostShards`, an
        error on a worker a clear error naming its shard."""
        from distributed import wait
        from distributed.client import FutureCancelledError, FuturesCancelledError

        idle_since = None
        while True:
            try:
                wait(futures, timeout=1.0)
                break
            except TimeoutError:
                pass
            except (FutureCancelledError, FuturesCancelledError):
                break  # lost dependencies: the shards are rebuilt below
            if any(f.status == "cancelled" for f in futures):
                break
            if self._client.nthreads():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.timeout:
                raise RuntimeError(f"the Dask cluster has had no workers for "
                                   f"{self.timeout:g} s (timeout=)")
        lost = [k for k, f in enumerate(futures) if f.status == "cancelled"]
        if lost:
            raise _LostShards(lost)
        for k, future in enumerate(futures):
            if future.status == "error":
                exc = future.exception()
                where = self._where(k)
                if isinstance(exc, (ValueError, TypeError)):
                    raise type(exc)(f"{where}: {exc}") from exc
                raise RuntimeError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
        return self._client.gather(futures)

    def _where(self, k):
        if self._rows is None:
            return f"shard {k}"
        start, stop = self._rows[k]
        return f"shard {k} (rows {start}:{stop})"

    def _rebuild(self, shards):
        """Place the lost ``shards`` again (NumPy input: re-sent from the driver's rows;
        dask input: Dask recomputes them from their graph when next needed)."""
        if self._rows is None:
            return
        for k in shards:
            if self._shards[k].status != "finished":
                try:
                    self._shards[k] = self._client.scatter(self._recipe(*self._rows[k]),
                                                           hash=False, timeout=self.timeout)
                except (TimeoutError, OSError) as exc:
                    raise RuntimeError(f"{self._where(k)} was lost with its worker and could "
                                       f"not be placed again within {self.timeout:g} s "
                                       f"(timeout=): no workers? ({type(exc).__name__}: "
                                       f"{exc})") from exc

    # -- the objective ----------------------------------------------------------------

    def _finish(self, kind, theta, v=None):
        """The objective's value and derivative: shard sums scaled once, plus the penalty."""
        value, vector = self._evaluate(kind, theta, v)
        at = self._net._check_theta(theta) if v is None else v
        penalty, penalty_grad = weight_penalty(at, self._net.sizes, self._l2)
        if vector is not None:
            vector *= self._net.dtype.type(self._scale)
            vector += penalty_grad.astype(vector.dtype)
        return (None if value is None else value * self._scale + penalty), vector

    def _fun(self, theta):
        return self._finish("loss", theta)[0]

    def _fun_and_grad(self, theta):
        return self._finish("loss_and_grad", theta)

    def _grad(self, theta):
        return self._finish("loss_and_grad", theta)[1]

    def _hvp(self, theta, v):
        return self._finish("hvp", theta, v)[1]

    def _gnvp(self, theta, v):
        return self._finish("gnvp", theta, v)[1]

    def close(self):
        """Release the shards held on the workers."""
        for future in self._shards:
            future.release()
        self._shards = []

    def __repr__(self):
        return (f"ShardedObjective({self._net!r}, rows={self.rows}, shards={self.n_shards}, "
                f"backend={self._spec[-1]!r})")


def _row_blocks(rows, shards):
    """Sizes of ``shards`` contiguous blocks of ``rows`` rows, as equal as can be."""
    shards = min(positive_int(shards, "shards"), rows)
    return tuple(int(n) for n in np.diff(np.linspace(0, rows, shards + 1).round()))


class _LostShards(Exception):
    def __init__(self, shards):
        super().__init__(shards)
        self.shards = shards


def _is_dask(a):
    return type(a).__module__.startswith("dask.array")

