#!/usr/bin/env python3
"""Generate the reference vectors of tests/engine/quant_vectors_test.cpp.

Independent references for engine/quant:
  * gguf-py (llama.cpp's Python library, PyPI package `gguf`): its numpy quantizers
    (F16 via numpy, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and dequantizers (those plus Q4_K,
    Q5_K, Q6_K);
  * numpy transcriptions of llama.cpp's activation quantizers (Q8_0/Q8_1 as its x86 CPU
    backend does them, Q8_K);
  * real tensors of the llama.cpp-made fixture models: rows of the quantized files with
    gguf-py's dequantization, and the same rows of the F32 file (what llama-quantize
    quantized into those bytes).

Usage (in a venv with `pip install gguf numpy`):
  python3 tools/gen_quant_vectors.py [--fixtures ../shared/fixtures/models] \
      [--out tests/data/quant/vectors.bin]

Output format (little-endian): b"MQV1", u32 record count, then per record:
  u8 kind, u8 name length, name (ASCII), u32 ggml type id, u32 n elements,
  u32 input bytes, input, u32 output bytes, output.
Kinds: 0 quantize (input n float32 -> expected bytes, reference weight quantizer),
       1 dequantize (input bytes -> expected n float32),
       2 activation quantize (input n float32 -> expected bytes, llama.cpp x86 activation path),
       3 llama-quantize rows (input n float32 from the F32 model -> bytes of the quantized model).
Deterministic: same output for the same gguf/numpy versions.
"""

import argparse
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

KIND_QUANTIZE, KIND_DEQUANTIZE, KIND_ACT, KIND_LLAMA_QUANTIZE = 0, 1, 2, 3

BLOCK = {T.F16: 1, T.BF16: 1, T.Q8_0: 32, T.Q8_1: 32, T.Q4_0: 32, T.Q4_1: 32, T.Q5_0: 32,
         T.Q5_1: 32, T.Q4_K: 256, T.Q5_K: 256, T.Q6_K: 256, T.Q8_K: 256}
BYTES = {T.F16: 2, T.BF16: 2, T.Q8_0: 34, T.Q8_1: 36, T.Q4_0: 18, T.Q4_1: 20, T.Q5_0: 22,
         T.Q5_1: 24, T.Q4_K: 144, T.Q5_K: 176, T.Q6_K: 210, T.Q8_K: 292}


def record(kind, name, qtype, n, inp, out):
    nb = name.encode("ascii")
    assert len(nb) < 256
    inp, out = bytes(inp), bytes(out)
    return (struct.pack("<BB", kind, len(nb)) + nb + struct.pack("<III", int(qtype), n, len(inp)) + inp
            + struct.pack("<I", len(out)) + out)


def test_floats(rng, n_blocks, block, big):
    """Blocks of: gaussian, zeros, denormals, large values, exact ties, mixed magnitudes."""
    out = []
    for b in range(n_blocks):
        kind = b % 6
        if kind == 0:
            x = rng.standard_normal(block)
        elif kind == 1:
            x = np.zeros(block)
        elif kind == 2:
            # Tiny values (scales near FLT_MIN, whose inverse stays finite) with some float32
            # denormals among them.
            x = rng.standard_normal(block) * 1e-36
            x[::5] *= 1e-4
        elif kind == 3:
            x = rng.uniform(-big, big, block)
        elif kind == 4:
            # Values k + 0.5 with a block maximum that makes the quantization scale exactly 1
            # for Q8_0 (127) and Q4_0 (-8): rounding ties decide the result.
            x = rng.integers(-126, 126, block) + 0.5
            x[0] = 127.0
            if block == 32 and b % 12 == 4:
                x = rng.integers(-7, 7, block) + 0.5
                x[0] = -8.0
        else:
            x = rng.standard_normal(block) * np.exp(rng.uniform(-20, 10, block))
        out.append(x)
    return np.concatenate(out).astype(np.float32)


def f16_special_floats():
    vals = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e9, -1e9, 5.96e-8,
            2.98e-8, 2.9802322e-8, 2.99e-8, 6.1e-5, 6.103515625e-05, 1.0009765625, 1.00048828125,
            1.00146484375, 3.4028235e38, -3.4028235e38, 1e-45, np.inf, -np.inf]
    a = np.array(vals, dtype=np.float32)
    rng = np.random.default_rng(7)
    rand_bits = rng.integers(0, 2**32, 232, dtype=np.uint64).astype(np.uint32).view(np.float32)
    rand_bits = rand_bits[np.isfinite(rand_bits)]
    return np.concatenate([a, rand_bits[: 256 - len(a)]]).astype(np.float32)


def random_blocks(rng, qtype, n_blocks):
    """Random block bytes whose fp16 scale fields are finite (incl. subnormal and max)."""
    size = BYTES[qtype]
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)

    def finite_halves(k):
        h = rng.integers(0, 2**16, k, dtype=np.uint32).astype(np.uint16)
        h = np.where((h & 0x7C00) == 0x7C00, h & 0x83FF, h)  # inf/NaN -> subnormal
        h[0] = 0x7BFF  # 65504
        if k > 1:
            h[1] = 0x0001  # smallest subnormal
        return h.astype(np.uint16).view(np.uint8).reshape(k, 2)

    if qtype in (T.Q8_0, T.Q4_0, T.Q5_0):
        raw[:, 0:2] = finite_halves(n_blocks)
    elif qtype in (T.Q4_1, T.Q5_1, T.Q4_K, T.Q5_K):
        raw[:, 0:2] = finite_halves(n_blocks)
        raw[:, 2:4] = finite_halves(n_blocks)
    elif qtype == T.Q6_K:
        raw[:, 208:210] = finite_halves(n_blocks)
    return raw.reshape(-1)


# ---- numpy transcriptions of the activation quantizers -----------------------------------

def q8_act(x, with_sum):
    """llama.cpp x86 quantize_row_q8_0/q8_1: d = amax/127, q = rint(x * (127/amax))."""
    blocks = x.reshape(-1, 32).astype(np.float32)
    out = bytearray()
    for blk in blocks:
        amax = np.float32(np.max(np.abs(blk)))
        d = np.float32(amax / np.float32(127))
        idv = np.float32(np.float32(127) / amax) if amax != 0 else np.float32(0)
        v = (blk * idv).astype(np.float32)
        # vcvtps2dq: NaN and |v| >= 2^31 give INT_MIN, which the saturating packs make -128.
        bad = ~(np.abs(v) < np.float32(2**31))
        q = np.where(bad, -128, np.rint(np.where(bad, 0, v)).clip(-128, 127)).astype(np.int8)
        out += np.float16(d).tobytes()
        if with_sum:
            s = np.float32(d * np.float32(int(q.astype(np.int32).sum())))
            out += np.float16(s).tobytes()
        out += q.tobytes()
    return out


def q8_k(x):
    """ggml quantize_row_q8_K_ref: scale -127/(signed max), q = rint(iscale * x), bsums."""
    blocks = x.reshape(-1, 256).astype(np.float32)
    out = bytearray()
    for blk in blocks:
        i = int(np.argmax(np.abs(blk)))
        mx = blk[i]
        if np.abs(mx) == 0:
            out += struct.pack("<f", 0.0) + bytes(256) + bytes(32)
            continue
        iscale = np.float32(np.float32(-127) / mx)
        v = (iscale * blk).astype(np.float32)
        # An infinite scale (denormal block) gives inf/NaN, which nearest_int maps to 0.
        q = np.where(np.isfinite(v), np.rint(np.where(np.isfinite(v), v, 0)), 0).clip(-128, 127).astype(np.int8)
        bsums = q.astype(np.int32).reshape(16, 16).sum(axis=1).astype(np.int16)
        out += np.float32(np.float32(1) / iscale).tobytes() + q.tobytes() + bsums.tobytes()
    return out


# ---- fixture tensors ------------------------------------------------------------------------

def fixture_records(fixtures, max_rows=4, max_elems=1024):
    recs = []
    if not fixtures or not os.path.isdir(fixtures):
        print("no fixtures dir; skipping fixture tensors", file=sys.stderr)
        return recs
    wanted = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K, T.F16]
    found = {}
    for fname in sorted(os.listdir(fixtures)):
        if not fname.endswith(".gguf") or ".f32." in fname:
            continue
        reader = gguf.GGUFReader(os.path.join(fixtures, fname))
        f32_name = fname.split(".")[0] + ".f32.gguf"
        for t in reader.tensors:
            if t.tensor_type in wanted and t.tensor_type not in found:
                found[t.tensor_type] = (fname, f32_name, t)
    for qtype in wanted:
        if qtype not in found:
            print(f"no fixture tensor of type {qtype.name}", file=sys.stderr)
            continue
        fname, f32_name, t = found[qtype]
        row_len = int(t.shape[0])
        n = min(row_len * max_rows, max_elems)
        n -= n % BLOCK[qtype]
        nbytes = n // BLOCK[qtype] * BYTES[qtype]
        raw = np.asarray(t.data).reshape(-1).view(np.uint8)[:nbytes]
        deq = quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
        assert deq.size == n
        recs.append(record(KIND_DEQUANTIZE, f"fixture {fname} {t.name}", qtype, n, raw.tobytes(), deq.tobytes()))
        # The same elements in the F32 model: what llama-quantize turned into `raw`.
        f32_reader = gguf.GGUFReader(os.path.join(fixtures, f32_name))
        src = [u for u in f32_reader.tensors if u.name == t.name]
        if src and src[0].tensor_type == T.F32:
            x = np.asarray(src[0].data).reshape(-1).astype(np.float32)[:n]
            recs.append(record(KIND_LLAMA_QUANTIZE, f"llama-quantize {fname} {t.name}", qtype, n, x.tobytes(),
                               raw.tobytes()))
        print(f"fixture {qtype.name}: {fname} {t.name} n={n}", file=sys.stderr)
    return recs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default=os.path.join(root, "..", "shared", "fixtures", "models"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "data", "quant", "vectors.bin"))
    args = ap.parse_args()

    # Overflow to inf in fp16 conversions is part of what is tested.
    np.seterr(over="ignore", divide="ignore", invalid="ignore")
    rng = np.random.default_rng(20261128)
    recs = []

    # Weight quantizers of gguf-py (bit-exact with ggml's reference quantizers).
    for qtype, big in [(T.Q8_0, 8e6), (T.Q4_0, 4e5), (T.Q4_1, 6e4), (T.Q5_0, 8e5), (T.Q5_1, 6e4),
                       (T.BF16, 3e38), (T.F16, 6e4)]:
        x = test_floats(rng, 12, 32, big)
        q = quants.quantize(x, qtype).reshape(-1).view(np.uint8)
        recs.append(record(KIND_QUANTIZE, f"gguf-py quantize {qtype.name}", qtype, x.size, x.tobytes(), q.tobytes()))
    x = f16_special_floats()
    recs.append(record(KIND_QUANTIZE, "numpy float16 specials", T.F16, x.size, x.tobytes(),
                       x.astype(np.float16).tobytes()))
    recs.append(record(KIND_QUANTIZE, "gguf-py bf16 specials", T.BF16, x.size, x.tobytes(),
                       quants.quantize(x, T.BF16).reshape(-1).view(np.uint8).tobytes()))

    # Dequantizers of gguf-py on random blocks.
    for qtype in [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K]:
        nb = 4 if BLOCK[qtype] == 256 else 16
        raw = random_blocks(rng, qtype, nb)
        deq = quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
        recs.append(record(KIND_DEQUANTIZE, f"gguf-py dequantize {qtype.name}", qtype, nb * BLOCK[qtype],
                           raw.tobytes(), deq.tobytes()))
    for qtype in [T.F16, T.BF16]:
        raw = rng.integers(0, 2**16, 256, dtype=np.uint32).astype(np.uint16)
        raw = raw[(raw & 0x7F80 if qtype == T.BF16 else raw & 0x7C00) != (0x7F80 if qtype == T.BF16 else 0x7C00)]
        raw = raw[:200]
        deq = quants.dequantize(raw.view(np.uint8), qtype).astype(np.float32).reshape(-1)
        recs.append(record(KIND_DEQUANTIZE, f"gguf-py dequantize {qtype.name}", qtype, raw.size,
                           raw.view(np.uint8).tobytes(), deq.tobytes()))

    # Activation quantizers.
    for qtype in [T.Q8_0, T.Q8_1]:
        x = test_floats(rng, 12, 32, 1e30)
        recs.append(record(KIND_ACT, f"x86 activation {qtype.name}", qtype, x.size, x.tobytes(),
                           q8_act(x, qtype == T.Q8_1)))
    x = test_floats(rng, 6, 256, 1e30)
    recs.append(record(KIND_ACT, "activation Q8_K", T.Q8_K, x.size, x.tobytes(), q8_k(x)))

    recs += fixture_records(os.path.abspath(args.fixtures))

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(b"MQV1" + struct.pack("<I", len(recs)))
        for r in recs:
            f.write(r)
    print(f"wrote {len(recs)} records, {os.path.getsize(args.out)} bytes to {args.out} "
          f"(gguf {getattr(gguf, '__version__', '?')}, numpy {np.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
