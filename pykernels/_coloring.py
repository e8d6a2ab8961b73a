"""Colour groups for sparse derivatives: pattern -> groups, and where each value goes.

* :func:`group_columns` -- Jacobians: columns coloured so that no row has two
  nonzeros in one group (Curtis–Powell–Reid); one difference per group.
* :func:`group_symmetric` -- Hessians: a star colouring of the pattern's graph
  (``kernels/coloring.py``), so that every nonzero is recovered directly from one
  grouped difference of the gradient, or from second differences of ``f`` over a
  row and a colour group.

Small patterns are coloured by the plain-Python twins (``pykernels/reference/coloring.py``:
no Numba start-up), large ones by the compiled kernels; both give the same colours.
"""

from dataclasses import dataclass

import numpy as np

from .reference import coloring as py_coloring

ORDERS = ("largest_first", "smallest_last", "natural")
#: Patterns whose colouring work (sum of squared degrees) is below this are coloured in
#: Python (a few ms); above, the compiled kernels pay off their start-up.
PYTHON_WORK = 20_000


@dataclass(frozen=True)
class Grouping:
    """Everything a grouped difference needs, computed once per sparsity pattern.

    ``order[gptr[g]:gptr[g+1]]`` are the columns of colour ``g``; the nonzeros of
    column ``j`` are rows ``rows[colptr[j]:colptr[j+1]]`` (CSC order) and go to
    ``data[dest[k]]`` of the CSR result with ``indptr``/``indices``.
    """

    shape: tuple
    ngroups: int
    order: np.ndarray
    gptr: np.ndarray
    colptr: np.ndarray
    rows: np.ndarray
    dest: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data_rows: np.ndarray  # row of each CSR entry
    data_cols: np.ndarray  # column of each CSR entry


@dataclass(frozen=True)
class SymmetricGrouping:
    """A star colouring of a symmetric ``(n, n)`` pattern and its two recoveries.

    ``order[gptr[g]:gptr[g+1]]`` are the variables of colour ``g``; the result is a
    CSR matrix with ``indptr``/``indices`` (the pattern made symmetric, diagonal
    included).

    From a gradient: ``gradient`` groups the entries ``(i, j)`` recoverable at row
    ``i`` of colour ``colour(j)`` (``j`` the only neighbour of ``i`` in that colour);
    entry ``e`` of the result is the mean of the values at ``sources[:, e]`` of that
    grouped Jacobian (``-1``: not recoverable that way round), so ``H_ij`` and
    ``H_ji`` are the same number.

    From ``f``: value ``p`` is ``H[pair_i[p], pair_j[p]]``, from second differences
    along ``e_i`` and colour group ``pair_b[p]`` (the colour of ``pair_j[p]``); one pair
    per entry of the upper triangle, diagonal included; entry ``e`` of the result is
    value ``pair_of[e]``.
    """

    shape: tuple
    ngroups: int
    order: np.ndarray
    gptr: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    gradient: Grouping
    sources: np.ndarray
    pair_i: np.ndarray
    pair_b: np.ndarray
    pair_j: np.ndarray
    pair_of: np.ndarray


def _colour(kernel_name, order, A):
    """Colours of the graph with CSR adjacency ``A`` (no self loops), greedy in ``order``."""
    n = A.shape[0]
    colors = np.empty(n, np.int64)
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    degree = np.diff(indptr)
    if order == "natural":
        visit = np.arange(n, dtype=np.int64)
    elif order == "largest_first":
        visit = np.argsort(-degree, kind="stable").astype(np.int64)
    else:
        visit = None
    if int(degree @ degree) <= PYTHON_WORK:
        module = py_coloring
    else:
        from .kernels import coloring as module
    if visit is None:
        visit = module.smallest_last_order(indptr, indices)
    ngroups = int(getattr(module, kernel_name)(visit, indptr, indices, colors))
    cols = np.argsort(colors, kind="stable").astype(np.int64)
    gptr = np.searchsorted(colors[cols], np.arange(ngroups + 1)).astype(np.int64)
    return colors, ngroups, cols, gptr


def _normalised(pattern, fmt):
    import scipy.sparse as sp

    S = (sp.csc_matrix if fmt == "csc" else sp.csr_matrix)(pattern, dtype=bool)
    S.sum_duplicates()
    S.eliminate_zeros()
    S.sort_indices()
    return S


def _layout(S, ngroups, cols, gptr):
    """The :class:`Grouping` of pattern ``S`` (CSC) with colour groups ``cols``/``gptr``."""
    import scipy.sparse as sp

    m, n = S.shape
    # where each CSC nonzero lands in the CSR result
    positions = sp.csc_matrix((np.arange(S.nnz, dtype=np.int64), S.indices, S.indptr),
                              shape=S.shape).tocsr()
    positions.sort_indices()
    dest = np.empty(S.nnz, np.int64)
    dest[positions.data] = np.arange(S.nnz)
    data_cols = np.empty(S.nnz, np.int64)
    data_cols[dest] = np.repeat(np.arange(n), np.diff(S.indptr))
    return Grouping(shape=(m, n), ngroups=int(ngroups), order=cols, gptr=gptr,
                    colptr=S.indptr.astype(np.int64), rows=S.indices.astype(np.int64),
                    dest=dest, indptr=positions.indptr.copy(), indices=positions.indices.copy(),
                    data_rows=positions.indices.astype(np.int64), data_cols=data_cols)


def group_columns(pattern, order="largest_first"):
    """Colour groups of the columns of ``pattern`` (a scipy sparse (m, n) matrix).

    Returns
    -------
    Grouping
    """
    S = _normalised(pattern, "csc")
    A = (S.T @ S).tocsr()
    A.setdiag(False)
    A.eliminate_zeros()
    _, ngroups, cols, gptr = _colour("greedy_coloring", order, A)
    return _layout(S, ngroups, cols, gptr)


def group_symmetric(pattern, order="largest_first"):
    """Star colouring of the square ``pattern`` (made symmetric, diagonal added).

    Returns
    -------
    SymmetricGrouping
    """
    import scipy.sparse as sp

    P = _normalised(pattern, "csr")
    n = P.shape[0]
    S = _normalised(P + P.T + sp.identity(n, dtype=bool, format="csr"), "csr")
    A = S.copy()
    A.setdiag(False)
    A.eliminate_zeros()
    colors, ngroups, cols, gptr = _colour("star_coloring", order, A)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(S.indptr))
    nbrs = S.indices.astype(np.int64)
    # (i, j) is recoverable at row i when j is i's only neighbour (or i itself) in colour(j)
    key = rows * ngroups + colors[nbrs]
    recoverable = np.bincount(key, minlength=n * ngroups)[key] == 1
    # the grouped Jacobian of the gradient over the recoverable entries, and for each
    # entry (i, j) of S the positions of (i, j) and (j, i) in its CSR data
    slot = np.full(S.nnz, -1, np.int64)
    slot[recoverable] = np.arange(int(recoverable.sum()))
    sub = sp.csr_matrix((np.ones(int(recoverable.sum()), bool),
                         nbrs[recoverable], np.r_[0, np.cumsum(np.bincount(
                             rows[recoverable], minlength=n))]), shape=(n, n))
    gradient = _layout(_normalised(sub, "csc"), ngroups, cols, gptr)
    transpose = sp.csr_matrix((np.arange(S.nnz, dtype=np.int64), nbrs, S.indptr),
                              shape=(n, n)).T.tocsr()
    transpose.sort_indices()  # same pattern as S (symmetric): data[e] = index of (j, i)
    sources = np.stack([slot, slot[transpose.data]])
    # f alone: one pair per entry of the upper triangle, taken at a recoverable side
    upper = rows <= nbrs
    at_i = upper & recoverable
    pair_i = np.where(at_i, rows, nbrs)[upper]
    pair_j = np.where(at_i, nbrs, rows)[upper]
    pair_of_upper = np.full(S.nnz, -1, np.int64)
    pair_of_upper[upper] = np.arange(int(upper.sum()))
    pair_of = np.where(upper, pair_of_upper, pair_of_upper[transpose.data])
    return SymmetricGrouping(shape=(n, n), ngroups=ngroups, order=cols, gptr=gptr,
                             indptr=S.indptr.astype(np.int64), indices=nbrs,
                             gradient=gradient, sources=sources, pair_i=pair_i,
                             pair_b=colors[pair_j], pair_j=pair_j, pair_of=pair_of)
