"""Pictures of the lecture's ideas, drawn headless (matplotlib's Agg canvas, no pyplot).

Every function takes plain arrays/callables, writes one PNG to ``path`` (str or
os.PathLike) and returns that path as a str; ``title`` sets the figure's title.
"""

import numpy as np

__all__ = ["activations", "decision_boundary", "loss_curves", "flow_field",
           "stationary_points", "lipschitz_cone"]


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
    """
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
    """
    fig, ax = _figure()
    pad = 0.3
    (x0, y0), (x1, y1) = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    scores = predict(np.column_stack([gx.ravel(), gy.ravel()]))
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
    """
    fig, ax = _figure()
    for name, (evals, loss) in curves.items():
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
    """
    fig, ax = _figure(size=(6.4, 5.2))
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    values = f(pts).reshape(gx.shape)
    shifted = values - values.min() + 1e-3
    ax.contour(gx, gy, np.log10(shifted), levels=levels, cmap="viridis", linewidths=0.8)
    sx, sy = np.meshgrid(np.linspace(lo[0], hi[0], 40), np.linspace(lo[1], hi[1], 40))
    g = grad(np.column_stack([sx.ravel(), sy.ravel()]))
    ax.streamplot(sx, sy, -g[:, 0].reshape(sx.shape), -g[:, 1].reshape(sx.shape),
                  color="0.6", density=1.1, linewidth=0.6, arrowsize=0.7)
    for name, iterates in paths.items():
        iterates = np.asarray(iterates)
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
    """
    fig, ax = _figure()
    x = np.linspace(lo, hi, 600)
    ax.plot(x, [f(t) for t in x], lw=2, color="k", label="f(x)")
    style = {"minimum": ("v", "tab:green"), "maximum": ("^", "tab:red"),
             "inflection": ("s", "tab:orange")}
    for x0, kind in points:
        marker, color = style[kind]
        fx = f(x0)
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
    """
    fig, ax = _figure()
    x = np.linspace(lo, hi, 600)
    fx = np.array([f(t) for t in x])
    f0 = f(x0)
    ax.fill_between(x, f0 - slope * np.abs(x - x0), f0 + slope * np.abs(x - x0),
                    color="tab:blue", alpha=0.15, label=f"cone, slope K = {slope:.4g}")
    ax.plot(x, fx, lw=2, color="k", label="f(x)")
    ax.plot(x0, f0, "o", color="tab:red", label="steepest point found")
    ax.set_ylim(fx.min() - 0.5 * np.ptp(fx), fx.max() + 0.5 * np.ptp(fx))
    ax.set_xlabel("x")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)
