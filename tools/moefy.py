#!/usr/bin/env python3
"""moefy: turn a dense llama-family GGUF into a `qwen2moe` GGUF that computes the same model.

Real weights through the MoE path: every FFN's intermediate neurons are split into E
routed experts, and a router is chosen for which top-k = E reproduces the dense model.

    .venv/bin/python tools/moefy.py IN.gguf OUT.gguf [--experts 8]

How it is exact (the formulation, and why this one)
---------------------------------------------------
A SwiGLU FFN is  down(silu(gate x) * up x).  Its n_ff intermediate neurons are independent:
with the rows of gate/up and the columns of down cut into E slices of m = n_ff / E,
    FFN(x) = sum_e down_e(silu(gate_e x) * up_e x).
So expert e = (rows e*m.. of gate and up, columns e*m.. of down), and the FFN is the sum
of all experts with weight 1.

qwen2moe (llama.cpp semantics) weights the chosen experts by their softmax probabilities,
*without* renormalisation and without a scale key. A zero router gives every expert the
probability 1/E exactly (E a power of two), so each expert's down slice is stored
multiplied by E. For quantized tensors that is done on the block scales only (d, and m or
dmin): multiplying a float16 scale by a power of two is exact, so the dequantized values
are exactly E times the dense ones and the quantized integers are the dense file's bytes.
gate/up expert stacks are the dense bytes as they are (rows are independent). Nothing is
re-quantized. The activations are quantized per 32-block exactly as in the dense model
(m is a multiple of the block size), so the only difference left is float summation
order (the down projection is summed per expert): logits agree to ~1e-5.

Alternatives that were rejected: the Mixtral-style `llama` arch renormalises the top-k
weights to sum to 1 (again 1/E each, same trick needed, and llama keeps NORM rope);
`deepseek2` cannot hold a dense model's attention (MLA shares one k_rope across heads);
a qwen2moe whose shared expert holds the whole FFN would bypass the routed path.

qwen2moe requires a shared expert with a sigmoid gate; it is written with all-zero
weights (width one quantization block), so it adds exactly 0. The dense `llama` NORM rope
(pairs (2i, 2i+1)) becomes qwen2moe's NEOX rope (pairs (i, i + n_rot/2)) by reordering
the rows of attn_q/attn_k within each head (even dims first, then odd): q.k is unchanged
and every pair keeps its frequency. Zero q/k/v biases are added (qwen2moe has them).

Accepted inputs: general.architecture `llama` (dense) or `qwen2`; FFN tensors in F32, F16,
Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K with n_ff / E a multiple of the block size.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as QT
    from gguf.constants import GGUFValueType
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("moefy: the Python package 'gguf' is missing: run scripts/setup (it installs tools/requirements.txt into .venv)")

# Byte offsets of the float16 scale fields in one block, per type (all scales of a block
# must be multiplied for its values to scale).
SCALE_FIELDS = {
    QT.Q4_0: [0],
    QT.Q4_1: [0, 2],
    QT.Q5_0: [0],
    QT.Q5_1: [0, 2],
    QT.Q8_0: [0],
    QT.Q4_K: [0, 2],
    QT.Q5_K: [0, 2],
    QT.Q6_K: [208],
}


def fail(msg: str) -> None:
    sys.exit("moefy: " + msg)


def block_info(t: QT) -> tuple[int, int]:
    return gguf.GGML_QUANT_SIZES[t]  # (elements per block, bytes per block)


def row_bytes(t: QT, n: int) -> int:
    bs, ts = block_info(t)
    return n // bs * ts


def tensor_bytes(tensor) -> np.ndarray:
    """The tensor's raw bytes as a 2-D uint8 array [rows, row bytes] (rows = prod(ne[1:]))."""
    ne = [int(x) for x in tensor.shape]
    data = np.ascontiguousarray(tensor.data).view(np.uint8).reshape(-1)
    rows = int(np.prod(ne[1:])) if len(ne) > 1 else 1
    return data.reshape(rows, row_bytes(tensor.tensor_type, ne[0]))


def scale_blocks(rows: np.ndarray, t: QT, factor: float) -> np.ndarray:
    """rows: [..., row bytes] of type t; returns a copy whose values are `factor` times."""
    out = rows.copy()
    if t == QT.F32:
        v = out.view(np.float32)
        v *= np.float32(factor)
        return out
    if t == QT.F16:
        v = out.view(np.float16)
        v *= np.float16(factor)
        if not np.all(np.isfinite(v)):
            fail("scaling an F16 tensor overflowed")
        return out
    if t not in SCALE_FIELDS:
        fail(f"cannot scale a tensor of type {t.name}")
    _, ts = block_info(t)
    blocks = out.reshape(-1, ts)
    for off in SCALE_FIELDS[t]:
        field = np.ascontiguousarray(blocks[:, off:off + 2]).view(np.float16)
        scaled = field * np.float16(factor)
        if not np.all(np.isfinite(scaled)):
            fail("scaling a block scale overflowed float16")
        blocks[:, off:off + 2] = scaled.view(np.uint8).reshape(-1, 2)
    return out


def neox_order(head_dim: int, n_rot: int) -> np.ndarray:
    """Row order within a head that turns NORM rope pairs into NEOX pairs."""
    half = n_rot // 2
    order = [2 * i for i in range(half)] + [2 * i + 1 for i in range(half)] + list(range(n_rot, head_dim))
    return np.array(order, dtype=np.int64)


def permute_heads(rows: np.ndarray, n_heads: int, head_dim: int, n_rot: int) -> np.ndarray:
    order = neox_order(head_dim, n_rot)
    idx = np.concatenate([h * head_dim + order for h in range(n_heads)])
    return rows[idx]


def copy_field(writer: gguf.GGUFWriter, key: str, field) -> None:
    vtype = field.types[0]
    if vtype == GGUFValueType.ARRAY:
        sub = field.types[1] if len(field.types) > 1 else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub)
    else:
        writer.add_key_value(key, field.contents(), vtype)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="dense llama-family GGUF")
    ap.add_argument("output", help="the qwen2moe GGUF to write")
    ap.add_argument("--experts", type=int, default=8, help="routed experts per layer (a power of two; default 8)")
    args = ap.parse_args()

    E = args.experts
    if E < 2 or E & (E - 1):
        fail(f"--experts {E}: must be a power of two >= 2 (the exact 1/E gate weight needs it)")

    r = gguf.GGUFReader(args.input)
    fields = r.fields
    arch = fields["general.architecture"].contents()
    if arch not in ("llama", "qwen2"):
        fail(f"'{args.input}': architecture '{arch}' is not a dense llama-family model (llama, qwen2)")
    if f"{arch}.expert_count" in fields and fields[f"{arch}.expert_count"].contents() > 0:
        fail(f"'{args.input}' already has experts")

    def get(key, default=None):
        f = fields.get(f"{arch}.{key}")
        return default if f is None else f.contents()

    n_embd = int(get("embedding_length"))
    n_ff = int(get("feed_forward_length"))
    n_layer = int(get("block_count"))
    n_head = int(get("attention.head_count"))
    n_head_kv = int(get("attention.head_count_kv", n_head))
    head_dim = int(get("attention.key_length", n_embd // n_head))
    n_rot = int(get("rope.dimension_count", head_dim))
    if n_ff % E:
        fail(f"feed_forward_length {n_ff} is not divisible by {E} experts")
    m = n_ff // E

    tensors = {t.name: t for t in r.tensors}
    down_type = tensors["blk.0.ffn_down.weight"].tensor_type
    bs, _ = block_info(down_type)
    if m % bs:
        fail(f"expert width {m} (= {n_ff} / {E}) is not a multiple of the {down_type.name} block size {bs}: "
             f"the down projection's columns cannot be split there; choose another --experts")

    out_arch = "qwen2moe"
    w = gguf.GGUFWriter(args.output, out_arch)
    skip = {"general.architecture", "GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}
    for key, field in fields.items():
        if key in skip:
            continue
        new_key = out_arch + key[len(arch):] if key.startswith(arch + ".") else key
        if key == "general.name":
            w.add_name(f"{field.contents()} (moefied: {E} experts)")
            continue
        copy_field(w, new_key, field)
    w.add_uint32(f"{out_arch}.expert_count", E)
    w.add_uint32(f"{out_arch}.expert_used_count", E)
    w.add_uint32(f"{out_arch}.expert_feed_forward_length", m)
    w.add_uint32(f"{out_arch}.expert_shared_feed_forward_length", bs)

    def add_raw(name: str, t: QT, ne: list[int], data: np.ndarray) -> None:
        # gguf-py takes the byte shape in numpy order: [..., rows, row bytes].
        shape = list(reversed(ne[1:])) + [row_bytes(t, ne[0])]
        w.add_tensor(name, np.ascontiguousarray(data).reshape(shape), raw_dtype=t)

    for t in r.tensors:
        name = t.name
        ne = [int(x) for x in t.shape]
        if not name.startswith("blk."):
            add_raw(name, t.tensor_type, ne, tensor_bytes(t))
            continue
        il = int(name.split(".")[1])
        base = name.split(".", 2)[2]
        if base in ("ffn_gate.weight", "ffn_up.weight"):
            # [n_embd, n_ff] -> [n_embd, m, E]: the same rows, in order.
            kind = base.split(".")[0]
            add_raw(f"blk.{il}.{kind}_exps.weight", t.tensor_type, [n_embd, m, E], tensor_bytes(t))
        elif base == "ffn_down.weight":
            # [n_ff, n_embd] -> [m, n_embd, E]: expert e = columns e*m.. of every row, times E.
            rows = tensor_bytes(t)                           # [n_embd, row bytes]
            per = rows.shape[1] // E
            stacked = rows.reshape(n_embd, E, per).transpose(1, 0, 2)  # [E, n_embd, per]
            add_raw(f"blk.{il}.ffn_down_exps.weight", t.tensor_type, [m, n_embd, E],
                    scale_blocks(np.ascontiguousarray(stacked), t.tensor_type, float(E)))
            # Router (zero: every expert gets 1/E) and the zero shared expert.
            w.add_tensor(f"blk.{il}.ffn_gate_inp.weight", np.zeros((E, n_embd), dtype=np.float32))
            w.add_tensor(f"blk.{il}.ffn_gate_inp_shexp.weight", np.zeros((n_embd,), dtype=np.float32))
            zt = tensors[f"blk.{il}.ffn_gate.weight"].tensor_type
            add_raw(f"blk.{il}.ffn_gate_shexp.weight", zt, [n_embd, bs],
                    np.zeros(bs * row_bytes(zt, n_embd), dtype=np.uint8))
            add_raw(f"blk.{il}.ffn_up_shexp.weight", zt, [n_embd, bs],
                    np.zeros(bs * row_bytes(zt, n_embd), dtype=np.uint8))
            add_raw(f"blk.{il}.ffn_down_shexp.weight", down_type, [bs, n_embd],
                    np.zeros(n_embd * row_bytes(down_type, bs), dtype=np.uint8))
        elif base in ("attn_q.weight", "attn_k.weight") and arch == "llama":
            heads = n_head if base == "attn_q.weight" else n_head_kv
            add_raw(name, t.tensor_type, ne, permute_heads(tensor_bytes(t), heads, head_dim, n_rot))
            bname = f"blk.{il}.{base.split('.')[0]}.bias"
            if bname not in tensors:
                w.add_tensor(bname, np.zeros((heads * head_dim,), dtype=np.float32))
            if base == "attn_k.weight" and f"blk.{il}.attn_v.bias" not in tensors:
                w.add_tensor(f"blk.{il}.attn_v.bias", np.zeros((n_head_kv * head_dim,), dtype=np.float32))
        elif base in ("attn_q.bias", "attn_k.bias") and arch == "llama":
            heads = n_head if base == "attn_q.bias" else n_head_kv
            v = np.asarray(t.data, dtype=np.float32).reshape(heads, head_dim)
            w.add_tensor(name, v[:, neox_order(head_dim, n_rot)].reshape(-1).copy())
        else:
            add_raw(name, t.tensor_type, ne, tensor_bytes(t))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"moefy: wrote {args.output}: {out_arch}, {n_layer} layers x {E} experts of {m} (all {E} used), "
          f"from {arch} with n_ff {n_ff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
