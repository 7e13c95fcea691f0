"""The pages and files the site generates from its data, and the outline they make."""
from __future__ import annotations

from typing import Callable

from . import pages
from .claims import claims_page
from .context import Context
from .data import SiteData
from .layout import Outline

Page = Callable[[Context], str]


def generated_pages(d: SiteData) -> dict[str, Page]:
    """The pages the site generates from data, each as a function of its page context.

    Args:
        d: The site data.

    Returns:
        src_uri -> function(ctx) returning the page's markdown (the analysis index is
        added by the plugin only when analysis/ has none).
    """
    out: dict[str, Page] = {
        "challenges/index.md": lambda ctx: pages.challenges_index(d, ctx),
        "statuses.md": lambda ctx: pages.statuses_page(ctx),
        "models/index.md": lambda ctx: pages.models_index(d, ctx),
        "downloads.md": lambda ctx: pages.downloads_page(d, ctx),
        "fidelity.md": lambda ctx: pages.fidelity_page(d, ctx),
        "claims.md": lambda ctx: claims_page(d, ctx),
    }
    for cid in d.challenges:
        out[f"challenges/{cid}.md"] = lambda ctx, cid=cid: pages.challenge_page(d, cid, ctx)
    for mid in d.models:
        out[f"models/{mid}.md"] = lambda ctx, mid=mid: pages.model_page(d, mid, ctx)
    for mid, cid in d.pairs:
        out[f"solutions/{mid}/{cid}.md"] = lambda ctx, m=mid, c=cid: pages.solution_page(d, m, c, ctx)
    return out


def download_files(d: SiteData) -> dict[str, str]:
    """The downloadable files: all results as JSON and CSV, their schema, the study's facts.

    Args:
        d: The site data.

    Returns:
        src_uri -> the file's text.
    """
    return {"downloads/results.json": pages.results_json(d), "downloads/results.csv": pages.results_csv(d),
            "downloads/result.schema.json": pages.schema_json(), "downloads/study.json": pages.study_json(d)}


def outline_of(d: SiteData) -> Outline:
    """The site's outline: challenges, models, generated pages and downloads.

    Args:
        d: The site data.

    Returns:
        The outline.
    """
    return Outline([(cid, info.title) for cid, info in d.challenges.items()],
                   [(mid, info.name) for mid, info in d.models.items()],
                   list(generated_pages(d)), download_files(d))
