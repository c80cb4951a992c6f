#!/usr/bin/env python3
"""make_goldens: regenerate the llama.cpp reference data that tests/data adds to the shared
fixture set (tests/data/README.md explains when and why).

    .venv/bin/python tools/golden_dump/make_goldens.py \\
        --llama-build LLAMA_BUILD --golden-dump GOLDEN_DUMP --source "llama.cpp 0c1e57098 (...)" \\
        [--shared ../shared/fixtures] [--extra-out DIR]

LLAMA_BUILD is a llama.cpp CPU build (bin/llama-quantize); GOLDEN_DUMP our program built
against it (tools/golden_dump/CMakeLists.txt). What it does, in a scratch folder:
  1. models: tiny-qwen3 in F32 (tools/make_tiny_model.py), its quantized variants and
     tiny-llama's Q5_K/BF16 variants (llama-quantize <f32> <out> <TYPE> 2); the committed ones
     are copied to tests/data/fixtures/models/;
  2. goldens of those models (golden_dump golden; MoE families with --experts);
  3. goldens with llama.cpp's F16 KV cache (golden/kv_f16/<name>.json);
  4. for every MoE golden without recorded experts (tests/data's copies and the shared set):
     golden_dump --experts on the same model, checked against the golden (same top-10 ids,
     greedy continuation and logits within 1e-4), and only the experts kept
     (golden/experts/<name>.json);
  5. tests/data/fixtures/golden.tar.xz repacked (the existing goldens plus all of the above).
With --extra-out, DIR becomes a complete fixture folder (models/ and golden/, the shared set
plus every model made here and F16-KV goldens for all of them) to run the conformance test
over with MOECODE_SHARED_FIXTURES=DIR (too big to commit).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "fixtures"
INPUTS = ROOT / "tools" / "golden_dump" / "inputs.json"

# name -> (family, quant label, llama-quantize type or None for the generated F32 file)
NEW_MODELS = {
    "tiny-qwen3.f32": ("tiny-qwen3", "F32", None),
    "tiny-qwen3.bf16": ("tiny-qwen3", "BF16", "BF16"),
    "tiny-qwen3.q8_0": ("tiny-qwen3", "Q8_0", "Q8_0"),
    "tiny-llama.q5_k_s": ("tiny-llama", "Q5_K_S", "Q5_K_S"),
    # not committed (size): --extra-out only
    "tiny-qwen3.f16": ("tiny-qwen3", "F16", "F16"),
    "tiny-qwen3.q4_0": ("tiny-qwen3", "Q4_0", "Q4_0"),
    "tiny-qwen3.q4_k_m": ("tiny-qwen3", "Q4_K_M", "Q4_K_M"),
    "tiny-llama.q5_k_m": ("tiny-llama", "Q5_K_M", "Q5_K_M"),
    "tiny-llama.bf16": ("tiny-llama", "BF16", "BF16"),
}
COMMITTED_MODELS = ["tiny-qwen3.f32", "tiny-qwen3.bf16", "tiny-qwen3.q8_0", "tiny-llama.q5_k_s"]
# Goldens with the F16 KV cache that tests/data keeps (one per family in F32, and the
# engine's everyday setting: quantized weights with the F16 cache).
COMMITTED_KV_F16 = [
    "tiny-llama.f32", "tiny-qwen2.f32", "tiny-qwen3.f32", "tiny-deepseek2-lite.f32", "tiny-deepseek3.f32",
    "tiny-qwen2moe.f32", "tiny-qwen3moe.f32", "tiny-mixtral.f32", "tiny-llama.q4_k_m", "tiny-qwen3moe.q4_k_m",
]
MOE_FAMILIES = {"tiny-deepseek2-lite", "tiny-deepseek2-lite-legacy-kvb", "tiny-deepseek3", "tiny-qwen2moe",
                "tiny-qwen3moe", "tiny-mixtral"}

QUANT_LABEL = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q4_0": "Q4_0", "q4_1": "Q4_1",
               "q4_k_m": "Q4_K_M", "q6_k": "Q6_K", "q5_k_s": "Q5_K_S", "q5_k_m": "Q5_K_M"}


def run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"make_goldens: {' '.join(cmd)} failed:\n{r.stdout[-3000:]}")


def split(name: str) -> tuple[str, str]:
    family, quant = name.rsplit(".", 1)
    return family, QUANT_LABEL[quant]


class Maker:
    def __init__(self, a: argparse.Namespace, work: Path):
        self.a = a
        self.work = work
        self.models = work / "models"
        self.golden = work / "golden"
        for d in (self.models, self.golden / "kv_f16", self.golden / "experts"):
            d.mkdir(parents=True, exist_ok=True)
        self.shared = Path(a.shared) if a.shared else None

    def model_path(self, name: str) -> Path:
        for d in (self.models, DATA / "models", self.shared / "models" if self.shared else None):
            if d is not None and (d / f"{name}.gguf").is_file():
                return d / f"{name}.gguf"
        sys.exit(f"make_goldens: no model {name}.gguf")

    def dump(self, name: str, out: Path, kv: str = "f32") -> None:
        family, quant = split(name)
        cmd = [self.a.golden_dump, "golden", "--model", str(self.model_path(name)), "--family", family, "--quant", quant,
               "--inputs", str(INPUTS), "--kv", kv, "--source", self.a.source, "--out", str(out)]
        if family in MOE_FAMILIES:
            cmd.append("--experts")
        run(cmd)

    def make_models(self) -> None:
        py = sys.executable
        specs, vocab = DATA / "models" / "model-specs.json", DATA / "models" / "vocab-A.json"
        run([py, str(ROOT / "tools" / "make_tiny_model.py"), str(specs), str(vocab), "tiny-qwen3",
             str(self.models / "tiny-qwen3.f32.gguf")])
        quantize = str(Path(self.a.llama_build) / "bin" / "llama-quantize")
        for name, (family, _, qtype) in NEW_MODELS.items():
            if qtype is None:
                continue
            src = self.models / f"{family}.f32.gguf"
            if not src.is_file():
                src = self.model_path(f"{family}.f32")
            run([quantize, str(src), str(self.models / f"{name}.gguf"), qtype, "2"])
        for name in COMMITTED_MODELS:
            shutil.copyfile(self.models / f"{name}.gguf", DATA / "models" / f"{name}.gguf")

    def experts_sidecar(self, golden_path: Path) -> None:
        """Experts for an existing golden made without them, checked against it: the prompt's
        (and the greedy continuation's) experts are kept only when this llama.cpp's run of that
        part has the golden's top-10 ids and logits within 1e-4."""
        name = golden_path.stem
        old = json.loads(golden_path.read_text())
        tmp = self.work / "tmp.json"
        self.dump(name, tmp)
        new = json.loads(tmp.read_text())

        def diff(rows_old, rows_new) -> float:
            worst = 0.0
            for po, pn in zip(rows_old, rows_new, strict=True):
                if [i for i, _ in po] != [i for i, _ in pn]:
                    return float("inf")
                worst = max(worst, max(abs(x - y) for (_, x), (_, y) in zip(po, pn)))
            return worst

        prompt_d, greedy_d = 0.0, 0.0
        for so, sn in zip(old["sequences"], new["sequences"], strict=True):
            if so["tokens"] != sn["tokens"]:
                sys.exit(f"make_goldens: {name}: the golden's sequences are not tools/golden_dump/inputs.json's")
            prompt_d = max(prompt_d, diff(so["topk_per_pos"], sn["topk_per_pos"]),
                           max(abs(x - y) for x, y in zip(so["last_logits"], sn["last_logits"])))
            greedy_d = max(greedy_d, diff(so["greedy_topk"], sn["greedy_topk"]) if so["greedy"] == sn["greedy"]
                           else float("inf"))
        keep_prompt, keep_greedy = prompt_d <= 1e-4, prompt_d <= 1e-4 and greedy_d <= 1e-4
        if not keep_prompt:
            print(f"  experts {name}: NOT recorded: this llama.cpp's prompt logits differ from the golden's "
                  f"({prompt_d:g})")
            return
        seqs = []
        for s in new["sequences"]:
            e = {"layers": s["experts"]["layers"], "prompt": s["experts"]["prompt"]}
            if keep_greedy:
                e["greedy"] = s["experts"]["greedy"]
            seqs.append({"tokens": s["tokens"], "experts": e})
        side = {
            "model": new["model"],
            "llama_cpp": new["llama_cpp"],
            "note": "the routed experts llama.cpp chose for this golden's sequences (golden_dump --experts), from a run "
                    "whose logits matched the golden's (same top-10 ids, within 1e-4); the greedy part is left out "
                    "where that run's greedy logits did not match",
            "max_abs_diff_vs_golden": {"prompt": prompt_d, "greedy": greedy_d if keep_greedy else None},
            "sequences": seqs,
        }
        (self.golden / "experts" / f"{name}.json").write_text(json.dumps(side, separators=(", ", ": ")) + "\n")
        print(f"  experts {name}: prompt |d| {prompt_d:.3g}, greedy " +
              (f"|d| {greedy_d:.3g}" if keep_greedy else f"left out (|d| {greedy_d:.3g})"))


def existing_goldens(archive: Path, into: Path) -> list[Path]:
    with tarfile.open(archive) as t:
        t.extractall(into, filter="data")
    return sorted(p for p in into.glob("*.json") if p.stem != "tolerance-stats")


def pack(src: Path, archive: Path) -> None:
    files = sorted(p for p in src.rglob("*.json"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz", preset=9 | 0x80000000) as t:  # xz -9e
        for p in files:
            data = p.read_bytes()
            info = tarfile.TarInfo("./" + str(p.relative_to(src)))
            info.size, info.mode, info.mtime, info.uname, info.gname = len(data), 0o444, 0, "root", "root"
            t.addfile(info, io.BytesIO(data))
    archive.write_bytes(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama-build", required=True)
    ap.add_argument("--golden-dump", required=True)
    ap.add_argument("--source", required=True, help="llama.cpp version, recorded in every file")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "fixtures"))
    ap.add_argument("--extra-out")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        m = Maker(a, work)
        print("models")
        m.make_models()
        print("goldens of the new models")
        for name in NEW_MODELS:
            m.dump(name, m.golden / f"{name}.json")
        print("goldens with the F16 KV cache")
        all_names = [p.stem for p in (DATA / "models").glob("*.gguf")] + list(NEW_MODELS)
        if a.extra_out and m.shared:
            all_names += [p.stem for p in (m.shared / "models").glob("*.gguf")]
        kv_names = sorted(set(all_names)) if a.extra_out else COMMITTED_KV_F16
        for name in kv_names:
            m.dump(name, m.golden / "kv_f16" / f"{name}.json", kv="f16")
        print("experts of the existing MoE goldens")
        old = work / "old"
        old.mkdir()
        olds = existing_goldens(DATA / "golden.tar.xz", old)
        seen = {p.stem for p in olds}
        if m.shared:
            olds += [p for p in sorted((m.shared / "golden").glob("*.json"))
                     if p.stem != "tolerance-stats" and p.stem not in seen]
        for p in olds:
            if split(p.stem)[0] in MOE_FAMILIES and "experts" not in json.loads(p.read_text())["sequences"][0]:
                m.experts_sidecar(p)
        # tests/data's archive: the old goldens, the new ones of committed models, the
        # committed F16-KV goldens and every experts file.
        stage = work / "stage"
        stage.mkdir()
        for p in old.glob("*.json"):
            shutil.copy(p, stage / p.name)
        for name in COMMITTED_MODELS:
            shutil.copy(m.golden / f"{name}.json", stage / f"{name}.json")
        (stage / "kv_f16").mkdir()
        for name in COMMITTED_KV_F16:
            shutil.copy(m.golden / "kv_f16" / f"{name}.json", stage / "kv_f16" / f"{name}.json")
        shutil.copytree(m.golden / "experts", stage / "experts")
        pack(stage, DATA / "golden.tar.xz")
        print(f"wrote {DATA / 'golden.tar.xz'} ({(DATA / 'golden.tar.xz').stat().st_size} bytes)")
        if a.extra_out:
            out = Path(a.extra_out)
            if out.exists():
                shutil.rmtree(out)
            (out / "models").mkdir(parents=True)
            if m.shared:
                for p in (m.shared / "models").iterdir():
                    os.symlink(p.resolve(), out / "models" / p.name)
                shutil.copytree(m.shared / "golden", out / "golden")
            for p in (DATA / "models").glob("*.gguf"):
                if not (out / "models" / p.name).exists():
                    os.symlink(p.resolve(), out / "models" / p.name)
            for p in m.models.glob("*.gguf"):
                if not (out / "models" / p.name).exists():
                    shutil.copy(p, out / "models" / p.name)
            shutil.copytree(m.golden, out / "golden", dirs_exist_ok=True)
            print(f"wrote {out}")


if __name__ == "__main__":
    main()
