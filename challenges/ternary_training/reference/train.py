"""train(train_ids, val_ids, config) -> (model, report) for the ternary Qwen3-style LM."""
from __future__ import annotations

import math
import time

import numpy as np

from model import TernaryLM
from ternary import ternary_project

DEFAULTS = {
    "vocab_size": 256, "d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
    "head_dim": 16, "d_ff": 176, "seq_len": 32, "batch_size": 16, "steps": 200,
    "lr": 1e-2, "warmup_steps": 10, "weight_decay": 0.0, "grad_clip": 1.0,
    "group_size": 128, "seed": 0, "rope_base": 10000.0,
}


class Adam:
    def __init__(self, params, lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0):
        self.params, self.lr, self.betas, self.eps, self.wd = params, lr, betas, eps, weight_decay
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads, lr):
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for k, p in self.params.items():
            g = grads[k]
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            if self.wd and p.ndim == 2:
                p -= lr * self.wd * p
            p -= lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def lr_at(step, cfg):
    """Linear warm-up, then cosine decay to 10% of the peak."""
    peak, warm, total = cfg["lr"], cfg["warmup_steps"], cfg["steps"]
    if step < warm:
        return peak * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def eval_nll(model, ids, seq_len, batch=64):
    """Mean NLL (nats) of ids[1:], in windows starting at 0, T, 2T, ...; window k feeds
    ids[kT : kT+T] and predicts ids[kT+1 : kT+T+1] (the last window may be shorter)."""
    ids = np.asarray(ids, dtype=np.int64)
    n_full = (ids.size - 1) // seq_len
    total, count = 0.0, 0
    for b0 in range(0, n_full, batch):  # full windows, batched
        rows = np.arange(b0, min(n_full, b0 + batch))
        idx = rows[:, None] * seq_len + np.arange(seq_len)[None, :]
        lp = model.batch_logprobs(ids[idx])
        tgt = ids[idx + 1]
        total -= np.take_along_axis(lp, tgt[..., None], axis=-1).sum()
        count += tgt.size
    rest = ids[n_full * seq_len:]
    if rest.size > 1:
        lp = model.logprobs(rest[:-1])
        total -= lp[np.arange(rest.size - 1), rest[1:]].sum()
        count += rest.size - 1
    return total / count


def layer_report(model, group_size):
    rows = []
    latents = model.latent_weights()
    for name, eff in model.linear_weights().items():
        latent = latents[name]
        codes, scales = ternary_project(latent, group_size)
        per_elem = np.repeat(scales, group_size, axis=-1)[..., :latent.shape[-1]]
        ratio = np.divide(eff, per_elem, out=np.zeros_like(eff, dtype=np.float64), where=per_elem > 0)
        err = float(np.abs(ratio - codes).max())
        rows.append({
            "name": name, "shape": list(eff.shape), "group_size": group_size,
            "codes": sorted(int(c) for c in np.unique(codes)),
            "max_code_error": err, "ternary": bool(err < 1e-5),
        })
    return rows


def train(train_ids, val_ids, config):
    t0 = time.perf_counter()
    cfg = {**DEFAULTS, **(config or {})}
    train_ids = np.asarray(train_ids, dtype=np.int64)
    val_ids = np.asarray(val_ids, dtype=np.int64)
    T, B = cfg["seq_len"], cfg["batch_size"]
    if train_ids.size < T + 2 or val_ids.size < 2:
        raise ValueError("training and validation data are too short for seq_len")
    if train_ids.min() < 0 or max(train_ids.max(), val_ids.max()) >= cfg["vocab_size"]:
        raise ValueError("token ids outside [0, vocab_size)")
    model = TernaryLM(cfg, seed=cfg["seed"])
    params = model.params()
    opt = Adam(params, cfg["lr"], weight_decay=cfg["weight_decay"])
    rng = np.random.default_rng(cfg["seed"] + 1)
    data = train_ids  # only the training split is ever sampled
    losses = []
    for step in range(cfg["steps"]):
        starts = rng.integers(0, data.size - T - 1, size=B)
        idx = starts[:, None] + np.arange(T)[None, :]
        loss, grads = model.loss_and_grads(data[idx], data[idx + 1])
        norm = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
        if cfg["grad_clip"] and norm > cfg["grad_clip"]:
            grads = {k: g * (cfg["grad_clip"] / norm) for k, g in grads.items()}
        opt.step(grads, lr_at(step, cfg))
        losses.append(loss)
    train_wall = time.perf_counter() - t0
    val_loss = eval_nll(model, val_ids, T)
    tail = losses[-min(10, len(losses)):]
    sample_ids = model.generate(list(b"Once, in "), 60)
    report = {
        "loss_curve": [float(x) for x in losses],
        "final_loss": float(np.mean(tail)),
        "val_loss": float(val_loss),
        "val_perplexity": float(math.exp(val_loss)),
        "steps": cfg["steps"],
        "tokens_seen": cfg["steps"] * B * T,
        "layers": layer_report(model, cfg["group_size"]),
        "samples": ["Once, in " + bytes(sample_ids).decode("latin-1")],
        "train_wall_s": train_wall,
        "wall_s": time.perf_counter() - t0,
    }
    return model, report
