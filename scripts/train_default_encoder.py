#!/usr/bin/env python3
"""Trains Winnow's small default CLIP encoder on the sample web (development tool; run in .venv-embed).

The sample web (`winnow sample-web`) is the only source of the training distribution: its drawn images and the
captions that truly describe them (truth.jsonl). The model has CLIP's architecture and tokenizer at a tiny size
(64 px images, 8 px patches), is trained contrastively from scratch with PyTorch, and is saved as a Hugging Face
checkpoint in float16 (config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json): the same
files and the same loader as any real CLIP checkpoint. It only knows the sample web.

Held-out evaluation: a sample web drawn with another seed; each image against its own caption (positive) and
against the caption of another image showing a different scene (negative). Prints ROC AUC and the threshold that
separates the two best; writes both to OUT/training.json.

  python scripts/train_default_encoder.py --winnow .build/release/winnow --out models/sample-web-clip
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_DIR = os.path.join(HERE, "..", "..", "shared", "fixtures", "clip-tiny", "model")
SIZE = 64
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def sample_web(winnow, directory, pages, seed):
    subprocess.run([winnow, "sample-web", "--output", directory, "--pages", str(pages), "--seed", str(seed)],
                   check=True, stdout=subprocess.DEVNULL)
    pairs = []
    seen = set()
    with open(os.path.join(directory, "truth.jsonl")) as f:
        for line in f:
            t = json.loads(line)
            host, path = t["url"][len("http://"):].split("/", 1)
            file = os.path.join(directory, "sites", host, path)
            if file in seen or not os.path.exists(file):
                continue
            seen.add(file)
            scene = (t["shape"], t["colour"], t["count"], t["background"])
            pairs.append((file, t["caption"], scene))
    return pairs


def preprocess(file):
    """What Winnow's CLIPPreprocessor computes: Pillow bicubic short side to SIZE, centre crop (floor), normalise."""
    im = Image.open(file).convert("RGB")
    w, h = im.size
    if w <= h:
        size = (SIZE, SIZE * h // w)
    else:
        size = (SIZE * w // h, SIZE)
    im = im.resize(size, Image.BICUBIC)
    left, top = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
    im = im.crop((left, top, left + SIZE, top + SIZE))
    x = np.asarray(im, dtype=np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1)


def encode(model, pixels, ids):
    with torch.no_grad():
        i = model.get_image_features(pixel_values=pixels)
        t = model.get_text_features(input_ids=ids)
    i = getattr(i, "pooler_output", i)
    t = getattr(t, "pooler_output", t)
    return torch.nn.functional.normalize(i, dim=-1), torch.nn.functional.normalize(t, dim=-1)


def roc_auc(positives, negatives):
    scores = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return (ranks[labels == 1].sum() - len(positives) * (len(positives) + 1) / 2) / (len(positives) * len(negatives))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--winnow", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--pages", type=int, default=1200)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(a.threads)
    tokenizer = CLIPTokenizer(os.path.join(VOCAB_DIR, "vocab.json"), os.path.join(VOCAB_DIR, "merges.txt"))
    work = tempfile.mkdtemp(prefix="winnow-train-")
    try:
        train = sample_web(a.winnow, os.path.join(work, "train"), a.pages, 101)
        held = sample_web(a.winnow, os.path.join(work, "held"), max(100, a.pages // 5), 202)
        def tensors(pairs):
            pixels = torch.from_numpy(np.stack([preprocess(f) for f, _, _ in pairs]))
            ids = torch.tensor(tokenizer([c for _, c, _ in pairs], padding="max_length", max_length=77,
                                         truncation=True)["input_ids"])
            return pixels, ids
        train_pixels, train_ids = tensors(train)
        held_pixels, held_ids = tensors(held)
    finally:
        shutil.rmtree(work)
    print(f"train {len(train)} pairs, held-out {len(held)} pairs", flush=True)

    config = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2,
                         max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu",
                         eos_token_id=49407, bos_token_id=49406),
        vision_config=dict(hidden_size=64, intermediate_size=256, num_attention_heads=2, num_hidden_layers=3,
                           image_size=SIZE, patch_size=8, hidden_act="quick_gelu"),
        projection_dim=32)
    model = CLIPModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps_per_epoch = (len(train) + 255) // 256
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=a.epochs * steps_per_epoch)
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(train))
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * 256:(s + 1) * 256]
            pixels = train_pixels[idx]
            # Light augmentation: horizontal flips keep every caption true.
            flip = torch.rand(len(idx)) < 0.5
            pixels[flip] = pixels[flip].flip(-1)
            out = model(input_ids=train_ids[idx], pixel_values=pixels, return_loss=True)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            sched.step()
            total += out.loss.item()
        print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f}", flush=True)

    model.eval()
    img, txt = encode(model, held_pixels, held_ids)
    positives = (img * txt).sum(-1).numpy()
    rng = random.Random(1)
    negatives = []
    for i in range(len(held)):
        j = rng.randrange(len(held))
        while held[j][2] == held[i][2]:
            j = rng.randrange(len(held))
        negatives.append(float((img[i] * txt[j]).sum()))
    negatives = np.array(negatives)
    auc = roc_auc(positives, negatives)
    candidates = np.sort(np.concatenate([positives, negatives]))
    accuracy = [((positives >= t).sum() + (negatives < t).sum()) / (2 * len(held)) for t in candidates]
    best = int(np.argmax(accuracy))
    threshold = float(np.round(candidates[best], 2))
    kept = float((positives >= threshold).mean())
    dropped = float((negatives < threshold).mean())
    print(f"held-out ROC AUC {auc:.4f}; threshold {threshold}: keeps {kept:.3f} of matching pairs, drops "
          f"{dropped:.3f} of mismatched", flush=True)

    os.makedirs(a.out, exist_ok=True)
    model.half().save_pretrained(a.out, safe_serialization=True)
    for name in ["vocab.json", "merges.txt"]:
        target = os.path.join(a.out, name)
        if os.path.exists(target):
            os.remove(target)
        shutil.copyfile(os.path.join(VOCAB_DIR, name), target)
    with open(os.path.join(VOCAB_DIR, "preprocessor_config.json")) as f:
        pre = json.load(f)
    pre["size"] = {"shortest_edge": SIZE}
    pre["crop_size"] = {"height": SIZE, "width": SIZE}
    with open(os.path.join(a.out, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, "training.json"), "w") as f:
        json.dump({"train_pairs": len(train), "held_out_pairs": len(held), "epochs": a.epochs,
                   "held_out_roc_auc": round(float(auc), 4), "threshold": threshold,
                   "matching_kept_at_threshold": round(kept, 4), "mismatched_dropped_at_threshold": round(dropped, 4),
                   "torch": torch.__version__, "seed_train_web": 101, "seed_held_out_web": 202,
                   "pages_train_web": a.pages}, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
