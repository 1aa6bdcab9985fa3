"""Generation speed of the VLM with and without the KV cache (greedy, alternated in one run).

Builds the CPU-scale LLaVA (the vantage-clip-tiny tower at 32 px: 16 image tokens; the default 2-layer, 128-wide
Llama; a BPE tokenizer on the VLM corpus), untrained, and times `eval.vlm.generate` on a batch of images for
--new-tokens tokens each, with the cache and without, alternating over --repeats rounds. The untrained model
never stops early (end-of-sequence is disabled), so both runs decode exactly the same number of tokens, and their
outputs are checked equal. tokens/s = batch x new tokens / wall time.

    scripts/venv-run python benchmarks/vlm_generate.py [--batch 32] [--new-tokens 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from vantage.eval.vlm import VLMEvalConfig, generate
    from vantage.models.clip import create_clip
    from vantage.models.vlm import build_llava, convert_open_clip_tower, train_bpe_tokenizer
    from vantage.train.vlm import vlm_corpus

    torch.set_num_threads(2)
    classes = ["airplane", "bench", "cabinet", "car", "chair", "display", "lamp"]
    tok = train_bpe_tokenizer(vlm_corpus(classes, [f"a photo of a {c}." for c in classes]), 512)
    clip, _ = create_clip("vantage-clip-tiny")
    model = build_llava(convert_open_clip_tower(clip), tok, seed=0)
    model.generation_config.eos_token_id = None  # decode every token in both runs
    images = torch.rand(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cfg = VLMEvalConfig(max_new_tokens=args.new_tokens, batch_size=args.batch)
    generate(model, tok, images[:2], "Describe the image.", cfg)  # warm-up
    times: dict[str, list[float]] = {"cache": [], "no cache": []}
    outputs = {}
    for _ in range(args.repeats):
        for name, cache in (("cache", True), ("no cache", False)):
            start = time.perf_counter()
            outputs[name] = generate(model, tok, images, "Describe the image.", cfg, use_cache=cache)
            times[name].append(time.perf_counter() - start)
    assert outputs["cache"] == outputs["no cache"], "the KV cache changed the greedy output"
    tokens = args.batch * args.new_tokens
    rate = {k: tokens / statistics.median(v) for k, v in times.items()}
    prompt = model.config.image_seq_length + len(tok("\nQ: Describe the image.\nA:").input_ids) + 1
    result = {"machine": platform.platform(), "date": time.strftime("%Y-%m-%d"), "batch": args.batch,
              "new_tokens": args.new_tokens, "prompt_tokens": prompt, "seconds": times,
              "tokens_per_s": {k: round(v, 1) for k, v in rate.items()},
              "speedup": round(rate["cache"] / rate["no cache"], 2)}  # fmt: skip
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "vlm_generate.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# VLM generation with and without the KV cache",
        "",
        f"Machine: {platform.platform()}, 2 threads; {result['date']}. Command: `scripts/venv-run python "
        f"benchmarks/vlm_generate.py --batch {args.batch} --new-tokens {args.new_tokens} --repeats {args.repeats}`.",
        f"The CPU-scale LLaVA (vantage-clip-tiny tower, 16 image tokens; 2-layer 128-wide Llama), greedy, batch "
        f"{args.batch}, prompt {prompt} tokens, {args.new_tokens} new tokens each; runs alternated; outputs equal.",
        "",
        "| decoding | wall s (each round) | tokens/s (median) |",
        "|---|---|---:|",
        *(f"| {k} | {', '.join(f'{t:.2f}' for t in v)} | {rate[k]:.0f} |" for k, v in times.items()),
        "",
        f"**KV cache speed-up: {result['speedup']}x.**",
    ]
    (out / "vlm_generate.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
