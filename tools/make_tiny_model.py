#!/usr/bin/env python3
"""make_tiny_model: tiny random-weight GGUF models for the conformance fixtures.

    .venv/bin/python tools/make_tiny_model.py SPECS.json VOCAB.json FAMILY OUT.gguf

SPECS.json maps family names to generator parameters (tests/data/fixtures/models/
model-specs.json, the shared fixture set's file plus the families added here); VOCAB.json is
vocabulary A (tests/data/fixtures/models/vocab-A.json). The output is an F32 GGUF; its
quantized variants are made with llama.cpp's `llama-quantize OUT.gguf Q.gguf TYPE 2`
(tests/data/README.md says how the goldens are made from them).

The recipe is the one the shared fixtures README describes, so that a family written here
sits beside the llama.cpp-made ones:
  - every tensor comes from numpy's PCG64 seeded with [seed, crc32(tensor name)];
  - matmul weights N(0, 1/sqrt(fan_in)) (fan_in = the row length, ne[0]);
    token_embd / output N(0, 3/sqrt(n_embd)) (logits with std ~3);
    RMS-norm weights 1 + N(0, 0.1); biases N(0, 0.1);
  - metadata in the fixtures' key order, tensors in llama.cpp's per-layer order.
The architectures written are the dense `llama`, `qwen2`, `qwen3` and the MoE `qwen3moe`
(the other fixture families need nothing new). With the shared specs it reproduces
tiny-llama, tiny-qwen2 and tiny-qwen3moe byte for byte (checked when they were added).
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("make_tiny_model: the Python package 'gguf' is missing: run scripts/setup (it installs "
             "tools/requirements.txt into .venv)")

ARCHS = ("llama", "qwen2", "qwen3", "qwen3moe")


def rng_for(seed: int, name: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, zlib.crc32(name.encode())]))


def normal(seed: int, name: str, ne: list[int], std: float, mean: float = 0.0) -> np.ndarray:
    # ne is ggml order (row length first); numpy's shape is the reverse.
    shape = tuple(reversed(ne))
    return (mean + rng_for(seed, name).normal(0.0, std, size=shape)).astype(np.float32)


class Builder:
    def __init__(self, spec: dict, name: str):
        self.spec = spec
        self.seed = int(spec["seed"])
        self.tensors: list[tuple[str, np.ndarray]] = []

    def matmul(self, name: str, ne: list[int]) -> None:
        self.tensors.append((name, normal(self.seed, name, ne, 1.0 / np.sqrt(ne[0]))))

    def embedding(self, name: str, ne: list[int]) -> None:
        self.tensors.append((name, normal(self.seed, name, ne, 3.0 / np.sqrt(self.spec["n_embd"]))))

    def norm(self, name: str, n: int) -> None:
        self.tensors.append((name, normal(self.seed, name, [n], 0.1, mean=1.0)))

    def bias(self, name: str, n: int) -> None:
        self.tensors.append((name, normal(self.seed, name, [n], 0.1)))


def build_tensors(s: dict, n_vocab: int) -> list[tuple[str, np.ndarray]]:
    arch = s["arch"]
    n_embd, n_head, n_head_kv = s["n_embd"], s["n_head"], s["n_head_kv"]
    head_dim = s.get("head_dim", n_embd // n_head)
    q_dim, kv_dim = n_head * head_dim, n_head_kv * head_dim
    b = Builder(s, s.get("name", ""))
    b.embedding("token_embd.weight", [n_embd, n_vocab])
    b.norm("output_norm.weight", n_embd)
    if not s.get("tied", False):
        b.embedding("output.weight", [n_embd, n_vocab])
    for il in range(s["n_layer"]):
        p = f"blk.{il}."
        b.norm(p + "attn_norm.weight", n_embd)
        b.matmul(p + "attn_q.weight", [n_embd, q_dim])
        b.matmul(p + "attn_k.weight", [n_embd, kv_dim])
        b.matmul(p + "attn_v.weight", [n_embd, kv_dim])
        if s.get("qkv_bias", False):
            b.bias(p + "attn_q.bias", q_dim)
            b.bias(p + "attn_k.bias", kv_dim)
            b.bias(p + "attn_v.bias", kv_dim)
        if s.get("qk_norm", False):
            b.norm(p + "attn_q_norm.weight", head_dim)
            b.norm(p + "attn_k_norm.weight", head_dim)
        b.matmul(p + "attn_output.weight", [q_dim, n_embd])
        b.norm(p + "ffn_norm.weight", n_embd)
        if s.get("n_expert", 0) > 0:
            n_exp, n_ff_exp = s["n_expert"], s["n_ff_exp"]
            b.matmul(p + "ffn_gate_inp.weight", [n_embd, n_exp])
            b.matmul(p + "ffn_gate_exps.weight", [n_embd, n_ff_exp, n_exp])
            b.matmul(p + "ffn_up_exps.weight", [n_embd, n_ff_exp, n_exp])
            b.matmul(p + "ffn_down_exps.weight", [n_ff_exp, n_embd, n_exp])
        else:
            b.matmul(p + "ffn_gate.weight", [n_embd, s["n_ff"]])
            b.matmul(p + "ffn_up.weight", [n_embd, s["n_ff"]])
            b.matmul(p + "ffn_down.weight", [s["n_ff"], n_embd])
    return b.tensors


def write(family: str, s: dict, vocab: dict, out: str) -> None:
    arch = s["arch"]
    if arch not in ARCHS:
        sys.exit(f"make_tiny_model: {family}: arch '{arch}' is not one of {', '.join(ARCHS)}")
    n_vocab = int(vocab["n_vocab"])
    w = gguf.GGUFWriter(out, arch)
    w.add_name(family)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(s["n_ctx_train"])
    w.add_embedding_length(s["n_embd"])
    w.add_block_count(s["n_layer"])
    w.add_feed_forward_length(s["n_ff"])
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_head_kv"])
    w.add_layer_norm_rms_eps(s["rms_eps"])
    w.add_rope_freq_base(s["rope_base"])
    w.add_tokenizer_model(vocab["tokenizer_model"])
    w.add_tokenizer_pre(s["tokenizer_pre"])
    w.add_token_list(vocab["tokens"])
    w.add_token_types(vocab["token_types"])
    w.add_token_merges(vocab["merges"])
    w.add_bos_token_id(vocab["specials"][s["bos"]])
    w.add_eos_token_id(vocab["specials"][s["eos"]])
    w.add_add_bos_token(bool(s["add_bos"]))
    w.add_add_eos_token(False)
    head_dim = s.get("head_dim", s["n_embd"] // s["n_head"])
    if "head_dim" in s:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    if s.get("n_expert", 0) > 0:
        w.add_expert_count(s["n_expert"])
        w.add_expert_used_count(s["n_expert_used"])
        w.add_expert_feed_forward_length(s["n_ff_exp"])
    for name, data in build_tensors(s, n_vocab):
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("specs")
    ap.add_argument("vocab")
    ap.add_argument("family")
    ap.add_argument("out")
    a = ap.parse_args()
    with open(a.specs) as f:
        specs = json.load(f)
    with open(a.vocab) as f:
        vocab = json.load(f)
    if a.family not in specs:
        sys.exit(f"make_tiny_model: no family '{a.family}' in {a.specs} (has: {', '.join(specs)})")
    write(a.family, specs[a.family], vocab, a.out)


if __name__ == "__main__":
    main()
