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
        return f"\n\n{self.add(html)}\n\n"

    def add(self, html: str) -> str:
        """Keep html.

        Args:
            html: Raw HTML.

        Returns:
            Its token.
        """
        token = f"{self.prefix}x{len(self.items):05d}x"
        self.items[token] = html
        return token

    def adopt(self, markdown: str, raw: dict[str, str]) -> str:
        """Take over markdown rendered with another stash (a cached page): its pieces get this stash's tokens.

        Args:
            markdown: Markdown holding the other stash's tokens.
            raw: That stash's token -> HTML, for the tokens in markdown.

        Returns:
            The markdown with each token replaced by this stash's token for the same HTML.
        """
        # Tokens are made with a secret of the build that rendered them, so no text of
        # the markdown can hold one by chance; each gets a fresh token of this build.
        for token, html in raw.items():
            markdown = markdown.replace(token, self.add(html))
        return markdown

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
