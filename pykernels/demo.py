"""``pykernels demo``: the lecture's story on generated data, with pictures.

Each section prints a short narrative and writes one or more PNG files into the
output folder; :func:`run` returns the paths it wrote.
"""

import math
import os
import sys
import time

import numpy as np

from . import plot
from .curvature import lipschitz, stationary_points
from .datasets import spirals
from .network import MLP
from .optimize import compare_methods, minimize
from .train import train


class _Story:
    """Prints the narrative and keeps the list of written files."""

    def __init__(self, folder, out):
        self.folder = folder
        self.out = out or sys.stdout
        self.files = []
        self.start = time.perf_counter()

    def say(self, text=""):
        print(text, file=self.out, flush=True)

    def section(self, number, total, title):
        self.say(f"\n[{number}/{total}] {title}   ({time.perf_counter() - self.start:.1f} s)")

    def picture(self, name, draw, *args, **kwargs):
        path = draw(*args, os.path.join(self.folder, name), **kwargs)
        self.files.append(path)
        self.say(f"  -> wrote {path}")
        return path


# -- sections ----------------------------------------------------------------


def squashing_functions(story):
    """The activations G and their derivatives."""
    story.say("A layer computes y = G(W x + b): a linear map, then a fixed squashing function.")
    story.picture("activations.png", plot.activations)


def train_network(story, quick, seed, backend):
    """Mini-batch training of a 2-64-64-2 tanh network on two spirals."""
    X, y = spirals(600, noise=0.05, seed=seed)
    net = MLP([2, 64, 64, 2], activation="tanh", output="softmax", loss="cross_entropy",
              seed=seed)
    epochs = 60 if quick else 200
    story.say(f"Two interleaved spirals, {len(X)} points. All {net.size} weights and biases of "
              f"the network {net.sizes.tolist()} form one flat vector theta; backpropagation "
              "gives dLoss/dtheta in one compiled sweep.")
    story.say(f"Adam, mini-batches of 32, {epochs} epochs:")
    story.say(f"  {'epoch':>5} {'loss':>9} {'accuracy':>9}   (loss: mean over the epoch's "
              "mini-batches)")

    def report(epoch, history):
        done = epoch + 1  # pk.train counts epochs from 0
        if done == 1 or done % (epochs // 6) == 0:
            accuracy = np.mean(net.predict(X, backend=backend).argmax(axis=1) == y)
            story.say(f"  {done:>5} {history['loss'][-1]:>9.4f} {accuracy:>9.1%}")

    train(net, X, y, optimizer="adam", lr=0.01, epochs=epochs, batch_size=32, seed=seed,
          callback=report, backend=backend)
    accuracy = np.mean(net.predict(X).argmax(axis=1) == y)
    story.picture("decision_boundary.png", plot.decision_boundary, net.predict, X, y,
                  title=f"2-64-64-2 tanh network, training accuracy {accuracy:.1%}")
    return accuracy


def three_orders(story, quick, seed):
    """Zero-, first- and second-order methods on the same network and time budget."""
    X, y = spirals(200, noise=0.05, seed=seed)
    net = MLP([2, 12, 12, 2], activation="tanh", output="softmax", loss="cross_entropy",
              seed=seed)
    budget = 1.5 if quick else 6.0
    methods = ("genetic", "lbfgs", "newton-cg")
    story.say(f"The same {net.size}-parameter network trained full-batch on {len(X)} points "
              f"by a zero-, a first- and a second-order method, {budget:g} s each:")
    # compile the kernels first, so that the budgets time optimisation, not compilation
    net.loss_and_grad(X[:2], y[:2])
    net.hvp(X[:2], y[:2], np.zeros(net.size))
    minimize(lambda x: x @ x, np.ones(2), jac=lambda x: 2 * x, method="lbfgs")
    rows = compare_methods(net, X, y, budget, methods, seed=seed)
    story.say(f"  {'method':<11} {'f evals':>8} {'grads':>7} {'Hv':>6} {'seconds':>8} "
              f"{'loss':>9} {'accuracy':>9} {'evals to match genetic':>23}")
    for row in rows:
        match = row["evals_to_reference"]
        match = "-" if row is rows[0] else (f"{match} ({row['ratio']:.0f}x fewer)"
                                              if match else "never")
        story.say(f"  {row['method']:<11} {row['evaluations']:>8} {row['gradients']:>7} "
                  f"{row['hvps']:>6} {row['seconds']:>8.2f} {row['loss']:>9.4f} "
                  f"{row['accuracy']:>9.1%} {match:>23}")
    story.say("A gradient costs about as much as two evaluations of the loss, yet tells every "
              "parameter which way to move: heuristic search is orders of magnitude slower.")
    curves = {row["method"]: np.array(row["trace"]).T for row in rows if row["trace"]}
    story.picture("loss_vs_evaluations.png", plot.loss_curves, curves,
                  title="Spirals network: loss against objective evaluations")
    return rows


def _rosenbrock(P):
    return (1 - P[:, 0]) ** 2 + 100 * (P[:, 1] - P[:, 0] ** 2) ** 2


def _rosenbrock_grad(P):
    x, y = P[:, 0], P[:, 1]
    return np.column_stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _himmelblau(P):
    x, y = P[:, 0], P[:, 1]
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _himmelblau_grad(P):
    x, y = P[:, 0], P[:, 1]
    a, b = x * x + y - 11, x + y * y - 7
    return np.column_stack([4 * a * x + 2 * b, 2 * a + 4 * b * y])


SURFACES = {
    "rosenbrock": (_rosenbrock, _rosenbrock_grad, (-2.0, -1.0), (2.0, 3.0), (-1.5, 2.0),
                   {"gd": 1e-3, "momentum": 1e-3}),
    "himmelblau": (_himmelblau, _himmelblau_grad, (-5.0, -5.0), (5.0, 5.0), (-0.5, 0.5),
                   {"gd": 1e-2, "momentum": 5e-3}),
}


def rolling_ball(story, quick, seed):
    """Contours, streamlines of -grad f, and the paths of four methods."""
    story.say("Gradient descent follows the flow of -grad f into a basin (an attractor); "
              "momentum is a heavy ball that keeps rolling; Newton-CG uses curvature; "
              "simulated annealing jumps at random and accepts some uphill moves.")
    maxiter = 300 if quick else 2000
    for name, (f, grad, lo, hi, x0, steps) in SURFACES.items():
        fun = lambda x, f=f: float(f(x[None, :])[0])  # noqa: E731
        jac = lambda x, grad=grad: grad(x[None, :])[0]  # noqa: E731
        paths = {}
        story.say(f"  {name}: start {x0}")
        for method in ("gd", "momentum", "newton-cg", "simulated-annealing"):
            iterates = [np.array(x0)]
            options = {"lr": steps[method], "linesearch": False} if method in steps else {}
            bounds = (np.array(lo), np.array(hi)) if method == "simulated-annealing" else None
            res = minimize(fun, x0, method=method, jac=jac if method != "simulated-annealing"
                           else None, bounds=bounds, seed=seed, maxiter=maxiter,
                           options=options, callback=lambda r: iterates.append(np.array(r.x)))
            paths[method] = np.array(iterates)
            story.say(f"    {method:<20} {res.nit:>5} iterations -> x = "
                      f"({res.x[0]:+.4f}, {res.x[1]:+.4f}), f = {res.fun:.3g}")
        story.picture(f"flow_{name}.png", plot.flow_field, f, grad, lo, hi, paths,
                      title=f"{name}: streamlines of -grad f and optimizer paths")


def _quartic(x):
    return x ** 4 - 40 * x ** 2 - 100 * x


def analytic_derivatives(story):
    """The lecture's worked example, with the erratum corrected."""
    story.say("Solve f'(x) = 0 and classify by f''(x), for f(x) = x^4 - 40 x^2 - 100 x "
              "(f' = 4x^3 - 80x - 100, f'' = 12x^2 - 80):")
    points = stationary_points(_quartic, -10.0, 10.0, fprime=lambda x: 4 * x ** 3 - 80 * x - 100,
                               fsecond=lambda x: 12 * x ** 2 - 80)
    for line in str(points).splitlines():
        story.say("  " + line)
    story.say("  exact: x = 5 (global minimum, f = -875), x = (-5 - sqrt 5)/2 (local minimum), "
              "x = (-5 + sqrt 5)/2 (local maximum)")
    story.picture("stationary_points.png", plot.stationary_points, _quartic,
                  [(p.x, p.kind) for p in points], -7.0, 7.0,
                  title="f(x) = x^4 - 40x^2 - 100x: stationary points")
    return points


def smoothness(story, seed):
    """Lipschitz constants: a sampled lower bound and a network's upper bound."""
    estimate = lipschitz(np.sin, 0.0, 2 * math.pi, seed=seed)
    story.say(f"sin on [0, 2 pi]: the steepest slope found is {estimate.value:.6f} "
              f"(exact: 1), at x = {float(np.ravel(estimate.x)[0]):.4f}.")
    story.picture("lipschitz.png", plot.lipschitz_cone, np.sin, 0.0, 2 * math.pi,
                  float(np.ravel(estimate.x)[0]), estimate.value,
                  title="sin stays inside its Lipschitz cone (K = 1)")
    net = MLP([2, 16, 16, 1], activation="tanh", seed=seed)
    sampled = lipschitz(lambda x: net.predict(x[None, :])[0], -3 * np.ones(2), 3 * np.ones(2),
                        samples=200, seed=seed)
    story.say(f"A random 2-16-16-1 tanh network: sampled lower bound {sampled.value:.4f} <= "
              f"upper bound (product of layer spectral norms) {net.lipschitz_bound():.4f}.")


def run(out_dir="pykernels-demo", quick=False, backend=None, seed=0, out=None):
    """Run every section of the demo; return the paths of the pictures written.

    Parameters
    ----------
    out_dir : str
        Folder for the PNG files (created if needed).
    quick : bool
        Fewer epochs and iterations, smaller time budgets (well under a minute).
    backend : str, optional
        Backend of the network kernels.
    seed : int
    out : file, optional
        Where the narrative goes (default: standard output).
    """
    os.makedirs(out_dir, exist_ok=True)
    story = _Story(out_dir, out)
    story.say("pykernels demo: the lecture, runnable. Learning is minimising a loss over "
              "the parameters theta of a network.")
    sections = [("Squashing functions", lambda: squashing_functions(story)),
                ("Backpropagation and mini-batch training",
                 lambda: train_network(story, quick, seed, backend)),
                ("Zero-, first- and second-order methods", lambda: three_orders(story, quick, seed)),
                ("A ball rolling on a surface", lambda: rolling_ball(story, quick, seed)),
                ("Analytic derivatives: stationary points", lambda: analytic_derivatives(story)),
                ("Smoothness: Lipschitz constants", lambda: smoothness(story, seed))]
    for number, (title, section) in enumerate(sections, 1):
        story.section(number, len(sections), title)
        section()
    story.say(f"\nDone in {time.perf_counter() - story.start:.1f} s; "
              f"{len(story.files)} pictures in {out_dir}/")
    return story.files
