"""glm5's dflash_verify (dflash.py) seen through the canonical entry points.

Translations only: its build_tree_mask returns the additive form (0 / -inf), and its verify_and_accept returns one flat list of emitted tokens."""
import dflash as _solution
from llmbench.adapter_kit.dflash import additive_mask_flat_emitted

build_tree_mask, verify_and_accept = additive_mask_flat_emitted(_solution)
