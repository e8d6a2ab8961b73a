"""Small matrix products by an AVX-512 register tile, emitted as LLVM IR for
:func:`._blas.gemm` (the Numba twin of csrc/gemm.c, in the same order).

A network's products are small and skinny (batch x 64 x 128, batch x 128 x 10, ...).
OpenBLAS runs them with its Haswell kernels here (what ``OPENBLAS_CORETYPE=Haswell``
selects on AVX-512 machines) at ~50-60 GFLOP/s, after packing and call overheads.  A
register tile of C -- 12 rows x 2 vectors, 24 accumulators fed by one broadcast of A
and two loads of B per step of the inner dimension -- runs at the machine's FMA rate.
op(B) = B^T is packed a column panel at a time (k x 2 vectors, on the stack) so that
the tile reads contiguous rows; the ragged last panel is read and written through
masks.  Each entry of C is a sum in the order of the inner index, one rounding per
fused multiply-add, then ``alpha * sum (+ beta * C)``: deterministic, independent of
the product's shape, and bit for bit the C backend's whenever both serve the product
by the tile (a Numba compiling for a CPU without AVX-512 -- ``NUMBA_CPU_NAME=generic``
-- takes BLAS while C may take the tile).

:func:`small_product` writes the loop once per LLVM module as an internal function (no
Numba front end to type it, nothing re-typed at each call site), for the intrinsic
``_blas._gemm`` to call -- only where the CPU Numba compiles for has AVX-512F
(:func:`host_has_avx512`); elsewhere every product goes to BLAS.  Numba's cache is keyed
on the CPU, so code for this host's vector width is what is cached.
"""

from contextlib import contextmanager

from llvmlite import ir
from numba.core import cgutils

#: Rows of C in one register tile (2 x 12 accumulators + 2 loads of B + a broadcast
#: of A fit AVX-512's 32 vector registers).
TILE_ROWS = 12
#: The loop serves products whose B (or B^T panel) stays in cache: inner dimension and
#: width bounded; deeper, wider or one-column products go to BLAS.
SMALL_K = 256
SMALL_N = 1024

_I1 = ir.IntType(1)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def host_has_avx512(context):
    """True when the code Numba compiles (for ``context``) may use AVX-512F."""
    # the target machine's features: the host's, or NUMBA_CPU_FEATURES ("" for
    # NUMBA_CPU_NAME=generic); a Numba without the attribute gets BLAS only
    features = getattr(context.codegen(), "_tm_features", "")
    return "+avx512f" in features.split(",")


class _LoopID(ir.values.MDValue):
    """A distinct, self-referential loop ID ``!N = distinct !{!N, options...}`` (llvmlite
    builds only uniqued metadata, which cannot name itself)."""

    def __init__(self, module, options):
        super().__init__(module, [module.add_metadata(list(o)) for o in options],
                         name=str(len(module.metadata)))

    def descr(self, buf):
        ops = ", ".join([self.get_reference()] + [o.get_reference() for o in self.operands])
        buf += (f"distinct !{{ {ops} }}", "\n")

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other


@contextmanager
def _loop(b, start, stop, step, unroll=True):
    """``for index in range(start, stop, step)`` (step > 0); yields index.  With
    unroll=False the loop carries ``llvm.loop.unroll.disable``: a tile's loop is
    already 24 independent FMAs wide, and LLVM's runtime unrolling only multiplies
    the code to compile."""
    cond, body, end = (b.append_basic_block(name) for name in ("loop.cond", "loop.body",
                                                                  "loop.end"))
    entry = b.block
    b.branch(cond)
    b.position_at_end(cond)
    index = b.phi(start.type, name="loop")
    b.cbranch(b.icmp_signed("<", index, stop), body, end)
    b.position_at_end(body)
    yield index
    index.add_incoming(start, entry)
    index.add_incoming(b.add(index, step), b.block)
    latch = b.branch(cond)
    if not unroll:
        latch.set_metadata("llvm.loop", _LoopID(b.module, [
            [ir.MetaDataString(b.module, "llvm.loop.unroll.disable")]]))
    b.position_at_end(end)


def _declare(module, name, ret, args):
    return cgutils.get_or_insert_function(module, ir.FunctionType(ret, args), name)


def small_product(module, real):
    """The module's function ``int gemm_small(trans_a, trans_b, m, n, k, alpha, A, lda,
    B, ldb, beta, C, ldc)`` for the float type ``real``, emitted at its first use: on
    row-major C (m, n), C <- alpha op(A) op(B) + beta C and 1 when the product is small,
    else 0 and nothing written (the caller calls BLAS); beta = 0 ignores C's contents."""
    return module.globals.get(_Emitter.name(real)) or _Emitter(module, real).emit()


class _Emitter:
    """Writes :func:`small_product`'s function for one float type into a module."""

    def __init__(self, module, real):
        self.real = real
        self.lanes = 8 if real == ir.DoubleType() else 16
        self.vec = ir.VectorType(real, self.lanes)
        self.mask = ir.VectorType(_I1, self.lanes)
        ptr, vptr = real.as_pointer(), self.vec.as_pointer()
        suffix = self.name(real).rsplit(".", 1)[1]
        self.fma = _declare(module, f"llvm.fma.{suffix}", self.vec, [self.vec] * 3)
        self.load = _declare(module, f"llvm.masked.load.{suffix}.p0", self.vec,
                             [vptr, _I32, self.mask, self.vec])
        self.store = _declare(module, f"llvm.masked.store.{suffix}.p0", ir.VoidType(),
                              [self.vec, vptr, _I32, self.mask])
        self.fn = ir.Function(module, ir.FunctionType(_I32, [
            _I64, _I64, _I64, _I64, _I64, real, ptr, _I64, ptr, _I64, real, ptr, _I64]),
            name=self.name(real))
        self.fn.linkage = "internal"
        self.fn.attributes.add("noinline")  # one copy per module, however many products

    @staticmethod
    def name(real):
        """The function's name in a module (one per float type)."""
        return f"pykernels.gemm_small.{'v8f64' if real == ir.DoubleType() else 'v16f32'}"

    # -- small helpers on the builder -------------------------------------------------
    def const(self, value):
        return ir.Constant(_I64, value)

    def vload(self, b, ptr, mask, passthru=None):
        """The lanes of mask from ptr, the others passthru's (zero by default)."""
        return b.call(self.load, (b.bitcast(ptr, self.vec.as_pointer()), _I32(1), mask,
                                  passthru or ir.Constant(self.vec, None)))

    def vstore(self, b, value, ptr, mask):
        b.call(self.store, (value, b.bitcast(ptr, self.vec.as_pointer()), _I32(1), mask))

    def splat(self, b, scalar):
        one = b.insert_element(ir.Constant(self.vec, ir.Undefined), scalar, _I32(0))
        return b.shuffle_vector(one, ir.Constant(self.vec, ir.Undefined),
                                ir.Constant(ir.VectorType(_I32, self.lanes), [0] * self.lanes))

    def lane_mask(self, b, first, width):
        """Lanes first, ..., first + lanes - 1 that are < width."""
        lanes = ir.Constant(ir.VectorType(_I64, self.lanes),
                            list(range(first, first + self.lanes)))
        wide = b.insert_element(ir.Constant(ir.VectorType(_I64, self.lanes), ir.Undefined),
                                width, _I32(0))
        wide = b.shuffle_vector(wide, ir.Constant(ir.VectorType(_I64, self.lanes), ir.Undefined),
                                ir.Constant(ir.VectorType(_I32, self.lanes), [0] * self.lanes))
        return b.icmp_unsigned("<", lanes, wide)

    @staticmethod
    def smin(b, x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    # -- the product ---------------------------------------------------------------------
    def emit(self):
        """The function's body (see the module's docstring); returns the function."""
        ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc = self.fn.args
        b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        width = 2 * self.lanes
        # k rows rounded up to whole vectors (the packing writes L x L blocks)
        panel = b.alloca(ir.ArrayType(self.real, (SMALL_K + self.lanes) * width), name="panel")
        panel = b.bitcast(panel, self.real.as_pointer())
        acc = [b.alloca(self.vec, name=f"acc{i}") for i in range(2 * TILE_ROWS)]
        not_small = b.or_(b.or_(b.icmp_signed(">", k, self.const(SMALL_K)),
                                b.icmp_signed(">", n, self.const(SMALL_N))),
                          b.or_(b.icmp_signed("<", k, self.const(1)),
                                b.icmp_signed("<", b.mul(n, self.const(2)),
                                              self.const(self.lanes))))
        with b.if_then(not_small, likely=False):
            b.ret(_I32(0))
        trans_a = b.icmp_signed("!=", ta, self.const(0))
        a_rs = b.select(trans_a, self.const(1), lda)
        a_cs = b.select(trans_a, lda, self.const(1))
        with _loop(b, self.const(0), n, self.const(width)) as j:
            w = self.smin(b, b.sub(n, j), self.const(width))
            masks = self.lane_mask(b, 0, w), self.lane_mask(b, self.lanes, w)
            direct_b = b.gep(B, [j])
            with b.if_else(b.icmp_signed("!=", tb, self.const(0))) as (packed, direct):
                with packed:
                    self.emit_pack(b, n, k, B, ldb, j, panel)
                    bb_packed = b.block
                with direct:
                    bb_direct = b.block
            panel_b = b.phi(self.real.as_pointer())
            panel_b.add_incoming(panel, bb_packed)
            panel_b.add_incoming(direct_b, bb_direct)
            ld_b = b.phi(_I64)
            ld_b.add_incoming(self.const(width), bb_packed)
            ld_b.add_incoming(ldb, bb_direct)
            self.emit_panel(b, m, k, alpha, A, a_rs, a_cs, panel_b, ld_b, beta,
                            b.gep(C, [j]), ldc, masks, acc)
        b.ret(_I32(1))
        return self.fn

    def emit_pack(self, b, n, k, B, ldb, j, panel):
        """panel[p, jj] = B[j + jj, p] for p < k, jj < 2 lanes (rows of B past n read
        again as row n - 1: the tile loads mask those columns out) -- by lanes x lanes
        blocks transposed in registers (a scalar copy is vectorised into scatters)."""
        L = self.lanes
        width = self.const(2 * L)
        last = b.sub(n, self.const(1))
        for half in range(2):
            rows = [b.gep(B, [b.mul(self.smin(b, b.add(j, self.const(half * L + q)), last), ldb)])
                    for q in range(L)]
            with _loop(b, self.const(0), k, self.const(L), unroll=False) as p0:
                mask = self.lane_mask(b, 0, b.sub(k, p0))
                block = [self.vload(b, b.gep(row, [p0]), mask) for row in rows]
                for bit in (1 << e for e in range(L.bit_length() - 1)):
                    block = self.exchange(b, block, bit)
                for lane, vector in enumerate(block):
                    at = b.add(b.mul(b.add(p0, self.const(lane)), width), self.const(half * L))
                    b.store(vector, b.bitcast(b.gep(panel, [at]), self.vec.as_pointer()), align=1)

    def exchange(self, b, block, bit):
        """One butterfly of a register transpose: element (row i, lane l) trades places
        with (i ^ bit, l ^ bit) where bit is set in exactly one of i and l.  After every
        bit of the lane index, block[i][l] is the input's block[l][i]."""
        L = self.lanes
        out = list(block)
        for i in range(L):
            if i & bit:
                continue
            low, high = block[i], block[i | bit]
            # low keeps its lanes without the bit, takes high's lanes l ^ bit for the rest
            out[i] = b.shuffle_vector(low, high, ir.Constant(ir.VectorType(_I32, L), [
                l if not l & bit else L + (l ^ bit) for l in range(L)]))
            out[i | bit] = b.shuffle_vector(low, high, ir.Constant(ir.VectorType(_I32, L), [
                l ^ bit if not l & bit else L + l for l in range(L)]))
        return out

    def emit_panel(self, b, m, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc, masks, acc):
        """C[:, panel] <- alpha op(A) B (+ beta C) by tiles of TILE_ROWS rows; the last
        tile reads its last row again in place of the rows past m and stores only its
        own rows."""
        rows_step = self.const(TILE_ROWS)
        zero = ir.Constant(self.vec, None)
        with _loop(b, self.const(0), m, rows_step) as i:
            rows = self.smin(b, b.sub(m, i), rows_step)
            last = b.sub(rows, self.const(1))
            a_rows = [b.gep(A, [b.mul(b.add(i, self.smin(b, self.const(r), last)), a_rs)])
                      for r in range(TILE_ROWS)]
            for slot in acc:
                b.store(zero, slot)
            with _loop(b, self.const(0), k, self.const(1), unroll=False) as p:
                b_row = b.gep(B, [b.mul(p, ldb)])
                b0 = self.vload(b, b_row, masks[0])
                b1 = self.vload(b, b.gep(b_row, [self.const(self.lanes)]), masks[1])
                a_off = b.mul(p, a_cs)
                for r in range(TILE_ROWS):
                    ar = self.splat(b, b.load(b.gep(a_rows[r], [a_off])))
                    for h, bh in enumerate((b0, b1)):
                        slot = acc[2 * r + h]
                        b.store(b.call(self.fma, (ar, bh, b.load(slot))), slot)
            self.emit_store(b, i, rows, alpha, beta, C, ldc, masks, acc)

    def emit_store(self, b, i, rows, alpha, beta, C, ldc, masks, acc):
        """C[i + r, panel] <- alpha acc_r + beta C[i + r, panel] for the tile's rows
        r < rows.  With beta = 0, C is not read: the masked load gives -0, and
        x + 0 (-0) = x for every x, -0 and NaN included."""
        valpha, vbeta = self.splat(b, alpha), self.splat(b, beta)
        read_c = b.fcmp_unordered("!=", beta, ir.Constant(self.real, 0.0))
        read_c = b.shuffle_vector(  # a splat of the flag
            b.insert_element(ir.Constant(self.mask, ir.Undefined), read_c, _I32(0)),
            ir.Constant(self.mask, ir.Undefined),
            ir.Constant(ir.VectorType(_I32, self.lanes), [0] * self.lanes))
        minus_zero = ir.Constant(self.vec, [-0.0] * self.lanes)
        for r in range(TILE_ROWS):
            with b.if_then(b.icmp_signed("<", self.const(r), rows)):
                c_row = b.gep(C, [b.mul(b.add(i, self.const(r)), ldc)])
                for h in range(2):
                    c = b.gep(c_row, [self.const(h * self.lanes)])
                    old = self.vload(b, c, b.and_(masks[h], read_c), minus_zero)
                    value = b.fadd(b.fmul(valpha, b.load(acc[2 * r + h])), b.fmul(vbeta, old))
                    self.vstore(b, value, c, masks[h])
