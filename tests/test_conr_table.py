"""The static ConR launch table (``dirfast/kernels/conr_table.py``): every entry well-formed, every key
of the table's grid present, the CUDA benchmark sizes found, the architecture family, the column
split and the registry configs the table builds. CPU only, no compile (the AOT twin,
``tests/aot/test_aot_tensor_cores.py``, compiles every entry)."""

import itertools

import pytest

from dirfast.kernels import conr_table as T
from dirfast.kernels._registry import KernelConfig


def _pow2(x):
    return x > 0 and x & (x - 1) == 0


def test_table_not_empty():
    assert T.CONFIGS, "conr_table.CONFIGS is empty: run `python -m dirfast.kernels._sweep conr`"


@pytest.mark.parametrize("key", sorted(T.CONFIGS, key=str), ids=lambda k: "-".join(map(str, k)))
def test_entry_well_formed(key):
    family, dtype, precision, role, mb, db = key
    assert family in T.FAMILIES and dtype in T.DTYPES and role in T.ROLES
    assert precision in T.PRECISIONS[dtype]
    assert mb in T.M_BUCKETS and db in T.D_BUCKETS
    t = T.CONFIGS[key]
    assert isinstance(t, T.ConrTiles)
    # every tl.dot dimension >= 16 (mma / wgmma shapes), powers of two (tl.arange)
    for v in (t.block_m, t.block_n, t.block_d):
        assert _pow2(v) and 16 <= v <= 512, t
    assert t.num_warps in (4, 8) and t.num_stages >= 1 and t.blocks_per_sm >= 1, t
    if role.startswith("fwd"):
        assert t.block_do == 0 and not t.one_out, t
    else:
        assert _pow2(t.block_do) and 16 <= t.block_do <= 512, t
    # held variants only where every D of the bucket fits the held width
    if t.one_chunk:
        assert db is not None and t.block_d >= db, (key, t)
    if t.one_out:
        assert db is not None and t.block_do >= db, (key, t)
    if role.startswith("bwd") and t.one_chunk:
        # the held backward reuses the anchor tile as u_i: one width for both
        assert t.one_out and t.block_d == t.block_do, t


def test_table_complete():
    """Every (family, dtype, precision, role, M bucket, D bucket) has an entry."""
    missing = [k for k in itertools.product(
        T.FAMILIES, T.DTYPES, ("ieee", "tf32", "tf32x3"), T.ROLES, T.M_BUCKETS, T.D_BUCKETS)
        if k[2] in T.PRECISIONS[k[1]] and k not in T.CONFIGS]
    assert not missing, missing


# the CUDA benchmark sizes (benchmarks/bench_conr.py)
BENCH = [(512, 2048), (512, 512), (4096, 512), (8192, 512), (16384, 512)]
BENCH_DTYPES = [("float32", "ieee"), ("float32", "tf32"), ("bfloat16", "ieee"), ("float64", "ieee")]


@pytest.mark.parametrize("family", T.FAMILIES)
@pytest.mark.parametrize("dtype,precision", BENCH_DTYPES)
@pytest.mark.parametrize("m,d", BENCH)
@pytest.mark.parametrize("role", T.ROLES)
def test_benchmark_sizes_found(family, dtype, precision, m, d, role):
    t = T.conr_tiles(family, dtype, precision, role, m, d)
    assert isinstance(t, T.ConrTiles)
    if t.one_chunk:
        assert d <= t.block_d
    if t.one_out:
        assert d <= t.block_do


def test_lookup_buckets_and_normalisation():
    assert T._bucket(64, T.D_BUCKETS) == 64 and T._bucket(65, T.D_BUCKETS) == 128
    assert T._bucket(513, T.D_BUCKETS) is None and T._bucket(1, T.D_BUCKETS) == 64
    assert T._bucket(1024, T.M_BUCKETS) == 1024 and T._bucket(1025, T.M_BUCKETS) is None
    # the fp32 precision is ignored for other dtypes
    assert T.conr_tiles("sm80", "bfloat16", "tf32", "fwd", 4096, 512) == \
        T.CONFIGS["sm80", "bfloat16", "ieee", "fwd", None, 512]
    assert T.conr_tiles("sm90", "float32", "tf32", "bwd", 100, 100) == \
        T.CONFIGS["sm90", "float32", "tf32", "bwd", 1024, 128]
    with pytest.raises(KeyError, match="no ConR config"):
        T.conr_tiles("sm70", "float32", "ieee", "fwd", 10, 10)


def test_arch_family(monkeypatch):
    import torch

    assert T.arch_family("cpu") == T.arch_family(torch.device("cpu")) == "sm80"
    calls = []
    caps = {0: (9, 0), 1: (8, 6), 2: (8, 9), 3: (8, 0), 4: (10, 0), 5: (12, 0)}

    def cap(index):
        calls.append(index)
        return caps[index]

    monkeypatch.setattr(torch.cuda, "get_device_capability", cap)
    T._family_of_index.cache_clear()
    try:
        got = {i: T.arch_family(f"cuda:{i}") for i in caps}
        assert got == {0: "sm90", 1: "sm80", 2: "sm80", 3: "sm80", 4: "sm80", 5: "sm80"}
        assert T.arch_family(torch.device("cuda", 0)) == "sm90"
        assert sorted(calls) == sorted(caps), calls  # read once per device index
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
        assert T.arch_family("cuda") == "sm80" and len(calls) == len(caps)
    finally:
        T._family_of_index.cache_clear()


@pytest.mark.parametrize("m,bm,bn,slots", [(4096, 64, 64, 132), (512, 64, 64, 132), (16384, 32, 32, 264),
                                           (100, 16, 16, 108), (1, 16, 16, 132), (8192, 128, 16, 132)])
def test_split_fills_the_machine(m, bm, bn, slots):
    s = T.split_for(m, bm, bn, slots)
    rows = -(-m // bm)
    hi = min(-(-m // bn), 4 * -(-slots // rows))
    assert 1 <= s <= max(hi, 1)

    def util(k):
        return rows * k / (-(-(rows * k) // slots) * slots)

    assert all(util(s) >= util(k) - 1e-9 for k in range(1, hi + 1))
    assert all(util(k) < util(s) - 1e-9 for k in range(1, s))  # the smallest such split


def test_split_examples():
    # 64 row blocks on 132 slots: two column halves fill 128 (one wave), three would take two
    assert T.split_for(4096, 64, 64, 132) == 2
    # one column tile: no split possible
    assert T.split_for(16, 16, 16, 132) == 1


def _fake_bases():
    """Builders shaped like the kernel module's: key ``(dtype, precision, PUSH_EXP, ONE_CHUNK[,
    ONE_OUT])`` + ``"ml"`` for the ``[M, dl]``-labels variant."""
    def fwd(dtype, precision, push_exp, one_chunk, multi=False):
        return KernelConfig(key=(dtype, precision, push_exp, one_chunk) + (("ml",) if multi else ()),
                            signature={"z_ptr": "*fp32"},
                            constexprs={"MULTI": multi, "PUSH_EXP": push_exp, "ONE_CHUNK": one_chunk,
                                        "BLOCK_M": 0, "BLOCK_N": 0, "BLOCK_D": 0}, num_warps=8,
                            num_stages=1, ieee=precision == "ieee")

    def bwd(dtype, precision, push_exp, one_chunk, one_out, multi=False):
        c = fwd(dtype, precision, push_exp, one_chunk)
        return KernelConfig(key=c.key + (one_out,) + (("ml",) if multi else ()), signature=c.signature,
                            constexprs={**c.constexprs, "MULTI": multi, "ONE_OUT": one_out,
                                        "BLOCK_DO": 0}, num_warps=8, num_stages=1, ieee=c.ieee)

    return fwd, bwd


def test_table_configs():
    fwd, bwd = T.table_configs(*_fake_bases())
    for kern, cfgs in (("fwd", fwd), ("bwd", bwd)):
        assert len({c.key for c in cfgs}) == len(cfgs)
        used = {(k[0], k[1], k[2], k[3].endswith("_ml"), t[:6]) for k, t in T.CONFIGS.items()
                if k[3].split("_")[0] == kern}
        assert len(cfgs) == 2 * len(used)  # both PUSH_EXP values
        for c in cfgs:
            dtype, precision, push, one_chunk = c.key[:4]
            family, tiles = c.key[-7], c.key[-6:]
            ml = c.key[-8] == "ml"
            assert c.constexprs["MULTI"] == ml
            assert c.archs == T.FAMILY_ARCHS[family]
            assert c.tensor_cores == ((dtype, precision) in T.TENSOR_CORE)
            assert (c.constexprs["BLOCK_M"], c.constexprs["BLOCK_N"], c.constexprs["BLOCK_D"]) == \
                tiles[:3]
            assert (c.num_warps, c.num_stages) == tiles[4:6]
            assert c.constexprs["ONE_CHUNK"] == one_chunk and c.constexprs["PUSH_EXP"] == push
            if kern == "bwd":
                assert c.constexprs["BLOCK_DO"] == tiles[3]
    # a roles filter: only those entries
    f1, b1 = T.table_configs(*_fake_bases(), roles=("fwd", "bwd"))
    assert f1 and b1 and not any("ml" in c.key for c in f1 + b1)
    assert {c.key for c in f1} < {c.key for c in fwd} and {c.key for c in b1} < {c.key for c in bwd}


def test_table_key_matches_lookup():
    """The launcher's key (its own variant key + table_key) is the key table_configs registers."""
    fwd, bwd = T.table_configs(*_fake_bases())
    keys = {c.key for c in fwd + bwd}
    for (family, dtype, precision, role, mb, db), t in T.CONFIGS.items():
        base = (dtype, precision, True, t.one_chunk) + ((t.one_out,) if role.startswith("bwd") else ()) \
            + (("ml",) if role.endswith("_ml") else ())
        assert T.table_key(base, family, t) in keys


def test_signature_mismatch_is_an_error():
    def fwd(dtype, precision, push_exp, one_chunk):  # a kernel that renamed BLOCK_D
        return KernelConfig(key=(), signature={}, constexprs={"BLOCK_M": 0, "BLOCK_N": 0, "BLOCK_K": 0})

    t = next(t for k, t in T.CONFIGS.items() if k[3] == "fwd")
    with pytest.raises(ValueError, match="BLOCK_D"):
        T.with_tiles(fwd, "sm80", "float32", "ieee", "fwd", True, t)


def test_registered_signatures_match_the_kernel():
    """The table's configs take the arguments the kernel's own configs take (only tiles, warps,
    stages, key and the architecture fields differ)."""
    pytest.importorskip("triton")
    from dirfast.kernels import conr

    fwd, bwd = T.table_configs(conr._fwd_config, conr._bwd_config)
    for cfg in fwd:
        ref = conr._fwd_config(*cfg.key[:4], **({"multi": True} if cfg.key[-8] == "ml" else {}))
        assert ref.key == cfg.key[:-7]
        assert cfg.signature == ref.signature and set(cfg.constexprs) == set(ref.constexprs)
        assert cfg.ieee == ref.ieee
    for cfg in bwd:
        ref = conr._bwd_config(*cfg.key[:5], **({"multi": True} if cfg.key[-8] == "ml" else {}))
        assert ref.key == cfg.key[:-7]
        assert cfg.signature == ref.signature and set(cfg.constexprs) == set(ref.constexprs)
        assert cfg.ieee == ref.ieee
