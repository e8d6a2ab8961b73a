"""Greedy colouring of the column-intersection graph (Curtis–Powell–Reid grouping).

Two columns of a sparse Jacobian may be perturbed together when no row has a nonzero
in both: they are then non-adjacent in the graph whose adjacency is ``S^T S``.  The
greedy pass gives each vertex, in the given order, the smallest colour none of its
already-coloured neighbours has.
"""

import numpy as np

from ._jit import jit


@jit
def greedy_coloring(order, indptr, indices, colors):
    """Colour the vertices in ``order``; adjacency in CSR (``indptr``, ``indices``).

    Writes ``colors`` (n,) and returns the number of colours used.
    """
    n = order.size
    seen = np.full(n + 1, -1, np.int64)  # seen[c] == v: colour c is taken near v
    colors[:] = -1
    ncolors = 0
    for v in order:
        for k in range(indptr[v], indptr[v + 1]):
            c = colors[indices[k]]
            if c >= 0:
                seen[c] = v
        c = 0
        while seen[c] == v:
            c += 1
        colors[v] = c
        ncolors = max(ncolors, c + 1)
    return ncolors


@jit
def smallest_last_order(indptr, indices):
    """Smallest-last vertex order (Matula–Beck): repeatedly remove a vertex of least
    remaining degree; colour in the reverse of the removal order.  Bucket queue,
    O(n + edges)."""
    n = indptr.size - 1
    degree = np.empty(n, np.int64)
    for v in range(n):
        degree[v] = indptr[v + 1] - indptr[v]
    maxdeg = degree.max() if n else 0
    # doubly linked bucket lists: head[d], nxt[v], prv[v]
    head = np.full(maxdeg + 1, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    prv = np.full(n, -1, np.int64)
    for v in range(n):
        d = degree[v]
        nxt[v] = head[d]
        if head[d] >= 0:
            prv[head[d]] = v
        head[d] = v
    removed = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    low = 0
    for pos in range(n - 1, -1, -1):
        low = max(low - 1, 0)
        while head[low] < 0:
            low += 1
        v = head[low]
        head[low] = nxt[v]
        if nxt[v] >= 0:
            prv[nxt[v]] = -1
        removed[v] = True
        order[pos] = v
        for k in range(indptr[v], indptr[v + 1]):
            u = indices[k]
            if removed[u]:
                continue
            d = degree[u]
            # unlink u from bucket d, relink into bucket d - 1
            if prv[u] >= 0:
                nxt[prv[u]] = nxt[u]
            else:
                head[d] = nxt[u]
            if nxt[u] >= 0:
                prv[nxt[u]] = prv[u]
            degree[u] = d - 1
            prv[u] = -1
            nxt[u] = head[d - 1]
            if head[d - 1] >= 0:
                prv[head[d - 1]] = u
            head[d - 1] = u
    return order
