"""Pictures of the lecture's ideas, drawn headless (matplotlib's Agg canvas, no pyplot).

Every function takes plain arrays/callables, writes one PNG to ``path`` (str or
os.PathLike) and returns that path as a str; ``title`` sets the figure's title.  The
arguments, the path and what the callables return are checked before anything is
drawn.
"""

import numpy as np

from ._checks import as_array, float_array, function, mapping, positive_int, real
from ._checks import returned_array
from .network import check_writable

__all__ = ["activations", "decision_boundary", "loss_curves", "flow_field",
           "stationary_points", "lipschitz_cone"]

KINDS = ("minimum", "maximum", "inflection")


def _interval(lo, hi, names=("lo", "hi")):
    """lo < hi, finite floats (with a finite width to draw)."""
    lo, hi = real(lo, names[0]), real(hi, names[1])
    if not (lo < hi and np.isfinite(hi - lo)):
        raise ValueError(f"{names[0]} < {names[1]} must hold with a finite width, got "
                         f"{names[0]}={lo}, {names[1]}={hi}")
    return lo, hi


def _finite_values(value, name, shape):
    """What ``name`` returned for the plotted points, as finite floats of ``shape``."""
    value = returned_array(value, name, shape)
    if not np.isfinite(value).all():
        raise ValueError(f"{name} returned NaN or Inf on the plotted points")
    return value


def _scalar_curve(f, x, name="f"):
    """f at each x (f of one float returning a real number), finite."""
    return _finite_values([f(t) for t in x], name, x.shape)


def _figure(ncols=1, size=(6.4, 4.8)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def _save(fig, path):
    fig.savefig(path, dpi=110)
    return str(path)


def activations(path):
    """tanh, relu and sigmoid with their derivatives, side by side.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG to write.

    Returns
    -------
    str
        ``path``, written.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong kind or shape (naming it) or a callable returning
        NaN/Inf on the plotted points, before anything is drawn.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see ``pykernels.network.check_writable``).
    """
    path = check_writable(path, "path")
    z = np.linspace(-4, 4, 401)
    sig = 1 / (1 + np.exp(-z))
    curves = {"tanh": (np.tanh(z), 1 - np.tanh(z) ** 2),
              "relu": (np.maximum(z, 0), (z > 0).astype(float)),
              "sigmoid": (sig, sig * (1 - sig))}
    fig, axes = _figure(3, (10, 3.4))
    for ax, (name, (g, dg)) in zip(axes, curves.items()):
        ax.plot(z, g, lw=2, label=f"{name}(z)")
        ax.plot(z, dg, lw=2, ls="--", label=f"{name}'(z)")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Squashing functions G and their derivatives G'")
    return _save(fig, path)


def decision_boundary(predict, X, y, path, title="Decision boundary"):
    """Class regions of a classifier over the plane, with the data on top.

    Parameters
    ----------
    predict : callable
        ``(k, 2)`` points -> ``(k, classes)`` scores (argmax is the class; one column:
        class 1 where the score exceeds 1/2), e.g. ``net.predict``.
    X : ndarray, shape (n, 2)
    y : ndarray of int, shape (n,)
    path : str or os.PathLike
    title : str

    Returns
    -------
    str
        ``path``, written.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong kind or shape (naming it) or a callable returning
        NaN/Inf on the plotted points, before anything is drawn.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see ``pykernels.network.check_writable``).
    """
    path = check_writable(path, "path")
    function(predict, "predict")
    X = float_array(X, "X", dtype=np.float64, ndim=2, allow_int=True)
    y = as_array(y, "y")
    if X.shape[1] != 2 or not X.shape[0]:
        raise ValueError(f"X must have shape (n >= 1, 2) (points of the plane), got {X.shape}")
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iub":
        raise ValueError(f"y must hold {X.shape[0]} integer class labels, got shape {y.shape} "
                         f"and dtype {y.dtype}")
    fig, ax = _figure()
    pad = 0.3
    (x0, y0), (x1, y1) = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    scores = as_array(predict(np.column_stack([gx.ravel(), gy.ravel()])), "predict's value")
    if scores.ndim != 2 or not scores.shape[1]:
        raise ValueError("predict must return (k, classes) scores for k points, got shape "
                         f"{scores.shape}")
    scores = _finite_values(scores, "predict", (gx.size, scores.shape[1]))
    label = scores.argmax(axis=1) if scores.shape[1] > 1 else (scores[:, 0] > 0.5)
    ax.contourf(gx, gy, label.reshape(gx.shape), levels=np.arange(-0.5, y.max() + 1),
                cmap="coolwarm", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10, edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    ax.set_aspect("equal")
    return _save(fig, path)


def loss_curves(curves, path, title="Loss against objective evaluations"):
    """Loss against objective evaluations, one log-log line per method.

    Parameters
    ----------
    curves : dict
        ``curves[name] = (evaluations, loss)``, two equal-length sequences.
    path : str or os.PathLike
    title : str

    Returns
    -------
    str
        ``path``, written.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong kind or shape (naming it) or a callable returning
        NaN/Inf on the plotted points, before anything is drawn.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see ``pykernels.network.check_writable``).
    """
    path = check_writable(path, "path")
    lines = {}
    for name, curve in mapping(curves, "curves").items():
        try:
            evals, loss = curve
        except (TypeError, ValueError):
            raise ValueError(f"curves[{name!r}] must be a pair (evaluations, loss)") from None
        evals = float_array(evals, f"curves[{name!r}] evaluations", ndim=1, allow_int=True)
        loss = float_array(loss, f"curves[{name!r}] loss", ndim=1, allow_int=True)
        if evals.shape != loss.shape:
            raise ValueError(f"curves[{name!r}]: evaluations and loss must have equal lengths, "
                             f"got {evals.size} and {loss.size}")
        lines[name] = evals, loss
    fig, ax = _figure()
    for name, (evals, loss) in lines.items():
        ax.plot(np.maximum(evals, 1), loss, lw=2, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("objective evaluations")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def flow_field(f, grad, lo, hi, paths, path, title="Flow of -grad f", levels=30):
    """Contours of f, streamlines of -grad f, and optimizer paths on top.

    Parameters
    ----------
    f, grad : callable
        Map a (k, 2) array of points to (k,) values / (k, 2) gradients.
    lo, hi : pair of float
        Corners of the plotted box.
    paths : dict
        ``paths[name]`` is an (m, 2) array of iterates, drawn with a star at the end.
    path : str or os.PathLike
    title : str
    levels : int
        Contour levels (of log10(f - min f)).

    Returns
    -------
    str
        ``path``, written.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong kind or shape (naming it) or a callable returning
        NaN/Inf on the plotted points, before anything is drawn.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see ``pykernels.network.check_writable``).
    """
    path = check_writable(path, "path")
    function(f, "f")
    function(grad, "grad")
    lo = float_array(lo, "lo", dtype=np.float64, ndim=1, allow_int=True)
    hi = float_array(hi, "hi", dtype=np.float64, ndim=1, allow_int=True)
    if lo.shape != (2,) or hi.shape != (2,):
        raise ValueError(f"lo and hi must be corners (x, y), got shapes {lo.shape}, {hi.shape}")
    for k in range(2):
        _interval(lo[k], hi[k], (f"lo[{k}]", f"hi[{k}]"))
    tracks = {name: float_array(iterates, f"paths[{name!r}]", dtype=np.float64, ndim=2,
                                allow_int=True)
              for name, iterates in mapping(paths, "paths").items()}
    for name, iterates in tracks.items():
        if iterates.shape[1] != 2 or not iterates.shape[0]:
            raise ValueError(f"paths[{name!r}] must be an (m >= 1, 2) array of iterates, got "
                             f"shape {iterates.shape}")
    levels = positive_int(levels, "levels")
    fig, ax = _figure(size=(6.4, 5.2))
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    values = _finite_values(f(pts), "f", (pts.shape[0],)).reshape(gx.shape)
    shifted = values - values.min() + 1e-3
    ax.contour(gx, gy, np.log10(shifted), levels=levels, cmap="viridis", linewidths=0.8)
    sx, sy = np.meshgrid(np.linspace(lo[0], hi[0], 40), np.linspace(lo[1], hi[1], 40))
    g = _finite_values(grad(np.column_stack([sx.ravel(), sy.ravel()])), "grad", (sx.size, 2))
    ax.streamplot(sx, sy, -g[:, 0].reshape(sx.shape), -g[:, 1].reshape(sx.shape),
                  color="0.6", density=1.1, linewidth=0.6, arrowsize=0.7)
    for name, iterates in tracks.items():
        ax.plot(iterates[:, 0], iterates[:, 1], lw=1.6, marker="o", ms=2.5, label=name)
        ax.plot(*iterates[-1], marker="*", ms=12, color=ax.lines[-1].get_color(),
                markeredgecolor="k")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def stationary_points(f, points, lo, hi, path, title="Stationary points"):
    """f on [lo, hi] with its stationary points marked and labelled.

    Parameters
    ----------
    f : callable
        A function of one float.
    points : sequence of (x, kind)
        kind in {"minimum", "maximum", "inflection"}, e.g. :func:`pk.stationary_points`.
    lo, hi : float
    path : str or os.PathLike
    title : str

    Returns
    -------
    str
        ``path``, written.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong kind or shape (naming it) or a callable returning
        NaN/Inf on the plotted points, before anything is drawn.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see ``pykernels.network.check_writable``).
    """
    path = check_writable(path, "path")
    function(f, "f")
    lo, hi = _interval(lo, hi)
    marks = []
    for i, point in enumerate(points):
        try:
            x0, kind = point
        except (TypeError, ValueError):
            raise ValueError(f"points[{i}] must be a pair (x, kind), got {point!r}") from None
        if kind not in KINDS:
            raise ValueError(f"points[{i}] kind must be one of {list(KINDS)}, got {kind!r}")
        x0 = real(x0, f"points[{i}] x")
        marks.append((x0, kind, _scalar_curve(f, np.array([x0]))[0]))
    x = np.linspace(lo, hi, 600)
    fx = _scalar_curve(f, x)
    fig, ax = _figure()
    ax.plot(x, fx, lw=2, color="k", label="f(x)")
    style = {"minimum": ("v", "tab:green"), "maximum": ("^", "tab:red"),
             "inflection": ("s", "tab:orange")}
    for x0, kind, fx in marks:
        marker, color = style[kind]
        ax.plot(x0, fx, marker=marker, ms=11, color=color, markeredgecolor="k")
        ax.annotate(f"{kind}\nx = {x0:.4g}\nf = {fx:.4g}", (x0, fx), textcoords="offset points",
                    xytext=(10, 8), fontsize=8)
    ax.margins(y=0.12)
    ax.set_xlabel("x")
    ax.set_title(title)
    return _save(fig, path)


def lipschitz_cone(f, lo, hi, x0, slope, path, title="Lipschitz cone"):
    """f on [lo, hi] and the cone f(x0) +- slope |x - x0| that bounds it.

    Parameters
    ----------
    f : callable
        A function of one float.
    lo, hi : float
    x0 : float
        Apex of the cone (e.g. the witness of :func:`pk.lipschitz`).
    slope : float
        The Lipschitz constant K.
    path : str or os.PathLike
    title : str

    Returns
    -------
    str
        ``path``, written.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong kind or shape (naming it) or a callable returning
        NaN/Inf on the plotted points, before anything is drawn.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see ``pykernels.network.check_writable``).
    """
    path = check_writable(path, "path")
    function(f, "f")
    lo, hi = _interval(lo, hi)
    x0 = real(x0, "x0", low=lo, high=hi)
    slope = real(slope, "slope", low=0.0)
    x = np.linspace(lo, hi, 600)
    fx = _scalar_curve(f, x)
    f0 = _scalar_curve(f, np.array([x0]))[0]
    fig, ax = _figure()
    ax.fill_between(x, f0 - slope * np.abs(x - x0), f0 + slope * np.abs(x - x0),
                    color="tab:blue", alpha=0.15, label=f"cone, slope K = {slope:.4g}")
    ax.plot(x, fx, lw=2, color="k", label="f(x)")
    ax.plot(x0, f0, "o", color="tab:red", label="steepest point found")
    ax.set_ylim(fx.min() - 0.5 * np.ptp(fx), fx.max() + 0.5 * np.ptp(fx))
    ax.set_xlabel("x")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)
