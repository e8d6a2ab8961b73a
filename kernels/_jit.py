"""The one jit policy of pykernels.

* ``nopython`` always (``numba.njit``) -- no object mode, no hidden Python fallbacks;
* ``nogil=True`` -- kernels release the GIL so threads run them concurrently;
* ``error_model="numpy"`` -- division by zero gives inf/nan as in NumPy and C;
* no ``fastmath``: the kernels rely on IEEE semantics for NaN/Inf and on the exact
  evaluation order of the compensated expressions in :mod:`._math`;
* ``cache=True`` on serial kernels only; ``parallel=True`` kernels are never cached
  (cached parallel functions have segfaulted elsewhere: numba issue 4807);
* kernels that allocate nothing (the network kernels) compile without Numba's
  reference counting (:data:`jit_noalloc`), their private helpers without Python
  entry points (:data:`jit_callee`);
* kernels whose own loops are short or cold are compiled for size
  (:func:`optimize_for_size`);
* Python's cyclic garbage collector pauses while a kernel compiles (:class:`_Compiler`),
  and while Numba sets up its tables of implementations, on importing this module
  (:func:`_prepare_numba`).

The last three keep the first call of a fresh process with an empty cache short.
"""

import numba
import numba.core.compiler
from numba.core import types
from numba.core.compiler_lock import global_compiler_lock
from numba.extending import intrinsic

from ._gc import collector_paused


class _Compiler(numba.core.compiler.Compiler):
    """Numba's compiler with Python's garbage collector paused while it runs (see
    :mod:`._gc`)."""

    def compile_extra(self, func):
        with collector_paused():
            return super().compile_extra(func)

    def compile_ir(self, func_ir, lifted=(), lifted_from=None):
        with collector_paused():
            return super().compile_ir(func_ir, lifted, lifted_from)


_POLICY = dict(nogil=True, error_model="numpy", pipeline_class=_Compiler)

#: Decorator for serial kernels (compiled lazily per dtype, cached on disk).
jit = numba.njit(cache=True, **_POLICY)

#: Decorator for serial kernels that allocate nothing -- they work on views of their
#: arguments only (the network kernels): compiled without Numba's reference counting
#: (NRT), whose increments and decrements on every array view took a quarter of the
#: tiny network's step (18 -> 14 us) and some of its compile time.  A kernel decorated
#: so that allocates does not compile.
jit_noalloc = numba.njit(cache=True, _nrt=False, **_POLICY)

#: Decorator for private helpers of other kernels, called only from compiled code: as
#: :data:`jit_noalloc`, without the Python and C entry points Numba otherwise compiles
#: for every function (their wrappers, ~10 ms of a first compile each).  Calling such
#: a helper from Python crashes the interpreter: call it from an ``@njit`` function.
jit_callee = numba.njit(cache=True, _nrt=False, no_cpython_wrapper=True, no_cfunc_wrapper=True,
                        **_POLICY)

#: Decorator for helpers inlined into their callers at the Numba IR level: typed again
#: at each call site, but cheaper to compile than a function of its own when called
#: from one or two places (each compiled function costs its own optimisation and
#: machine code, and every caller's optimisation again).
jit_inline = numba.njit(inline="always", **_POLICY)

#: Decorator for ``prange`` kernels (not cached, see above).
jit_parallel = numba.njit(parallel=True, **_POLICY)


class jit_signature:
    """Decorator for drivers compiled against one explicit signature (e.g. taking
    first-class functions of a ``numba.types.FunctionType``): compiled -- or loaded
    from the on-disk cache -- at the first call rather than at import, which keeps
    ``import pykernels`` free of Numba's start-up cost."""

    def __init__(self, signature):
        self._signature = signature

    def __call__(self, func):
        return _LazyDriver(func, self._signature)


class _LazyDriver:
    def __init__(self, func, signature):
        self.py_func = func
        self._signature = signature
        self._compiled = None
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    @property
    def compiled(self):
        """The Numba dispatcher, compiled on first access."""
        if self._compiled is None:
            self._compiled = numba.njit(self._signature, cache=True, **_POLICY)(self.py_func)
        return self._compiled

    @property
    def signatures(self):
        """Signatures compiled so far (at most the one given)."""
        return [] if self._compiled is None else self._compiled.signatures

    def __call__(self, *args):
        return self.compiled(*args)


@intrinsic
def optimize_for_size(typingctx):
    """Called first in a kernel: LLVM compiles the function for size (``optsize``) --
    loops are not unswitched, unrolled or vectorised with run-time checks and remainder
    loops.  For kernels whose own loops are short or cold, their hot work being in calls
    (the R-operator: products and activations; its output layer): less machine code to
    compile (0.8 s less for a first hvp), at the speed of the scalar loop where it runs."""
    def codegen(context, builder, signature, args):
        builder.function.attributes.add("optsize")
        return context.get_dummy_value()

    return types.none(), codegen


def _prepare_numba():
    """Have Numba set up its tables of implementations now, with the collector paused.

    Numba does it at the first compile or cache load of a process (importing numba.np,
    SciPy's BLAS and the rest: ~0.25 s); the kernel modules, which import this one, are
    imported right before their first call."""
    with global_compiler_lock, collector_paused():  # as Numba refreshes: under its lock
        numba.core.registry.cpu_target.target_context.refresh()


_prepare_numba()
