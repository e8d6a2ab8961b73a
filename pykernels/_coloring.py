"""Column grouping for sparse Jacobians: pattern -> colour groups and CSR layout."""

from dataclasses import dataclass

import numpy as np

from . import kernels

ORDERS = ("largest_first", "smallest_last", "natural")


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


def vertex_order(adjacency, order):
    """Vertices of the column-intersection graph in the order the greedy pass visits."""
    n = adjacency.shape[0]
    if order == "natural":
        return np.arange(n, dtype=np.int64)
    if order == "largest_first":
        degree = np.diff(adjacency.indptr)
        return np.argsort(-degree, kind="stable").astype(np.int64)
    return kernels.coloring_smallest_last_order(adjacency.indptr.astype(np.int64),
                                                adjacency.indices.astype(np.int64))


def group_columns(pattern, order="largest_first"):
    """Colour groups of the columns of ``pattern`` (a scipy sparse (m, n) matrix).

    Returns
    -------
    Grouping
    """
    import scipy.sparse as sp

    S = sp.csc_matrix(pattern, dtype=bool)
    S.sum_duplicates()
    S.eliminate_zeros()
    S.sort_indices()
    m, n = S.shape
    A = (S.T @ S).tocsr()
    A.setdiag(False)
    A.eliminate_zeros()
    colors = np.empty(n, np.int64)
    ngroups = kernels.coloring_greedy(vertex_order(A, order), A.indptr.astype(np.int64),
                                      A.indices.astype(np.int64), colors)
    cols = np.argsort(colors, kind="stable").astype(np.int64)
    gptr = np.searchsorted(colors[cols], np.arange(ngroups + 1)).astype(np.int64)
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
