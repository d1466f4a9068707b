"""Interpreter tier: the Triton FDS statistics kernels (chunk partials + per-bin merge) on CPU tensors
against the fp64 reference. Shapes cross the kernels' boundaries: N not a multiple of CHUNK, D not a
power of two on both tile widths (D <= 32 "narrow", else "wide"), a bin spanning more chunks than one
merge step takes (PIECES), empty bins, ignored rows."""

import pytest
import torch

import dirfast
from dirfast import fds_bin_stats
from dirfast.kernels.fds_stats import CHUNK, TILES
from dirfast.reference import fds_bin_stats_ref
from dirfast.testing import assert_close_verbose

from _fds_layouts import layouts

pytestmark = pytest.mark.interpreter


def make(n, d, num_bins, dtype, *, seed=0, offset=5.0, neg=False):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, d, generator=g, dtype=torch.float64) * 3 + offset).to(dtype)
    b = torch.randint(-2 if neg else 0, num_bins, (n,), generator=g)
    return x, b


def check(x, b, num_bins, tag, rtol=None):
    got = fds_bin_stats(x, b, num_bins, backend="triton")
    c, m, q = fds_bin_stats_ref(x.double(), b, num_bins)
    assert torch.equal(got.count, c), f"[{tag}] counts"
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    assert got.mean.dtype == acc and got.m2.dtype == acc
    rtol = rtol or (1e-10 if acc == torch.float64 else 1e-5)
    top_m = m.abs().max().item()
    assert_close_verbose(got.mean, m, tag=f"{tag} mean", rtol=rtol, atol=rtol * 0.1 * top_m)
    assert_close_verbose(got.m2, q, tag=f"{tag} m2", rtol=rtol, atol=rtol * 1e-4 * q.abs().max().item())
    return got


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
@pytest.mark.parametrize("n,d", [(1, 1), (7, 7), (CHUNK + 3, 33), (3 * CHUNK + 5, 130)])
def test_triton_matches_reference(dtype, n, d):
    x, b = make(n, d, 11, dtype, neg=True)
    check(x, b, 11, f"{dtype} {n}x{d}")


def test_triton_bf16_smoke():
    # the interpreter has no bf16 arithmetic: loads only; fp32 accumulation, fp32 tolerance
    x, b = make(300, 20, 5, torch.bfloat16)
    check(x, b, 5, "bf16")


@pytest.mark.parametrize("d", [9, 40])
def test_triton_skewed_one_bin_many_chunks(d):
    """Every row in one bin: the bin is spread over all chunk programs and merged over more than one
    PIECES step (narrow: 64 pieces, wide: 16)."""
    pieces = TILES["narrow" if d <= 32 else "wide"]["PIECES"]
    n = min(pieces + 1, 20) * CHUNK + 77
    x, _ = make(n, d, 1, torch.float32, seed=1)
    b = torch.full((n,), 2)
    b[:5] = -1
    got = check(x, b, 4, f"skewed d={d}")
    assert got.count.tolist() == [0, 0, n - 5, 0]


def test_triton_empty_bins_and_agedb_labels():
    ages = dirfast.data.agedb_dir_ages()["train"][:1500]
    b = ages.long().clamp(3, 99) - 3
    x, _ = make(ages.numel(), 12, 1, torch.float32, seed=2)
    got = check(x, b, 97, "agedb")
    assert (got.count == 0).any()  # some FDS bins are empty in this subset


def test_triton_large_mean_accuracy():
    g = torch.Generator().manual_seed(3)
    n = 4 * CHUNK + 19
    x = (1e4 + torch.randn(n, 8, generator=g, dtype=torch.float64)).float()
    b = torch.randint(0, 2, (n,), generator=g)
    s = fds_bin_stats(x, b, 2, backend="triton")
    c, m, q = fds_bin_stats_ref(x.double(), b, 2)
    var_ref = q / (c - 1).double()[:, None]
    rel = ((s.var.double() - var_ref).abs() / var_ref).max().item()
    assert rel <= 1e-5, f"variance relative error {rel:.3g} at mean/std = 1e4"


def test_triton_deterministic_and_no_grad():
    x, b = make(2 * CHUNK + 1, 70, 6, torch.float32, neg=True)
    x.requires_grad_(True)
    s1 = fds_bin_stats(x, b, 6, backend="triton")
    s2 = fds_bin_stats(x, b, 6, backend="triton")
    assert torch.equal(s1.mean, s2.mean) and torch.equal(s1.m2, s2.m2)
    assert not s1.mean.requires_grad


def test_triton_empty_batch_and_ignored_only():
    s = fds_bin_stats(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), 2, backend="triton")
    assert s.count.tolist() == [0, 0] and (s.mean == 0).all()
    x, _ = make(10, 3, 1, torch.float32)
    s = fds_bin_stats(x, torch.full((10,), -1), 2, backend="triton")
    assert s.count.tolist() == [0, 0] and (s.mean == 0).all() and (s.m2 == 0).all()


def test_auto_never_picks_the_interpreter(monkeypatch):
    calls = []
    import dirfast.kernels.fds_stats as k
    monkeypatch.setattr(k, "fds_bin_stats_fwd", lambda *a, **kw: calls.append(1))
    x, b = make(10, 3, 2, torch.float32)
    fds_bin_stats(x, b, 2)
    assert calls == []


@pytest.mark.parametrize("n,d", [(1, 1), (9, 5), (CHUNK + 3, 40)])
def test_triton_every_layout(n, d):
    """Expanded (row / column stride 0), unfolded (overlapping rows), transposed, sliced views: the
    kernels read any row stride >= 0 in place, a column stride != 1 is copied (issue 13 item 1)."""
    g = torch.Generator().manual_seed(n + d)
    b = torch.randint(-1, 4, (n,), generator=g)
    for dtype in (torch.float32, torch.float64):
        for name, v, _ in layouts(n, d, dtype):
            tag = f"{dtype} {name} {n}x{d}"
            got = fds_bin_stats(v, b, 4, backend="triton")
            c, m, q = fds_bin_stats_ref(v.contiguous().double(), b, 4)
            assert torch.equal(got.count, c), tag
            rtol = 1e-10 if dtype == torch.float64 else 1e-5
            # constant bins (expanded rows): m2 = 0, the oracle's rounding is ~n·eps²·|x|²
            floor = rtol * 1e-6 * n * v.double().abs().max().item() ** 2
            assert_close_verbose(got.mean, m, tag=f"{tag} mean", rtol=rtol,
                                 atol=rtol * 0.1 * m.abs().max().item())
            assert_close_verbose(got.m2, q, tag=f"{tag} m2", rtol=rtol,
                                 atol=max(rtol * 1e-4 * q.abs().max().item(), floor))


def test_triton_expanded_rows_issue_example():
    x = torch.tensor([[1.5, -2.0]]).expand(3, 2)
    s = fds_bin_stats(x, torch.zeros(3, dtype=torch.long), 1, backend="triton")
    assert s.count.tolist() == [3] and s.mean.tolist() == [[1.5, -2.0]] and s.m2.tolist() == [[0, 0]]
    x = torch.ones(1, 64).expand(2 * CHUNK + 7, 64)  # one stored row read by every chunk program
    s = fds_bin_stats(x, torch.zeros(2 * CHUNK + 7, dtype=torch.long), 2, backend="triton",
                      validate=False)
    assert s.count.tolist() == [2 * CHUNK + 7, 0] and (s.mean[0] == 1).all() and (s.m2 == 0).all()


# ------------------------------------------------------------------------------------------------
# the FDS module's accumulation kernels (reference shift, calibration, fp64 Chan merge in place)
# and its bin-id kernel


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
        tables = (torch.randint(-1, Kc + 1, (n,), generator=g),
                  (torch.rand(Kc, d, generator=g) + .5).to(acc), torch.randn(Kc, d, generator=g).to(acc))
    return x, keys, tables, run, (pc, pm, pq)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("cal", [False, True])
@pytest.mark.parametrize("n,d,K2", [(CHUNK * 2 + 37, 40, 7), (301, 20, 12), (3, 130, 5)])
def test_triton_accumulate_matches_reference(dtype, cal, n, d, K2):
    from dirfast.ops.fds_stats import fds_accumulate_paths

    x, keys, tables, run, parts = _acc_case(n, d, K2, dtype, cal=cal)
    got = tuple(t.clone() for t in parts)
    fds_accumulate_paths(x, keys, *tables, *run, *got, "triton")
    want = tuple(t.clone() for t in parts)
    xr = x
    if cal:
        # calibrated in the working precision, not rounded back to fp16 (the op's semantics)
        xr = dirfast.fds_calibrate(x.to(tables[1].dtype), *tables, backend="reference", validate=False)
    fds_accumulate_paths(xr, keys, None, None, None, *run, *want, "reference")
    assert torch.equal(got[0], want[0])
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    assert_close_verbose(got[1], want[1], tag="mean", rtol=rtol, atol=rtol * 1e-3)
    assert_close_verbose(got[2], want[2], tag="m2", rtol=rtol, atol=rtol * want[2].abs().max().item())


def test_triton_accumulate_skewed_bin_and_empty_bins():
    """One bin spanning more chunks than one merge step (PIECES) takes, bins without rows untouched."""
    from dirfast.ops.fds_stats import fds_accumulate_paths

    n = CHUNK * (TILES["narrow"]["PIECES"] + 3) + 5
    x, keys, tables, run, parts = _acc_case(n, 8, 6, torch.float32)
    keys = torch.where(torch.arange(n) % 50 == 0, keys.clamp(max=3), torch.ones_like(keys))
    got = tuple(t.clone() for t in parts)
    fds_accumulate_paths(x, keys, *tables, *run, *got, "triton")
    want = tuple(t.clone() for t in parts)
    fds_accumulate_paths(x, keys, *tables, *run, *want, "reference")
    assert torch.equal(got[0], want[0])
    assert_close_verbose(got[1], want[1], tag="mean", rtol=1e-5)
    assert_close_verbose(got[2], want[2], tag="m2", rtol=1e-5, atol=1e-5 * want[2].abs().max().item())
    for i in (4, 5):
        assert torch.equal(got[1][i], parts[1][i]) and torch.equal(got[2][i], parts[2][i])


def test_triton_accumulate_large_mean_accuracy():
    from dirfast.ops.fds_stats import fds_accumulate_paths

    g = torch.Generator().manual_seed(5)
    K2, d = 5, 16
    parts = (torch.zeros(K2, dtype=torch.int64), torch.zeros(K2, d, dtype=torch.float64),
             torch.zeros(K2, d, dtype=torch.float64))
    run = (torch.zeros(K2, d), torch.zeros(K2, dtype=torch.int64))
    xs, ks = [], []
    for _ in range(10):
        x = (1e4 + torch.randn(97, d, generator=g, dtype=torch.float64)).float()
        k = torch.randint(0, K2, (97,), generator=g)
        fds_accumulate_paths(x, k, None, None, None, *run, *parts, "triton")
        xs.append(x)
        ks.append(k)
    x, k = torch.cat(xs).double(), torch.cat(ks)
    var = parts[2] / (parts[0] - 1).clamp(min=1)[:, None]
    exp = torch.stack([x[k == i].var(0) for i in range(K2)])
    assert ((var - exp).abs() / exp).max().item() <= 5e-7


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bins", [dirfast.Bins(3, 1, 97), dirfast.Bins(-2.0, 0.1, 50), dirfast.Bins(0, 1, 1),
                                  dirfast.Bins(edges=[0.0, 0.5, 3.0, 3.25, 10.0])])
def test_triton_bin_ids_match_bins(dtype, bins):
    from dirfast.kernels.fds_stats import BIN_IDS_BLOCK, fds_bin_ids_fwd

    g = torch.Generator().manual_seed(1)
    e = torch.tensor(bins._edges, dtype=torch.float64)
    y = torch.cat([torch.rand(BIN_IDS_BLOCK + 77, generator=g, dtype=torch.float64) * (e[-1] - e[0] + 4) + e[0] - 2,
                   e, e + 1e-9, e - 1e-9,
                   torch.tensor([float("nan"), float("inf"), -float("inf")], dtype=torch.float64)]).to(dtype)
    got = fds_bin_ids_fwd(y, bins._edges_on(y.device, dtype))
    want = bins.index(y, backend="reference", validate=False)
    assert torch.equal(got, want.to(torch.int64))
