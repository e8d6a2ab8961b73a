"""The ``pykernels`` command: ``info``, ``demo``, ``bench`` and ``warmup``."""

import argparse
import os
import sys


def _blas_info():
    """BLAS libraries NumPy is linked to, as 'name version (threads)' strings."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        import numpy as np
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return [f"{blas.get('name', '?')} {blas.get('version', '')}".strip()]
    return [f"{p['internal_api']} {p['version']} ({p['num_threads']} threads, {p['filepath']})"
            for p in threadpool_info() if p["user_api"] == "blas"]


def info(out=None):
    """Print versions, backends, BLAS and the Numba cache: where it is, how warm.

    Parameters
    ----------
    out : file, optional
        Where to print (default ``sys.stdout``).
    """
    out = out or sys.stdout

    import numba
    import numpy as np

    import pykernels
    from pykernels import _backend, warmup

    try:
        cache, warm, total = warmup.cache_state()
        state = (f"warm ({warm} of {total} kernels cached for this CPU and Numba)"
                 if warm == total else
                 f"{'cold' if warm == 0 else 'partly warm'} ({warm} of {total} kernels "
                 f"cached for this CPU and Numba; 'pykernels warmup' compiles the rest)")
    except Exception as exc:  # Numba internals moved: say so rather than fail
        cache, state = warmup.cache_directory(), f"unknown ({type(exc).__name__}: {exc})"
    default = pykernels.get_backend()
    why = ("PYKERNELS_BACKEND" if os.environ.get("PYKERNELS_BACKEND") else
           "the C extension is built: nothing to compile at run time"
           if default == "c" else "no C extension: Numba kernels compile at first use")
    rows = [
        ("pykernels", pykernels.__version__),
        ("numpy", np.__version__),
        ("numba", f"{numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads)"),
        ("backends", ", ".join(pykernels.backends())),
        ("default backend", f"{default} ({why})"),
        ("numba cache", cache),
        ("numba cache state", state),
    ]
    rows += [("blas", line) for line in _blas_info()]
    rows += [(f"{name} unavailable", why) for name, why in _backend._errors.items()]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}", file=out)


def _seed(text):
    """``--seed``: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _check(args):
    """Check what a command needs before it runs (a long benchmark must not fail at
    its end on a path it cannot write): the demo's backend and folder, the bench
    groups and JSON file.  Errors name the option."""
    if args.command == "demo":
        if args.backend is not None:
            from . import _backend
            try:
                _backend.resolve(args.backend)
            except RuntimeError as exc:  # BackendUnavailable
                raise ValueError(f"--backend {args.backend}: {exc}") from None
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out!r} is a file, not a folder")
        os.makedirs(args.out, exist_ok=True)
    elif args.command == "bench":
        from . import benchmarks
        from .network import check_writable
        if args.json is not None:
            check_writable(args.json, "--json")
        cases = benchmarks.all_cases()
        args.cases = [c for c in cases
                      if (c.quick or not args.quick) and (args.group or "") in c.group]
        if not args.cases:
            groups = sorted({c.group.split("|")[0] for c in cases})
            raise ValueError(f"--group {args.group!r} matches no benchmark"
                             f"{' of --quick' if args.quick else ''}; groups: "
                             f"{', '.join(groups)}")


def main(argv=None):
    """Entry point of the ``pykernels`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0, or 1 when ``warmup`` failed.
    """
    parser = argparse.ArgumentParser(prog="pykernels", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, backends, BLAS, Numba cache location and state")
    warm = sub.add_parser("warmup", help="compile every Numba kernel into the cache")
    warm.add_argument("--quiet", action="store_true", help="no progress bar")
    demo = sub.add_parser("demo", help="the lecture's story, with pictures")
    demo.add_argument("--out", default="pykernels-demo", metavar="DIR",
                      help="folder for the pictures (default: ./pykernels-demo)")
    demo.add_argument("--quick", action="store_true", help="smaller budgets (under a minute)")
    demo.add_argument("--backend", default=None, choices=["numba", "c", "numpy"],
                      help="numba, c or numpy")
    demo.add_argument("--seed", type=_seed, default=0, help="an integer >= 0")
    bench = sub.add_parser("bench", help="time the kernels against each other and peers")
    bench.add_argument("--quick", action="store_true", help="skip the large cases, time briefly")
    bench.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    bench.add_argument("--group", metavar="TEXT", help="only groups containing TEXT")
    args = parser.parse_args(argv)
    try:
        _check(args)
    except (TypeError, ValueError, OSError) as exc:  # as argparse reports a bad argument
        sub.choices[args.command].error(str(exc))
    if args.command == "info":
        info()
    elif args.command == "warmup":
        from .warmup import warmup
        return 0 if warmup(progress=not args.quiet)["ok"] else 1
    elif args.command == "bench":
        from . import benchmarks
        rows = benchmarks.run(args.cases, min_time=0.05 if args.quick else 0.5)
        if args.json:
            benchmarks.write_json(rows, args.json)
            print(f"\nwrote {args.json}")
    else:
        import matplotlib
        matplotlib.use("Agg")
        from .demo import run
        run(args.out, quick=args.quick, backend=args.backend, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
