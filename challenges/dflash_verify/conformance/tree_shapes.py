"""Draft trees built around the target's greedy continuation G of a prompt.

Every shape places G (or part of it) somewhere in a tree, with distractors that can only
be told apart by a correct mask, row index and walk. Distractor tokens always differ from
the greedy token at their depth and from their siblings, so the correct answer is unique.
A "self-consistent" wrong branch continues a wrong token with the target's own greedy
choices, so it matches its parents' rows and is accepted by a walk that forgets that its
root was rejected.
"""
from __future__ import annotations

import numpy as np

from tree_oracle import greedy_next


class TreeBuilder:
    def __init__(self, model, prompt, rng):
        self.model, self.prompt, self.rng = model, list(prompt), rng
        self.tokens: list[int] = []
        self.parents: list[int] = []

    def add(self, token, parent=-1) -> int:
        self.tokens.append(int(token))
        self.parents.append(int(parent))
        return len(self.tokens) - 1

    def path(self, node):
        out = []
        while node >= 0:
            out.append(self.tokens[node])
            node = self.parents[node]
        return out[::-1]

    def greedy_at(self, parent) -> int:
        """The target's greedy token after prompt + the path to `parent` (-1: the prompt)."""
        return greedy_next(self.model, self.prompt + self.path(parent))

    def wrong(self, parent) -> int:
        """A child token for `parent` that the target rejects and no sibling carries."""
        taken = {self.tokens[c] for c in range(len(self.tokens)) if self.parents[c] == parent}
        taken.add(self.greedy_at(parent))
        choices = [t for t in range(self.model.vocab_size) if t not in taken]
        return int(self.rng.choice(choices))

    def add_wrong(self, parent=-1, follow=0) -> int:
        """A rejected node, optionally continued by `follow` self-consistent descendants."""
        node = self.add(self.wrong(parent), parent)
        top = node
        for _ in range(follow):
            node = self.add(self.greedy_at(node), node)
        return top

    def add_right(self, parent=-1) -> int:
        return self.add(self.greedy_at(parent), parent)

    def tree(self):
        return list(self.tokens), list(self.parents)


# --- chains: no siblings, so row index and mask mistakes cannot matter -------------------
def chain_all_accepted(b):
    node = -1
    for _ in range(5):
        node = b.add_right(node)


def chain_rejected_leaf(b):
    node = b.add_right(b.add_right())
    b.add_wrong(node)


def chain_rejected_first(b):
    b.add_wrong(-1)


def empty_tree(b):
    pass


def chain_rejected_at_3(b):
    node = b.add_right(b.add_right(b.add_right()))
    b.add_wrong(node, follow=2)


def chain_rejected_at_1(b):
    b.add_wrong(b.add_right(), follow=2)


def chain_rejected_at_0(b):
    b.add_wrong(-1, follow=3)


# --- the right child is always the first child, but non-ancestors precede path nodes ---
def uncle_before_path(b):
    g0 = b.add_right()
    b.add_wrong(-1)                      # a second root between G0 and its child
    b.add_right(b.add_right(b.add_right(g0)))


def offpath_sibling_then_deeper(b):
    g0 = b.add_right()
    g1 = b.add_right(g0)
    b.add_wrong(g0)
    b.add_right(b.add_right(g1))


def cousin_before_path(b):
    g0 = b.add_right()
    g1 = b.add_right(g0)
    w = b.add_wrong(g0)
    b.add_wrong(w)                       # under a rejected node, not its greedy token
    b.add_right(b.add_right(g1))


def bait_after_path(b):
    g0 = b.add_right()
    g1 = b.add_right(g0)
    g2 = b.add_right(g1)
    w = b.add_wrong(g1)
    # The next node is judged by G2's row; "row of the previous node" would use w's row.
    bait = greedy_next(b.model, b.prompt + b.path(w))
    if bait != b.greedy_at(g2):
        b.add(bait, g2)


def depth_row_bait(b):
    # Node 3 sits at depth 3, so "row P - 1 + depth - 1" is row P + 1, the off-path root's
    # row; the bait carries that row's prediction and is accepted only by that mistake.
    g0 = b.add_right()
    w = b.add_wrong(-1)
    g1 = b.add_right(g0)
    bait = greedy_next(b.model, b.prompt + b.path(w))
    if bait != b.greedy_at(g1):
        b.add(bait, g1)
    else:
        b.add_right(g1)


def own_row_bait(b):
    # The literal `logits[len(generated):]` reading judges node i by its own row P + i. A
    # root whose token is what the target predicts after that very token is accepted by
    # that mistake only (when no such token exists for this prompt, a plain wrong root).
    greedy = b.greedy_at(-1)
    fixed = [t for t in range(b.model.vocab_size)
             if t != greedy and greedy_next(b.model, b.prompt + [t]) == t]
    if fixed:
        b.add(fixed[0])
    else:
        b.add_wrong(-1)
    b.add_right()


# --- the right token sits in a later sibling; right nodes are leaves -------------------
def later_sibling_leaf(b):
    g0 = b.add_right()
    b.add_wrong(g0)
    b.add_right(g0)


def wrong_root_then_right_leaf(b):
    b.add_wrong(-1)
    b.add_right()


def star_leaf(b):
    for _ in range(4):
        b.add_wrong(-1)
    b.add_right()


# --- mixed shapes for the end-to-end comparison ---------------------------------------
def wrong_root_then_right_root(b):
    b.add_wrong(-1, follow=1)
    b.add_right(b.add_right(b.add_right()))


def accepted_then_offpath_sibling(b):
    g0 = b.add_right()
    g1 = b.add_right(g0)
    y = b.add_wrong(g0)
    g2 = b.add_right(g1)
    b.add(b.greedy_at(y), y)             # self-consistent child of the rejected sibling
    b.add_wrong(g2)


def right_token_in_later_sibling(b):
    g0 = b.add_right()
    a = b.add_wrong(g0)
    b.add_wrong(g0)
    g1 = b.add_right(g0)
    b.add_right(g1)
    b.add_wrong(a)


def deep_tree(b, break_at=None):
    node = -1
    for d in range(8):
        before = d % 2 == 0
        if before:
            b.add_wrong(node, follow=1)
        if d == break_at:
            b.add_wrong(node, follow=2)
            return
        nxt = b.add_right(node)
        if not before:
            b.add_wrong(node, follow=1)
        node = nxt


def deep_tree_break_at_5(b):
    deep_tree(b, break_at=5)


def duplicates_across_branches(b):
    x = b.add_wrong(-1)
    g1_token = greedy_next(b.model, b.prompt + [b.greedy_at(-1)])
    if g1_token != b.greedy_at(x):       # a copy of the right depth-1 token under a wrong root
        b.add(g1_token, x)
    g0 = b.add_right()
    if b.tokens[x] != b.greedy_at(g0):   # the wrong root's token again, now under G0
        b.add(b.tokens[x], g0)
    b.add_right(b.add_right(g0))


def rejected_subtree_selfconsistent(b):
    b.add_wrong(-1, follow=2)
    b.add_wrong(b.add_right(), follow=1)


def no_root_matches(b):
    b.add_wrong(-1, follow=1)
    b.add_wrong(-1)


def leaf_then_other_branch(b):
    b.add_right(b.add_right())
    b.add_wrong(-1, follow=1)


def star(b):
    for _ in range(4):
        b.add_wrong(-1)
    b.add_right(b.add_right())


def _named(*fns):
    return {f.__name__: f for f in fns}


BONUS_SHAPES = _named(chain_all_accepted, chain_rejected_leaf, chain_rejected_first)
SUBTREE_SHAPES = _named(chain_rejected_at_3, chain_rejected_at_1, chain_rejected_at_0)
LOGITS_SHAPES = _named(uncle_before_path, offpath_sibling_then_deeper, cousin_before_path,
                       bait_after_path, depth_row_bait, own_row_bait)
SIBLING_SHAPES = _named(later_sibling_leaf, wrong_root_then_right_leaf, star_leaf)
MIXED_SHAPES = _named(empty_tree, wrong_root_then_right_root, accepted_then_offpath_sibling,
                      right_token_in_later_sibling, deep_tree, deep_tree_break_at_5,
                      duplicates_across_branches, rejected_subtree_selfconsistent,
                      no_root_matches, leaf_then_other_branch, star)
SHAPES = {**BONUS_SHAPES, **SUBTREE_SHAPES, **LOGITS_SHAPES, **SIBLING_SHAPES, **MIXED_SHAPES}


def build(shape, model, prompt, seed):
    b = TreeBuilder(model, prompt, np.random.default_rng(seed))
    SHAPES[shape](b)
    return b.tree()


def random_draft_tree(model, prompt, rng, max_depth=6, hit_rate=0.8):
    """A drafter's guess: each level holds the right token with probability hit_rate, next to
    0-2 distractors; the walk continues below the right token."""
    b = TreeBuilder(model, prompt, rng)
    node = -1
    for _ in range(int(rng.integers(1, max_depth + 1))):
        n_wrong = int(rng.integers(0, 3))
        right_pos = int(rng.integers(0, n_wrong + 1))
        nxt = None
        for k in range(n_wrong + 1):
            if k == right_pos and rng.random() < hit_rate:
                nxt = b.add_right(node)
            else:
                b.add_wrong(node, follow=int(rng.integers(0, 2)))
        if nxt is None:
            break
        node = nxt
    return b.tree()
