"""A small Qwen3-style decoder in NumPy with a hand-written backward.

Pre-norm blocks: RMSNorm -> GQA attention (per-head RMSNorm on q and k, RoPE, causal)
-> residual; RMSNorm -> SwiGLU MLP -> residual; final RMSNorm; LM head. Every matrix,
the token embedding and the LM head included, is ternary (TernaryLinear /
TernaryEmbedding, straight-through backward); RMSNorm gains stay full precision.
"""
from __future__ import annotations

import numpy as np

from ternary import TernaryLinear, project_weight

EPS = 1e-6


def rmsnorm_fwd(x, g):
    inv = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS)
    xhat = x * inv
    return xhat * g, (xhat, inv, g)


def rmsnorm_bwd(dy, cache):
    xhat, inv, g = cache
    dg = (dy * xhat).reshape(-1, g.shape[0]).sum(axis=0)
    dxhat = dy * g
    dx = (dxhat - xhat * np.mean(dxhat * xhat, axis=-1, keepdims=True)) * inv
    return dx, dg


def rope_tables(T, head_dim, base, dtype):
    half = head_dim // 2
    freqs = base ** (-np.arange(half, dtype=np.float64) / half)
    ang = np.arange(T, dtype=np.float64)[:, None] * freqs[None, :]
    return np.cos(ang).astype(dtype), np.sin(ang).astype(dtype)


def rope(x, cos, sin, inverse=False):
    """Rotate pairs (i, i + hd/2) of x (..., T, hd); the inverse rotation is the backward."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    if inverse:
        sin = -sin
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def silu(x):
    return x / (1.0 + np.exp(-x))


class TernaryEmbedding:
    """Token lookup in the ternary-projected embedding table (V, d)."""

    def __init__(self, W_latent, group_size, ternary=True):
        self.weight = np.array(W_latent, copy=True)
        self.group_size = group_size
        self.ternary = ternary
        self._ids = None

    def effective_weight(self):
        return project_weight(self.weight, self.group_size) if self.ternary else self.weight

    def forward(self, ids):
        self._ids = ids
        return self.effective_weight()[ids]

    def backward(self, dy):
        dW = np.zeros_like(self.weight)
        np.add.at(dW, self._ids.reshape(-1), dy.reshape(-1, dy.shape[-1]))
        return dW  # straight-through: gradient of the effective table


class Block:
    def __init__(self, cfg, rng, dtype, prefix):
        d, H, KV, hd, ff = cfg["d_model"], cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"], cfg["d_ff"]
        g = cfg["group_size"]

        def lin(out_f, in_f):
            w = rng.standard_normal((out_f, in_f)) / np.sqrt(in_f)
            return TernaryLinear(w.astype(dtype), g)

        self.lin = {
            "self_attn.q_proj": lin(H * hd, d),
            "self_attn.k_proj": lin(KV * hd, d),
            "self_attn.v_proj": lin(KV * hd, d),
            "self_attn.o_proj": lin(d, H * hd),
            "mlp.gate_proj": lin(ff, d),
            "mlp.up_proj": lin(ff, d),
            "mlp.down_proj": lin(d, ff),
        }
        self.norm = {
            "input_layernorm": np.ones(d, dtype),
            "post_attention_layernorm": np.ones(d, dtype),
            "self_attn.q_norm": np.ones(hd, dtype),
            "self_attn.k_norm": np.ones(hd, dtype),
        }
        self.H, self.KV, self.hd = H, KV, hd
        self.prefix = prefix

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        H, KV, hd = self.H, self.KV, self.hd
        rep = H // KV
        L, N = self.lin, self.norm
        c = {}
        xn, c["n1"] = rmsnorm_fwd(x, N["input_layernorm"])
        q = L["self_attn.q_proj"].forward(xn).reshape(B, T, H, hd)
        k = L["self_attn.k_proj"].forward(xn).reshape(B, T, KV, hd)
        v = L["self_attn.v_proj"].forward(xn).reshape(B, T, KV, hd)
        q, c["qn"] = rmsnorm_fwd(q, N["self_attn.q_norm"])
        k, c["kn"] = rmsnorm_fwd(k, N["self_attn.k_norm"])
        q = rope(q.transpose(0, 2, 1, 3), cos, sin)  # (B, H, T, hd)
        k = rope(k.transpose(0, 2, 1, 3), cos, sin)  # (B, KV, T, hd)
        v = v.transpose(0, 2, 1, 3)
        # Query heads h*rep .. h*rep+rep-1 share kv head h: fold them into the row axis.
        qg = q.reshape(B, KV, rep * T, hd)
        scale = float(1.0 / np.sqrt(hd))
        S = (qg @ k.transpose(0, 1, 3, 2)) * scale
        S = S.reshape(B, KV, rep, T, T) + mask
        S = S - S.max(axis=-1, keepdims=True)
        P = np.exp(S)
        P /= P.sum(axis=-1, keepdims=True)
        P = P.reshape(B, KV, rep * T, T)
        O = (P @ v).reshape(B, H, T, hd).transpose(0, 2, 1, 3).reshape(B, T, H * hd)
        h = x + L["self_attn.o_proj"].forward(O)
        hn, c["n2"] = rmsnorm_fwd(h, N["post_attention_layernorm"])
        gt = L["mlp.gate_proj"].forward(hn)
        up = L["mlp.up_proj"].forward(hn)
        sig = 1.0 / (1.0 + np.exp(-gt))
        act = gt * sig * up
        out = h + L["mlp.down_proj"].forward(act)
        c.update(qg=qg, k=k, v=v, P=P, gt=gt, up=up, sig=sig, scale=scale, shape=(B, T))
        self._c = c
        return out

    def backward(self, dout, cos, sin, grads):
        c = self._c
        B, T = c["shape"]
        H, KV, hd = self.H, self.KV, self.hd
        rep = H // KV
        L, p = self.lin, self.prefix
        dact, grads[p + "mlp.down_proj"] = L["mlp.down_proj"].backward(dout)
        gt, up, sig = c["gt"], c["up"], c["sig"]
        dup = dact * gt * sig
        dgt = dact * up * sig * (1.0 + gt * (1.0 - sig))
        dhn, grads[p + "mlp.gate_proj"] = L["mlp.gate_proj"].backward(dgt)
        dhn2, grads[p + "mlp.up_proj"] = L["mlp.up_proj"].backward(dup)
        dh, grads[p + "post_attention_layernorm"] = rmsnorm_bwd(dhn + dhn2, c["n2"])
        dh = dh + dout
        dO, grads[p + "self_attn.o_proj"] = L["self_attn.o_proj"].backward(dh)
        dO = dO.reshape(B, T, H, hd).transpose(0, 2, 1, 3).reshape(B, KV, rep * T, hd)
        P, qg, k, v, scale = c["P"], c["qg"], c["k"], c["v"], c["scale"]
        dv = P.transpose(0, 1, 3, 2) @ dO  # sums over the heads sharing each kv head
        dP = dO @ v.transpose(0, 1, 3, 2)
        dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True)) * scale
        dq = (dS @ k).reshape(B, H, T, hd)
        dk = dS.transpose(0, 1, 3, 2) @ qg
        dq = rope(dq, cos, sin, inverse=True).transpose(0, 2, 1, 3)
        dk = rope(dk, cos, sin, inverse=True).transpose(0, 2, 1, 3)
        dq, grads[p + "self_attn.q_norm"] = rmsnorm_bwd(dq, c["qn"])
        dk, grads[p + "self_attn.k_norm"] = rmsnorm_bwd(dk, c["kn"])
        dx1, grads[p + "self_attn.q_proj"] = L["self_attn.q_proj"].backward(dq.reshape(B, T, H * hd))
        dx2, grads[p + "self_attn.k_proj"] = L["self_attn.k_proj"].backward(dk.reshape(B, T, KV * hd))
        dx3, grads[p + "self_attn.v_proj"] = L["self_attn.v_proj"].backward(
            dv.transpose(0, 2, 1, 3).reshape(B, T, KV * hd))
        dx, grads[p + "input_layernorm"] = rmsnorm_bwd(dx1 + dx2 + dx3, c["n1"])
        return dx + dh


class TernaryLM:
    def __init__(self, cfg, seed=0, dtype=np.float32, ternary=True):
        self.cfg = cfg
        self.dtype = dtype
        rng = np.random.default_rng(seed)
        V, d, g = cfg["vocab_size"], cfg["d_model"], cfg["group_size"]
        if cfg["n_heads"] % cfg["n_kv_heads"] or cfg["head_dim"] % 2:
            raise ValueError("n_heads must be a multiple of n_kv_heads and head_dim even")
        self.embed = TernaryEmbedding(rng.standard_normal((V, d)).astype(dtype), g)
        self.blocks = [Block(cfg, rng, dtype, f"model.layers.{i}.") for i in range(cfg["n_layers"])]
        self.final_norm = np.ones(d, dtype)
        self.lm_head = TernaryLinear((rng.standard_normal((V, d)) / np.sqrt(d)).astype(dtype), g)
        if not ternary:  # dense variant, used by the gradient checks
            for layer in self._linear_layers().values():
                layer.ternary = False

    # ---- parameters -------------------------------------------------------------
    def _linear_layers(self):
        out = {"model.embed_tokens": self.embed}
        for b in self.blocks:
            for k, layer in b.lin.items():
                out[b.prefix + k] = layer
        out["lm_head"] = self.lm_head
        return out

    def params(self):
        """name -> array updated in place by the optimiser (latent weights, norm gains)."""
        out = {k: layer.weight for k, layer in self._linear_layers().items()}
        for b in self.blocks:
            for k, g in b.norm.items():
                out[b.prefix + k] = g
        out["model.norm"] = self.final_norm
        return out

    def linear_weights(self):
        """Effective (dequantised ternary) weight of every matrix, embedding and LM head included."""
        return {k: np.array(layer.effective_weight()) for k, layer in self._linear_layers().items()}

    def latent_weights(self):
        return {k: layer.weight.copy() for k, layer in self._linear_layers().items()}

    def norm_weights(self):
        return {k: v.copy() for k, v in self.params().items() if v.ndim == 1}

    # ---- forward / backward -----------------------------------------------------
    def forward(self, ids):
        ids = np.asarray(ids)
        B, T = ids.shape
        cos, sin = rope_tables(T, self.cfg["head_dim"], self.cfg.get("rope_base", 10000.0), self.dtype)
        mask = np.triu(np.full((T, T), -np.inf, self.dtype), k=1)
        x = self.embed.forward(ids)
        for b in self.blocks:
            x = b.forward(x, cos, sin, mask)
        xn, self._nf = rmsnorm_fwd(x, self.final_norm)
        self._rope = (cos, sin)
        return self.lm_head.forward(xn)

    def loss_and_grads(self, ids, targets):
        logits = self.forward(ids)
        B, T, V = logits.shape
        z = logits - logits.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        flat = logp.reshape(-1, V)
        tgt = np.asarray(targets).reshape(-1)
        loss = -flat[np.arange(tgt.size), tgt].mean()
        dlogits = np.exp(flat)
        dlogits[np.arange(tgt.size), tgt] -= 1.0
        dlogits = (dlogits / tgt.size).reshape(B, T, V).astype(self.dtype)
        grads = {}
        dxn, grads["lm_head"] = self.lm_head.backward(dlogits)
        dx, grads["model.norm"] = rmsnorm_bwd(dxn, self._nf)
        cos, sin = self._rope
        for b in reversed(self.blocks):
            dx = b.backward(dx, cos, sin, grads)
        grads["model.embed_tokens"] = self.embed.backward(dx)
        return float(loss), grads

    def batch_logprobs(self, ids):
        """(B, T) ids -> (B, T, V) float64 next-token log-probabilities."""
        z = self.forward(np.asarray(ids, dtype=np.int64)).astype(np.float64)
        z -= z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def logprobs(self, token_ids):
        """(L,) ids -> (L, V) float64: row t is log p(next token | ids[0..t])."""
        return self.batch_logprobs(np.asarray(token_ids, dtype=np.int64).reshape(1, -1))[0]

    def nll(self, token_ids):
        """Mean negative log-likelihood (nats) of ids[1:] given their prefixes."""
        ids = np.asarray(token_ids, dtype=np.int64)
        lp = self.logprobs(ids[:-1])
        return float(-lp[np.arange(ids.size - 1), ids[1:]].mean())

    def generate(self, prompt_ids, n_new, temperature=0.0, seed=0):
        rng = np.random.default_rng(seed)
        ids = list(int(t) for t in prompt_ids)
        window = self.cfg["seq_len"]
        for _ in range(n_new):
            lp = self.logprobs(ids[-window:])[-1]
            if temperature <= 0:
                nxt = int(np.argmax(lp))
            else:
                p = np.exp(lp / temperature)
                nxt = int(rng.choice(p.size, p=p / p.sum()))
            ids.append(nxt)
        return ids[len(prompt_ids):]
