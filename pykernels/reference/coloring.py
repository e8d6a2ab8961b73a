"""Plain-Python twins of the colourings of ``kernels/coloring.py`` (same contract).

They serve small patterns without starting Numba, and are the oracle of the compiled
ones: the same greedy passes, so the same colours.  Lists of Python ints are walked
instead of arrays (an array element read from Python costs ~10x a list's).
"""

import numpy as np


def greedy_coloring(order, indptr, indices, colors):
    """Distance-1 greedy colouring in ``order``; see ``kernels.coloring.greedy_coloring``."""
    ptr, adj = indptr.tolist(), indices.tolist()
    color = [-1] * len(ptr[:-1])
    seen = [-1] * (len(color) + 1)
    for v in order.tolist():
        for k in range(ptr[v], ptr[v + 1]):
            c = color[adj[k]]
            if c >= 0:
                seen[c] = v
        c = 0
        while seen[c] == v:
            c += 1
        color[v] = c
    colors[:] = color
    return max(color, default=-1) + 1


def star_coloring(order, indptr, indices, colors):
    """Star colouring in ``order``; see ``kernels.coloring.star_coloring``."""
    ptr, adj = indptr.tolist(), indices.tolist()
    n = len(ptr) - 1
    color = [-1] * n
    forbidden = [-1] * (n + 1)
    for v in order.tolist():
        neighbours = adj[ptr[v]:ptr[v + 1]]
        count = {}
        for w in neighbours:
            c = color[w]
            if c >= 0:
                forbidden[c] = v
                count[c] = count.get(c, 0) + 1
        for w in neighbours:
            cw = color[w]
            if cw < 0:
                continue
            for x in adj[ptr[w]:ptr[w + 1]]:
                cx = color[x]
                if x == v or cx < 0 or forbidden[cx] == v:
                    continue
                if count[cw] > 1 or any(y != w and color[y] == cw
                                        for y in adj[ptr[x]:ptr[x + 1]]):
                    forbidden[cx] = v
        c = 0
        while forbidden[c] == v:
            c += 1
        color[v] = c
    colors[:] = color
    return max(color, default=-1) + 1


def smallest_last_order(indptr, indices):
    """Smallest-last vertex order; see ``kernels.coloring.smallest_last_order``."""
    ptr, adj = indptr.tolist(), indices.tolist()
    n = len(ptr) - 1
    degree = [ptr[v + 1] - ptr[v] for v in range(n)]
    buckets = [dict() for _ in range(max(degree, default=0) + 1)]  # insertion-ordered sets
    for v in range(n):
        buckets[degree[v]][v] = None
    removed = [False] * n
    order = [0] * n
    low = 0
    for pos in range(n - 1, -1, -1):
        low = max(low - 1, 0)
        while not buckets[low]:
            low += 1
        # the compiled twin pops the most recently inserted vertex of the bucket
        v = next(reversed(buckets[low]))
        del buckets[low][v]
        removed[v] = True
        order[pos] = v
        for u in adj[ptr[v]:ptr[v + 1]]:
            if not removed[u]:
                d = degree[u]
                del buckets[d][u]
                buckets[d - 1][u] = None
                degree[u] = d - 1
    return np.array(order, dtype=np.int64)
