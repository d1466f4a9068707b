"""FDS per-bin feature statistics (``dirfast.fds_bin_stats``, ``dirfast.BinStats``): CPU paths (C++
kernel ``"cpu"``, vectorised PyTorch ``"cpu_torch"``) and the reference against an fp64 oracle,
numerics at mean/std = 1e4, merge algebra, determinism, errors, torch.compile.

Tolerances (conventions.md): fp64 1e-10 relative; fp32 1e-5. fp16/bf16 features are read exactly and
accumulated in fp32, so their statistics are held to the fp32 tolerance against the fp64 statistics of
the same (rounded) values — stricter than the 2× rule.
"""

from __future__ import annotations

import sys

import pytest
import torch

import dirfast
from dirfast import BinStats, _ext, fds_bin_stats
from dirfast.ops.fds_stats import _to_dtype_keep_layout, fds_bin_stats_op
from dirfast.reference import fds_bin_stats_ref
from dirfast.testing import assert_close_verbose

from _fds_layouts import layouts
from _paths import CPU_PATHS, require_ext

def stats(path, x, b, num_bins, monkeypatch=None, **kw):
    """Run one CPU path through the public function: ``cpu_torch`` = ``auto`` with the extension
    hidden (what users without the build get)."""
    if path == "cpu":
        require_ext()
        return fds_bin_stats(x, b, num_bins, backend="cpu", **kw)
    if path == "cpu_torch":
        saved = sys.modules.get("dirfast._C")
        sys.modules["dirfast._C"] = None
        try:
            assert dirfast.resolve_backend("auto", x.device, op="t") == "cpu_torch"
            return fds_bin_stats(x, b, num_bins, backend="auto", **kw)
        finally:
            if saved is None:
                sys.modules.pop("dirfast._C", None)
            else:
                sys.modules["dirfast._C"] = saved
    return fds_bin_stats(x, b, num_bins, backend=path, **kw)


def make(n, d, num_bins, dtype=torch.float32, *, seed=0, offset=5.0, scale=3.0, neg=False):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale + offset).to(dtype)
    lo = -2 if neg else 0
    b = torch.randint(lo, num_bins, (n,), generator=g)
    return x, b


def check(got: BinStats, x, b, num_bins, *, tag, rtol=None):
    c, m, q = fds_bin_stats_ref(x.double(), b, num_bins)  # fp64 oracle of the same values
    assert got.count.dtype == torch.int64 and torch.equal(got.count, c), f"[{tag}] counts"
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    assert got.mean.dtype == acc and got.m2.dtype == acc, f"[{tag}] dtypes {got.mean.dtype}"
    rtol = rtol if rtol is not None else (1e-10 if acc == torch.float64 else 1e-5)
    top_m = m.abs().max().item() if m.numel() else 0.0
    top_q = q.abs().max().item() if q.numel() else 0.0
    # a bin mean near 0 is the difference of large terms: its error is judged against the scale of
    # the means (atol = rtol/10 · max|mean|), every other value relatively
    assert_close_verbose(got.mean, m, tag=f"{tag} mean", rtol=rtol, atol=rtol * 0.1 * top_m)
    assert_close_verbose(got.m2, q, tag=f"{tag} m2", rtol=rtol, atol=rtol * 1e-3 * top_q)


# ------------------------------------------------------------------------------------------ values


# the fp32 reference (a plain two-pass in fp32) is not held to the fp64 oracle: only fp64 for it
PATH_DTYPES = [(p, dt) for p in CPU_PATHS for dt in (torch.float64, torch.float32)] + [
    ("reference", torch.float64)]


@pytest.mark.parametrize("path,dtype", PATH_DTYPES)
@pytest.mark.parametrize("n,d", [(1, 1), (1, 7), (7, 64), (1000, 1), (1003, 7), (5003, 64), (300, 2048)])
def test_matches_reference(path, dtype, n, d):
    x, b = make(n, d, 97, dtype, neg=True)
    check(stats(path, x, b, 97), x, b, 97, tag=f"{path} {dtype} {n}x{d}")


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs(path, dtype):
    x, b = make(2049, 33, 10, dtype)
    got = stats(path, x, b, 10)
    assert got.mean.dtype == torch.float32
    check(got, x, b, 10, tag=f"{path} {dtype}", rtol=1e-5)


@pytest.mark.parametrize("path", CPU_PATHS)
def test_empty_bins_one_bin_and_ignored_rows(path):
    x, _ = make(777, 9, 1)
    one = torch.full((777,), 3)  # every row in bin 3 of 8: bins 0-2, 4-7 empty
    s = stats(path, x, one, 8)
    check(s, x, one, 8, tag=f"{path} one bin")
    empty = torch.ones(8, dtype=torch.bool)
    empty[3] = False
    assert (s.count[empty] == 0).all() and (s.mean[empty] == 0).all() and (s.m2[empty] == 0).all()
    assert_close_verbose(s.var[3], x.double().var(0), tag="one-bin var", rtol=1e-5)
    # negative ids are ignored: same statistics as without those rows
    b = torch.arange(777) % 5 - 1  # -1, 0, 1, 2, 3, ...
    keep = b >= 0
    s_neg = stats(path, x, b, 4)
    s_kept = stats(path, x[keep], b[keep], 4)
    assert torch.equal(s_neg.count, s_kept.count)
    assert_close_verbose(s_neg.mean, s_kept.mean, tag="negative ids mean", rtol=1e-6)
    assert_close_verbose(s_neg.m2, s_kept.m2, tag="negative ids m2", rtol=1e-5)
    # all rows ignored
    s_none = stats(path, x, torch.full((777,), -1), 4)
    assert (s_none.count == 0).all() and (s_none.mean == 0).all() and (s_none.m2 == 0).all()


@pytest.mark.parametrize("path", CPU_PATHS)
def test_ids_past_the_end_ignored_without_validation(path):
    x, b = make(500, 5, 6)
    b2 = b.clone()
    b2[::7] = 6 + torch.arange(b2[::7].numel()) % 3  # 6, 7, 8: out of range
    s = stats(path, x, b2, 6, validate=False)
    keep = b2 < 6
    check(s, x[keep], b2[keep], 6, tag=f"{path} past-the-end")
    with pytest.raises(ValueError, match="bin_idx must be < num_bins"):
        stats(path, x, b2, 6, validate=True)


@pytest.mark.parametrize("path", CPU_PATHS)
def test_empty_batch_and_int32_ids_and_strides(path):
    s = stats(path, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), 3)
    assert s.count.tolist() == [0, 0, 0] and s.mean.shape == (3, 4) and (s.m2 == 0).all()
    x, b = make(301, 40, 7)
    wide = torch.randn(301, 64)
    wide[:, 5:45] = x
    view = wide[:, 5:45]  # row stride 64
    check(stats(path, view, b.to(torch.int32), 7), x, b, 7, tag=f"{path} strided int32")
    xt = x.t().contiguous().t()  # column stride != 1
    check(stats(path, xt, b, 7), x, b, 7, tag=f"{path} transposed")


def check_layout(got: BinStats, v, b, num_bins, *, tag):
    """``got`` against the fp64 oracle of ``v.contiguous()``. Constant bins (expanded rows) have
    m2 = 0, where the oracle's own rounding (~n·eps²·|x|²) is all there is: m2 gets an absolute floor
    ``rtol·1e-6·n·max|x|²`` besides the relative test."""
    x = v.contiguous()
    c, m, q = fds_bin_stats_ref(x.double(), b, num_bins)
    assert torch.equal(got.count, c), f"[{tag}] counts"
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    assert got.mean.dtype == acc and got.m2.dtype == acc and got.mean.is_contiguous(), tag
    rtol = 1e-10 if acc == torch.float64 else 1e-5
    top_m = m.abs().max().item()
    floor = rtol * 1e-6 * x.shape[0] * x.double().abs().max().item() ** 2
    assert_close_verbose(got.mean, m, tag=f"{tag} mean", rtol=rtol, atol=rtol * 0.1 * top_m)
    assert_close_verbose(got.m2, q, tag=f"{tag} m2", rtol=rtol,
                         atol=max(rtol * 1e-3 * q.abs().max().item(), floor))


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
@pytest.mark.parametrize("n,d", [(1, 1), (7, 1), (9, 5), (300, 40)])
def test_every_layout(path, n, d):
    """Expanded, unfolded (overlapping rows), transposed, sliced, stride-0 rows and columns: the
    statistics of the view equal those of its contiguous copy (fp64 oracle), on every CPU path."""
    g = torch.Generator().manual_seed(n + d)
    b = torch.randint(-1, 4, (n,), generator=g)
    for dtype in (torch.float32, torch.float64, torch.float16):
        for name, v, _ in layouts(n, d, dtype):
            check_layout(stats(path, v, b, 4), v, b, 4, tag=f"{path} {dtype} {name} {n}x{d}")


@pytest.mark.parametrize("path", CPU_PATHS + ["reference", None])
def test_expanded_rows_issue_example(path):
    """The issue's example: one row expanded to 3 rows, one bin -> that row, m2 exactly 0 (was
    ``[[0.5, -0.667]]`` on "cpu" / the default backend: reads past the 2-element storage)."""
    x = torch.tensor([[1.5, -2.0]]).expand(3, 2)
    for _ in range(3):  # the out-of-bounds read varied between runs
        if path is None:
            s = fds_bin_stats(x, torch.zeros(3, dtype=torch.long), 1)
        else:
            s = stats(path, x, torch.zeros(3, dtype=torch.long), 1)
        assert s.count.tolist() == [3]
        assert s.mean.tolist() == [[1.5, -2.0]] and s.m2.tolist() == [[0.0, 0.0]], (path, s)


@pytest.mark.parametrize("path", ["cpu", None])
def test_expanded_rows_large_no_copy(path):
    """``ones(1, 64).expand(2_000_000, 64)`` with one bin segfaulted; the C++ kernel now reads the
    one stored row 2M times (no [N, D] copy)."""
    if path == "cpu" or (path is None and _ext.available()):
        require_ext()
    x = torch.ones(1, 64).expand(2_000_000, 64)
    s = fds_bin_stats(x, torch.zeros(2_000_000, dtype=torch.long), 1, backend=path, validate=False)
    assert s.count.tolist() == [2_000_000]
    assert (s.mean == 1).all() and (s.m2 == 0).all()
    # fp16: the fp32 conversion converts the 64 stored elements, keeping the strides
    x16 = torch.full((1, 64), 0.5, dtype=torch.float16).expand(2_000_000, 64)
    conv = _to_dtype_keep_layout(x16, torch.float32)
    assert conv.stride() == (0, 1) and conv.untyped_storage().nbytes() == 64 * 4
    s = fds_bin_stats(x16, torch.zeros(2_000_000, dtype=torch.long), 1, backend=path, validate=False)
    assert (s.mean == 0.5).all() and (s.m2 == 0).all()


@pytest.mark.parametrize("path", CPU_PATHS)
def test_agedb_skewed_bins(path):
    ages = dirfast.data.agedb_dir_ages()["train"][:6000]
    b = ages.long().clamp(3, 99) - 3  # FDS bins 3..99 -> 97 rows
    x, _ = make(ages.numel(), 16, 1, seed=3)
    check(stats(path, x, b, 97), x, b, 97, tag=f"{path} agedb")


# ------------------------------------------------------------------------------------------ numerics


@pytest.mark.parametrize("path", CPU_PATHS)
def test_large_mean_small_std_fp32(path):
    """mean/std = 1e4 in fp32: variance relative error <= 1e-5 against fp64 statistics of the same
    fp32 values (sum/sum-of-squares would lose everything here)."""
    g = torch.Generator().manual_seed(7)
    n, d = 12208, 32
    x = (1e4 + torch.randn(n, d, generator=g, dtype=torch.float64)).float()
    b = torch.randint(0, 3, (n,), generator=g)
    b[: n // 2] = 1  # one large bin (many chunks) + two smaller ones
    s = stats(path, x, b, 3)
    c, m, q = fds_bin_stats_ref(x.double(), b, 3)
    var_ref = q / (c - 1).double()[:, None]
    rel = ((s.var.double() - var_ref).abs() / var_ref).max().item()
    assert rel <= 1e-5, f"{path}: variance relative error {rel:.3g} > 1e-5 at mean/std = 1e4"
    assert_close_verbose(s.mean, m, tag=f"{path} mean at 1e4", rtol=1e-6)


def test_var_semantics():
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 7.0], [4.0, 4.0]], dtype=torch.float64)
    b = torch.tensor([0, 0, 0, 2])
    s = fds_bin_stats(x, b, 3)
    assert torch.allclose(s.var[0], x[:3].var(0, unbiased=True))  # ddof = 1
    assert (s.var[1] == 0).all() and (s.var[2] == 0).all()  # empty bin, singleton (ddof = 0)
    assert torch.equal(s.mean[2], x[3]) and s.count.tolist() == [3, 0, 1]


# ------------------------------------------------------------------------------------------ merge


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_merge_equals_stats_of_union(dtype):
    x, b = make(3001, 24, 13, dtype, neg=True)
    b[:400] = 4  # a bin spanning all three batches
    parts = [(x[:1000], b[:1000]), (x[1000:1001], b[1000:1001]), (x[1001:], b[1001:])]
    s = [fds_bin_stats(xi, bi, 13) for xi, bi in parts]
    whole = fds_bin_stats(x, b, 13)
    left = s[0].merge(s[1]).merge(s[2])
    right = s[0].merge(s[1].merge(s[2]))
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for name, got in (("left", left), ("right", right)):
        assert torch.equal(got.count, whole.count)
        assert got.mean.dtype == whole.mean.dtype
        assert_close_verbose(got.mean, whole.mean, tag=f"merge {name} mean", rtol=tol, atol=1e-6 * tol)
        assert_close_verbose(got.m2, whole.m2, tag=f"merge {name} m2", rtol=tol, atol=1e-6 * tol)


def test_merge_with_empty_is_exact():
    x, b = make(500, 6, 5)
    s = fds_bin_stats(x, b, 5)
    e = BinStats.empty(5, 6)
    for got in (s.merge(e), e.merge(s)):
        assert torch.equal(got.count, s.count) and torch.equal(got.mean, s.mean) and torch.equal(got.m2, s.m2)
    partial = fds_bin_stats(x[:10], b[:10].clamp(max=1), 5)  # bins 2-4 empty on this side
    got = s.merge(partial)
    for k in (2, 3, 4):
        assert torch.equal(got.mean[k], s.mean[k]) and torch.equal(got.m2[k], s.m2[k])
    e64 = BinStats.empty(3, 2, dtype=torch.float64)
    assert e64.mean.dtype == torch.float64 and e64.count.dtype == torch.int64 and (e64.var == 0).all()
    with pytest.raises(ValueError, match="shapes differ"):
        s.merge(BinStats.empty(4, 6))
    with pytest.raises(TypeError, match="dtypes differ"):
        s.merge(BinStats.empty(5, 6, dtype=torch.float64))


# ------------------------------------------------------------------------------------------ determinism


@pytest.mark.parametrize("path", CPU_PATHS)
def test_deterministic(path):
    x, b = make(20_000, 40, 97, neg=True)
    b[5000:15000] = 10
    s1, s2 = stats(path, x, b, 97), stats(path, x, b, 97)
    assert torch.equal(s1.mean, s2.mean) and torch.equal(s1.m2, s2.m2) and torch.equal(s1.count, s2.count)


def test_cpu_kernel_independent_of_thread_count():
    require_ext()
    C = _ext.get()
    x, b = make(9000, 64, 20)
    b[:6000] = 2
    before = C.num_threads()
    try:
        C.set_num_threads(1)
        s1 = fds_bin_stats(x, b, 20, backend="cpu")
        C.set_num_threads(2)
        s2 = fds_bin_stats(x, b, 20, backend="cpu")
    finally:
        C.set_num_threads(before)
    assert torch.equal(s1.mean, s2.mean) and torch.equal(s1.m2, s2.m2)


# ------------------------------------------------------------------------------------------ API


def test_requires_grad_features_no_gradient():
    x, b = make(64, 8, 4)
    x.requires_grad_(True)
    for path in CPU_PATHS + ["reference"]:
        s = stats(path, x, b, 4)
        assert not s.mean.requires_grad and not s.m2.requires_grad and s.mean.grad_fn is None


def test_bad_inputs():
    x, b = make(10, 3, 4)
    with pytest.raises(ValueError, match=r"features must have shape \[N, D\]"):
        fds_bin_stats(x[:, 0], b, 4)
    with pytest.raises(ValueError, match="flatten the leading dimensions"):
        fds_bin_stats(x.reshape(10, 3, 1), b, 4)
    with pytest.raises(ValueError, match="D >= 1"):
        fds_bin_stats(x[:, :0], b, 4)
    with pytest.raises(TypeError, match="features must be a floating tensor"):
        fds_bin_stats(x.long(), b, 4)
    with pytest.raises(TypeError, match="bin_idx must be an int64 or int32"):
        fds_bin_stats(x, b.float(), 4)
    with pytest.raises(ValueError, match=r"bin_idx must have shape \[N\]"):
        fds_bin_stats(x, b[:5], 4)
    with pytest.raises(ValueError, match="num_bins must be >= 1"):
        fds_bin_stats(x, b, 0)
    with pytest.raises(TypeError, match="num_bins must be an int"):
        fds_bin_stats(x, b, 4.0)
    with pytest.raises(TypeError, match="features must be a torch.Tensor"):
        fds_bin_stats(x.numpy(), b, 4)
    with pytest.raises(ValueError, match="backend must be one of"):
        fds_bin_stats(x, b, 4, backend="gpu")
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fds_bin_stats(bad, b, 4, validate=True)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        fds_bin_stats(x, b, 4, backend="triton")


def test_raw_extension_rejects_bad_arguments():
    require_ext()
    C = _ext.get()
    out = torch.zeros(3, 4)
    cnt = torch.zeros(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="dtype"):
        C.fds_bin_stats("float16", 0, 4, 0, 0, 4, 3, cnt.data_ptr(), out.data_ptr(), out.data_ptr())
    with pytest.raises(ValueError, match="stride must be >= 0"):  # any row stride >= 0 is taken
        C.fds_bin_stats("float32", 0, -1, 0, 0, 4, 3, cnt.data_ptr(), out.data_ptr(), out.data_ptr())
    with pytest.raises(ValueError, match="null pointer x"):
        C.fds_bin_stats("float32", 0, 4, 8, 5, 4, 3, cnt.data_ptr(), out.data_ptr(), out.data_ptr())


def test_opcheck_and_fullgraph_compile():
    x, b = make(200, 16, 9)
    for path in (["cpu"] if _ext.available() else []) + ["cpu_torch"]:
        torch.library.opcheck(fds_bin_stats_op, (x, b, 9, path),
                              test_utils=("test_schema", "test_faketensor"))
    torch._dynamo.reset()

    def f(x, b):
        s = fds_bin_stats(x, b, 9, validate=False)
        return s.count, s.mean, s.var

    got = torch.compile(f, fullgraph=True, backend="aot_eager")(x.requires_grad_(True), b)
    want = f(x, b)
    for g_, w_ in zip(got, want):
        assert torch.equal(g_, w_)


# ------------------------------------------------------------------------------------------------
# the CUDA boundary (fake CUDA tensors, no GPU): the same errors as on CPU, devices named

_BAD_STATS = {
    "features 1-D": lambda T: fds_bin_stats(T(6), T(6, dtype=torch.int64), 3),
    "features 3-D": lambda T: fds_bin_stats(T(6, 2, 2), T(6, dtype=torch.int64), 3),
    "D = 0": lambda T: fds_bin_stats(T(6, 0), T(6, dtype=torch.int64), 3),
    "features int": lambda T: fds_bin_stats(T(6, 2, dtype=torch.int32), T(6, dtype=torch.int64), 3),
    "bin_idx float": lambda T: fds_bin_stats(T(6, 2), T(6), 3),
    "bin_idx length": lambda T: fds_bin_stats(T(6, 2), T(5, dtype=torch.int64), 3),
    "num_bins 0": lambda T: fds_bin_stats(T(6, 2), T(6, dtype=torch.int64), 0),
    "num_bins float": lambda T: fds_bin_stats(T(6, 2), T(6, dtype=torch.int64), 3.0),
    "backend": lambda T: fds_bin_stats(T(6, 2), T(6, dtype=torch.int64), 3, backend="gpu"),
}


@pytest.mark.parametrize("case", sorted(_BAD_STATS))
def test_cuda_boundary_same_errors_as_cpu(monkeypatch, case):
    from _launch_stubs import same_error_on_cuda

    same_error_on_cuda(monkeypatch, _BAD_STATS[case])


@pytest.mark.parametrize("other", ["cuda:0", "cpu"])
def test_cuda_device_mismatch_names_both_devices(monkeypatch, other):
    from _launch_stubs import device_mismatch_error

    msg = device_mismatch_error(
        monkeypatch, lambda T: fds_bin_stats(T(6, 2), T(6, dtype=torch.int64, device=other), 3))
    assert "features on cuda:1" in msg and f"bin_idx on {other}" in msg, msg


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_nan_without_validation_stays_in_its_bin_and_column(path):
    """The documented rule with validation off: NaN/inf poison only their own (bin, column)."""
    x, b = make(60, 4, 3)
    i0, i1 = int((b == 0).nonzero()[0]), int((b == 1).nonzero()[0])
    x[i0, 0] = float("nan")
    x[i1, 2] = float("inf")
    s = stats(path, x, b, 3, validate=False)
    bad = torch.zeros(3, 4, dtype=torch.bool)
    bad[0, 0] = bad[1, 2] = True
    assert torch.isnan(s.m2[bad]).all() and torch.isfinite(s.m2[~bad]).all()
    assert not torch.isfinite(s.mean[bad]).any() and torch.isfinite(s.mean[~bad]).all()
    assert torch.equal(s.count, torch.bincount(b, minlength=3))


# ------------------------------------------------------------------------------------------------
# the FDS module's accumulation op (dirfast::fds_accumulate): reference shift, calibration in
# registers, fp64 Chan merge into the partials in place


def _acc_case(n, d, K2, dtype, *, seed=0, mean=1e3, cal=False):
    g = torch.Generator().manual_seed(seed)
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    x = (torch.randn(n, d, generator=g, dtype=torch.float64) * 2 + mean).to(dtype)
    keys = torch.randint(0, K2, (n,), generator=g)
    Kc = K2 - 2
    run = ((torch.randn(Kc, d, generator=g) + mean).to(acc), torch.randint(0, 2, (Kc,), generator=g))
    pc = torch.randint(0, 3, (K2,), generator=g)
    pm = torch.where((pc > 0)[:, None], torch.randn(K2, d, generator=g, dtype=torch.float64) + mean, 0.0)
    pq = torch.where((pc > 0)[:, None], torch.rand(K2, d, generator=g, dtype=torch.float64) * 10, 0.0)
    tables = (None, None, None)
    if cal:
        tables = (torch.randint(-1, Kc + 1, (n,), generator=g), (torch.rand(Kc, d, generator=g) + .5).to(acc),
                  torch.randn(Kc, d, generator=g).to(acc))
    return x, keys, tables, run, (pc, pm, pq)


def _acc_oracle(x, keys, tables, run, parts):
    """fp64 statistics of the (calibrated) rows merged into the fp64 partials."""
    cal, scale, shift = tables
    xd = x.double()
    if cal is not None:
        ok = (cal >= 0) & (cal < scale.shape[0])
        k = cal.clamp(0, scale.shape[0] - 1)
        xd = torch.where(ok[:, None], (x.to(scale.dtype) * scale[k] + shift[k]).double(), xd)
    c, m, q = fds_bin_stats_ref(xd, keys, parts[0].shape[0])
    new = BinStats(*parts).merge(BinStats(c, m, q))
    return new.count, new.mean, new.m2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cal", [False, True])
@pytest.mark.parametrize("n,d,K2", [(700, 40, 9), (1, 3, 4), (300, 1, 12)])
def test_accumulate_op_matches_oracle(dtype, cal, n, d, K2):
    from dirfast.ops.fds_stats import fds_accumulate_paths

    require_ext()
    x, keys, tables, run, parts = _acc_case(n, d, K2, dtype, cal=cal)
    want = _acc_oracle(x, keys, tables, run, parts)
    paths = ["cpu"] + ([] if cal else ["reference", "cpu_torch"])
    for path in paths:
        got = tuple(t.clone() for t in parts)
        fds_accumulate_paths(x, keys, *tables, *run, *got, path)
        assert torch.equal(got[0], want[0]), path
        rtol = 1e-10 if dtype == torch.float64 else 1e-6
        assert_close_verbose(got[1], want[1], tag=f"{path} mean", rtol=rtol, atol=rtol * 1e-3)
        assert_close_verbose(got[2], want[2], tag=f"{path} m2", rtol=1e-10 if dtype == torch.float64 else 1e-5,
                             atol=1e-5 * want[2].abs().max().item())


def test_accumulate_op_fused_calibration_is_bitwise_the_unfused():
    """The C++ calibration in registers is fds_calibrate's arithmetic: accumulating x with ids
    equals accumulating fds_calibrate(x) bit for bit."""
    from dirfast.ops.fds_stats import fds_accumulate_paths

    require_ext()
    x, keys, tables, run, parts = _acc_case(900, 33, 10, torch.float32, cal=True)
    a = tuple(t.clone() for t in parts)
    fds_accumulate_paths(x, keys, *tables, *run, *a, "cpu")
    xc = dirfast.fds_calibrate(x, tables[0], tables[1], tables[2], backend="cpu", validate=False)
    b = tuple(t.clone() for t in parts)
    fds_accumulate_paths(xc, keys, None, None, None, *run, *b, "cpu")
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_accumulate_op_bins_without_rows_untouched_and_inputs_unchanged():
    from dirfast.ops.fds_stats import fds_accumulate_paths

    require_ext()
    x, keys, tables, run, parts = _acc_case(200, 16, 8, torch.float32, cal=True)
    keys = keys.clamp(max=5)  # bins 6, 7 get no rows
    before = [t.clone() for t in (x, keys, *tables, *run)]
    for path in ("cpu", "reference"):
        got = tuple(t.clone() for t in parts)
        tb = tables if path == "cpu" else (None, None, None)
        fds_accumulate_paths(x, keys, *tb, *run, *got, path)
        for i in (6, 7):
            assert got[0][i] == parts[0][i] and torch.equal(got[1][i], parts[1][i])
            assert torch.equal(got[2][i], parts[2][i])
    for t, u in zip(before, (x, keys, *tables, *run)):
        assert torch.equal(t, u)


@pytest.mark.parametrize("calls", [1, 20])
def test_accumulate_op_large_mean_fp32(calls):
    """mean 1e4, std 1, fp32 features, many calls: the variance from the fp64 partials stays at
    ~1e-7 relative (documented accuracy)."""
    from dirfast.ops.fds_stats import fds_accumulate_paths

    require_ext()
    g = torch.Generator().manual_seed(5)
    K2, d = 5, 16
    parts = (torch.zeros(K2, dtype=torch.int64), torch.zeros(K2, d, dtype=torch.float64),
             torch.zeros(K2, d, dtype=torch.float64))
    run = (torch.zeros(K2, d), torch.zeros(K2, dtype=torch.int64))
    xs, ks = [], []
    for _ in range(calls):
        x = (1e4 + torch.randn(97, d, generator=g, dtype=torch.float64)).float()
        k = torch.randint(0, K2, (97,), generator=g)
        fds_accumulate_paths(x, k, None, None, None, *run, *parts, "cpu")
        xs.append(x)
        ks.append(k)
    x, k = torch.cat(xs).double(), torch.cat(ks)
    var = parts[2] / (parts[0] - 1).clamp(min=1)[:, None]
    exp = torch.stack([x[k == i].var(0) for i in range(K2)])
    err = ((var - exp).abs() / exp).max().item()
    assert err <= 5e-7, err
