#!/usr/bin/env python3
"""PyTorch side of winnow-bench's `embed` case (development tool; never on Winnow's runtime path).

  make-model DIR [--shape b32|tiny] [--seed N]
      Writes a random-weight Hugging Face CLIP checkpoint of that shape (ViT-B/32: 224 px, patch 32, width 768,
      12 layers; text width 512, 12 layers; projection 512) with the real CLIP vocabulary copied from
      ../shared/fixtures/clip-tiny/model, in the layout Winnow loads.
  reference DIR OUT_DIR
      Writes inputs and PyTorch's float32 embeddings for them (pixels.npy [4,3,224,224], ids.npy [4,77] int64,
      image_embeds.npy, text_embeds.npy) so that winnow-bench checks its outputs on the same checkpoint.
  time DIR [--threads 2] [--batch 16] [--runs 3] [--tokens 77] [--int8]
      Times transformers' CLIPModel on the CPU: images/s (fp32, and bf16 autocast), captions/s of `--tokens` real
      tokens padded to 77. With --int8, also the model with PyTorch's dynamic int8 quantisation of every Linear
      layer (torch.ao.quantization.quantize_dynamic, qint8 weights, the fbgemm engine): images_int8, texts_int8.
      Prints `name value` lines.
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
from transformers import CLIPConfig, CLIPModel

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_DIR = os.path.join(HERE, "..", "..", "shared", "fixtures", "clip-tiny", "model")

SHAPES = {
    "b32": dict(
        text=dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12),
        vision=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                    patch_size=32, image_size=224),
        projection_dim=512),
}


def make_model(args):
    shape = SHAPES[args.shape]
    torch.manual_seed(args.seed)
    text = dict(shape["text"], hidden_act="quick_gelu", eos_token_id=49407, bos_token_id=49406, vocab_size=49408,
                max_position_embeddings=77)
    vision = dict(shape["vision"], hidden_act="quick_gelu")
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=shape["projection_dim"])
    model = CLIPModel(config).eval()
    os.makedirs(args.dir, exist_ok=True)
    model.save_pretrained(args.dir, safe_serialization=True)
    for name in ["vocab.json", "merges.txt", "preprocessor_config.json"]:
        target = os.path.join(args.dir, name)
        if os.path.exists(target):
            os.remove(target)
        shutil.copyfile(os.path.join(VOCAB_DIR, name), target)


def load(directory):
    model = CLIPModel.from_pretrained(directory, dtype=torch.float32).eval()
    return model


def reference(args):
    model = load(args.dir)
    rng = np.random.default_rng(5)
    pixels = rng.standard_normal((4, 3, 224, 224)).astype(np.float32)
    ids = np.full((4, 77), 49407, dtype=np.int64)
    for row, n in enumerate([5, 17, 40, 75]):
        ids[row, 0] = 49406
        ids[row, 1:1 + n] = rng.integers(0, 49406, n)
    with torch.no_grad():
        image = model.get_image_features(pixel_values=torch.from_numpy(pixels))
        text = model.get_text_features(input_ids=torch.from_numpy(ids))
    image = getattr(image, "pooler_output", image)
    text = getattr(text, "pooler_output", text)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "pixels.npy"), pixels)
    np.save(os.path.join(args.out, "ids.npy"), ids)
    np.save(os.path.join(args.out, "image_embeds.npy"), image.numpy().astype(np.float32))
    np.save(os.path.join(args.out, "text_embeds.npy"), text.numpy().astype(np.float32))


def rate(fn, units, runs):
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(units / (time.perf_counter() - t0))
    return out


def time_model(args):
    torch.set_num_threads(args.threads)
    model = load(args.dir)
    pixels = torch.randn(args.batch, 3, 224, 224)
    ids = torch.full((args.batch, 77), 49407, dtype=torch.long)
    ids[:, 0] = 49406
    ids[:, 1:1 + args.tokens] = torch.randint(0, 49406, (args.batch, args.tokens))
    mask = torch.zeros_like(ids)
    mask[:, :args.tokens + 2] = 1
    with torch.inference_mode():
        if args.int8_images_only:
            if "fbgemm" in torch.backends.quantized.supported_engines:
                torch.backends.quantized.engine = "fbgemm"
            qmodel = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            # A fresh process is slower for its first batches than one that has run the model for a while: warm it
            # as long as the full `time` run warms it before its int8 figures.
            for _ in range(2 * args.runs + 3):
                qmodel.get_image_features(pixel_values=pixels)
            for r in rate(lambda: qmodel.get_image_features(pixel_values=pixels), args.batch, args.runs):
                print(f"images_int8 {r:.3f}", flush=True)
            return
        if not args.texts_only:
            for r in rate(lambda: model.get_image_features(pixel_values=pixels), args.batch, args.runs):
                print(f"images_fp32 {r:.3f}", flush=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                for r in rate(lambda: model.get_image_features(pixel_values=pixels), args.batch, args.runs):
                    print(f"images_bf16 {r:.3f}", flush=True)
        for r in rate(lambda: model.get_text_features(input_ids=ids, attention_mask=mask), args.batch, args.runs):
            print(f"texts_fp32 {r:.3f}", flush=True)
        if args.int8:
            if "fbgemm" in torch.backends.quantized.supported_engines:
                torch.backends.quantized.engine = "fbgemm"
            qmodel = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            if not args.texts_only:
                for r in rate(lambda: qmodel.get_image_features(pixel_values=pixels), args.batch, args.runs):
                    print(f"images_int8 {r:.3f}", flush=True)
            for r in rate(lambda: qmodel.get_text_features(input_ids=ids, attention_mask=mask), args.batch, args.runs):
                print(f"texts_int8 {r:.3f}", flush=True)
            print(f"quantized engine {torch.backends.quantized.engine}", flush=True)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} capability "
          f"{torch.backends.cpu.get_cpu_capability()}", flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-model")
    m.add_argument("dir")
    m.add_argument("--shape", default="b32", choices=sorted(SHAPES))
    m.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("reference")
    r.add_argument("dir")
    r.add_argument("out")
    t = sub.add_parser("time")
    t.add_argument("dir")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--runs", type=int, default=3)
    t.add_argument("--tokens", type=int, default=75)
    t.add_argument("--texts-only", action="store_true")
    t.add_argument("--int8", action="store_true")
    t.add_argument("--int8-images-only", action="store_true",
                   help="only the dynamic int8 model's images/s (winnow-bench calls it once per run, in turn)")
    a = p.parse_args()
    {"make-model": make_model, "reference": reference, "time": time_model}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
