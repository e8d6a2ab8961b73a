"""Greedy graph colourings for sparse derivatives.

* Jacobians (Curtis–Powell–Reid grouping): two columns may be perturbed together when
  no row has a nonzero in both, i.e. when they are non-adjacent in the graph whose
  adjacency is ``S^T S``; :func:`greedy_coloring` gives each vertex, in the given
  order, the smallest colour none of its already-coloured neighbours has.
* Hessians (symmetric): :func:`star_coloring` colours the adjacency graph of the
  pattern so that every path on four vertices uses at least three colours
  (Gebremedhin, Manne & Pothen, SIAM Review 47, 2005).  Then every nonzero ``H_ij``
  is recovered directly from one grouped difference: ``j`` is the only neighbour of
  ``i`` in its colour, or ``i`` the only neighbour of ``j`` in its (else the path
  ``k - i - j - l`` through the two offending neighbours would be two-coloured).

``pykernels/reference/coloring.py`` is the plain-Python twin (small patterns).
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
    for v in range(n):
        colors[v] = -1
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
def star_coloring(order, indptr, indices, colors):
    """Star colouring of the graph (CSR ``indptr``, ``indices``, no self loops), greedy
    in ``order``.  Writes ``colors`` (n,) and returns the number of colours.

    Vertex ``v`` may not take the colour of a neighbour ``w``, nor the colour of a
    vertex ``x`` two steps away (``v - w - x``) when that would two-colour a path on
    four vertices: ``x - y`` or ``y - v`` with ``colors[y] == colors[w]``.  Every path
    on four vertices is checked when its last vertex is coloured.
    """
    n = order.size
    for v in range(n):
        colors[v] = -1
    forbidden = np.full(n + 1, -1, np.int64)   # forbidden[c] == v: c is taken near v
    mark = np.full(n + 1, -1, np.int64)        # mark[c] == v: count[c] is v's
    count = np.zeros(n + 1, np.int64)          # neighbours of v with colour c
    ncolors = 0
    for v in order:
        for k in range(indptr[v], indptr[v + 1]):
            c = colors[indices[k]]
            if c >= 0:
                forbidden[c] = v
                if mark[c] != v:
                    mark[c] = v
                    count[c] = 0
                count[c] += 1
        for k in range(indptr[v], indptr[v + 1]):
            w = indices[k]
            cw = colors[w]
            if cw < 0:
                continue
            for q in range(indptr[w], indptr[w + 1]):
                x = indices[q]
                cx = colors[x]
                if x == v or cx < 0 or forbidden[cx] == v:
                    continue
                bad = count[cw] > 1                # y - v - w - x
                for r in range(indptr[x], indptr[x + 1]):
                    if bad:
                        break
                    y = indices[r]
                    bad = y != w and colors[y] == cw   # v - w - x - y
                if bad:
                    forbidden[cx] = v
        c = 0
        while forbidden[c] == v:
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
