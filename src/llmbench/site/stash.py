"""Raw HTML carried through markdown conversion: a placeholder word goes in, the HTML comes back after."""
from __future__ import annotations


class RawStash:
    """Raw HTML kept out of markdown, one placeholder token per piece.

    Args:
        prefix: The tokens' prefix; it holds a secret made at build time, so text a
            solution wrote long before cannot imitate a token and have HTML restored in
            its place.
    """

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.items: dict[str, str] = {}

    def __call__(self, html: str) -> str:
        """Keep html; return the placeholder to put in the markdown (a paragraph of its own).

        Args:
            html: Raw HTML.

        Returns:
            The token, surrounded by blank lines.
        """
        token = f"{self.prefix}x{len(self.items):05d}x"
        self.items[token] = html
        return f"\n\n{token}\n\n"

    def restore(self, html: str) -> str:
        """Put every kept piece back in place of its token.

        Args:
            html: The page's HTML after markdown conversion.

        Returns:
            The HTML with each token (or its `<p>` wrapper) replaced by the raw HTML.
        """
        for token, value in self.items.items():
            html = html.replace(f"<p>{token}</p>", value).replace(token, value)
        return html
