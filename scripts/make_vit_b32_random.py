#!/usr/bin/env python3
"""Writes a ViT-B/32-shaped CLIP checkpoint with random weights (development tool, numpy only): the tensor names and
layout of the clip-tiny fixture (Hugging Face CLIPModel), at ViT-B/32's sizes (vision 768 wide, 12 layers, 12 heads,
MLP 3072; text 512 wide, 12 layers, 8 heads, MLP 2048; projection 512), weights N(0, 0.02), LayerNorms 1 and 0.
Used by winnow-bench's embed-int8 case where no transformers/PyTorch environment is set up. No real weights: these
cannot show a trained model's activation outliers.

    .venv/bin/python scripts/make_vit_b32_random.py ../shared/fixtures/clip-tiny/model OUT_DIR
"""
import json
import os
import re
import shutil
import struct
import sys

import numpy as np

TINY = {"vision": (48, 192), "text": (48, 192)}
BIG = {"vision": (768, 3072, 12, 12), "text": (512, 2048, 12, 8)}


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    raw = open(os.path.join(src, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    rng = np.random.default_rng(1)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        tower = "vision" if name.startswith("vision_model") or name == "visual_projection.weight" else "text"
        hidden, inter, layers, _ = BIG[tower]
        names = [name]
        m = re.match(r"(.*\.layers\.)(\d+)(\..*)", name)
        if m:
            if int(m.group(2)) != 0:
                continue
            names = [f"{m.group(1)}{i}{m.group(3)}" for i in range(layers)]
        shape = []
        for d in info["shape"]:
            shape.append({48: hidden, 192: inter, 24: 512}.get(d, d))
        if name in ("visual_projection.weight", "text_projection.weight"):
            shape = [512, hidden]
        for nm in names:
            if nm.endswith("logit_scale"):
                value = np.array([2.6592], dtype=np.float32).reshape(shape)
            elif re.search(r"(layer_norm\d|layrnorm|layernorm|final_layer_norm)\.weight$", nm):
                value = np.ones(shape, dtype=np.float32)
            elif nm.endswith(".bias") or "position_ids" in nm:
                value = np.zeros(shape, dtype=np.float32)
            else:
                value = (rng.standard_normal(shape) * 0.02).astype(np.float32)
            tensors[nm] = value
    head = {}
    offset = 0
    for nm, v in tensors.items():
        head[nm] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
    hb = json.dumps(head).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for v in tensors.values():
            f.write(v.tobytes())
    config = json.load(open(os.path.join(src, "config.json")))
    config["projection_dim"] = 512
    for tower, key in (("vision", "vision_config"), ("text", "text_config")):
        hidden, inter, layers, heads = BIG[tower]
        config[key].update(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                           num_attention_heads=heads, projection_dim=512)
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
    for extra in ("vocab.json", "merges.txt", "preprocessor_config.json", "special_tokens_map.json",
                  "tokenizer_config.json"):
        if os.path.exists(os.path.join(src, extra)):
            shutil.copy(os.path.join(src, extra), out)
    print(f"make_vit_b32_random: {len(tensors)} tensors, {offset / 1e6:.0f} MB in {out}")


if __name__ == "__main__":
    main()
