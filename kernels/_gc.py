"""Python's cyclic garbage collector paused while Numba works.

Importing Numba and compiling a kernel make some 10**5 Python objects (modules,
IR, types, typing constraints) that live until the work ends; the collector's passes
over that growing heap took a sixth of a first network call in a fresh process
(measured before the pause: 0.4 of 2.5 s for a first loss_and_grad, 0.75 of 5.4 s for
a first Hessian-vector product).  Pausing it for the duration does not add work: the
garbage left is collected by its next pass.  The pause is process-wide: other threads'
garbage waits for the end of a compile (seconds at most), and a ``gc.disable()`` made
by another thread meanwhile is undone when it ends.
"""

import gc


class collector_paused:
    """Context: ``gc`` disabled inside, enabled again on leaving if it was enabled on
    entering (nested uses keep it disabled until the outermost one leaves)."""

    def __enter__(self):
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self._was_enabled:
            gc.enable()
