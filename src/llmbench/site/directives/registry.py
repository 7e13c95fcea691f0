"""The directive registry: which renderer answers which `<!-- live: NAME ... -->`.

A renderer is a pure function registered under its directive's name with `@directive`:

    @directive("results", args={"challenge": "challenge", "models": "models"}, required=("challenge",),
               help="one challenge: status, tests, traps and metrics per model")
    def results(d: Directive, ctx: Context) -> str:
        ...

Adding a directive is adding such a function in a module of this package (every module
here is imported when the package is): no plugin, page or parser code changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Protocol

from ...errors import ContentError
from ..context import Context
from ..markers import Directive


class Renderer(Protocol):
    """The contract of a directive's renderer.

    A renderer is pure: results in, markdown out. It reads only the directive and the
    context (`ctx.data`, `ctx.links`, `ctx.html`, `ctx.raw`, `ctx.flags`, `ctx.charts`),
    writes no file and keeps no state. Its arguments were already checked against its
    `DirectiveSpec` (known keys, required keys present, names of models, challenges and
    metrics valid), so it only checks what the spec cannot say.

    What a solution or a run produced (a crash, a timeout, a missing or unreadable result)
    never raises: it renders as a visible marker with its reason (`cells.mark`, `cells.state`).
    """

    def __call__(self, d: Directive, ctx: Context) -> str:
        """Render one directive.

        Args:
            d: The parsed directive: its name, arguments, line and whether it is inline.
            ctx: The data and the page's links; `ctx.raw(html)` carries raw HTML through markdown.

        Returns:
            Markdown (one line, for an inline directive).

        Raises:
            ContentError: For a contributor's mistake the spec could not catch; build it
                with `ctx.fail(d, message)`, which names the file and line, and say which
                key is wrong and what it accepts.
        """
        ...


@dataclass(frozen=True)
class DirectiveSpec:
    """A registered directive: its renderer and the arguments it takes.

    Attributes:
        name: The directive's name in `<!-- live: NAME ... -->`.
        render: The renderer (see `Renderer`).
        args: Argument name -> what it names: "model", "models", "challenge", "challenges",
            "metric", "text", or the accepted words joined with "|" ("measured|reported").
        required: The arguments that must be given.
        inline: True when the directive may sit inside a sentence or a table cell.
        help: One line saying what it shows.
    """

    name: str
    render: Renderer
    args: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    inline: bool = False
    help: str = ""


class Registry:
    """Directive specs by name, in the order they were registered."""

    def __init__(self):
        self._specs: dict[str, DirectiveSpec] = {}

    def directive(self, name: str, *, args: Mapping[str, str] | None = None, required: tuple[str, ...] = (),
                  inline: bool = False, help: str = "") -> Callable[[Renderer], Renderer]:
        """A decorator registering a renderer under a directive name.

        Args:
            name: The directive's name (lowercase letters, digits and -).
            args: Argument name -> what it names (see `DirectiveSpec.args`).
            required: The arguments that must be given.
            inline: True when it may be used inside a sentence.
            help: One line saying what it shows.

        Returns:
            The decorator; it returns the renderer unchanged.

        Raises:
            ValueError: The name is taken, or a required argument is not among args.
        """
        def register(render: Renderer) -> Renderer:
            self.add(DirectiveSpec(name, render, dict(args or {}), tuple(required), inline, help))
            return render

        return register

    def add(self, spec: DirectiveSpec) -> None:
        """Register a spec.

        Args:
            spec: The directive to add.

        Raises:
            ValueError: Its name is taken, or a required argument is not among its args.
        """
        if spec.name in self._specs:
            raise ValueError(f"live directive '{spec.name}' is registered twice")
        missing = [k for k in spec.required if k not in spec.args]
        if missing:
            raise ValueError(f"live directive '{spec.name}': required {missing} not among its arguments")
        self._specs[spec.name] = spec

    def remove(self, name: str) -> None:
        """Unregister a directive (a test's toy directive, for instance).

        Args:
            name: The directive's name; unknown names are ignored.
        """
        self._specs.pop(name, None)

    def get(self, name: str) -> DirectiveSpec | None:
        """The spec registered under a name.

        Args:
            name: The directive's name.

        Returns:
            Its spec, or None.
        """
        return self._specs.get(name)

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._specs)

    def items(self) -> Iterator[tuple[str, DirectiveSpec]]:
        """(name, spec) pairs in registration order."""
        return iter(list(self._specs.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def spec_for(self, d: Directive, ctx: Context) -> DirectiveSpec:
        """The spec of d's directive.

        Args:
            d: A parsed directive.
            ctx: The page's context (for the file name in errors).

        Returns:
            Its spec.

        Raises:
            ContentError: No directive has that name; the message lists the valid ones.
        """
        spec = self._specs.get(d.name)
        if spec is None:
            raise ContentError(ctx.path, f"unknown live directive '{d.name}'; valid directives: "
                                         f"{', '.join(self._specs)}", d.line)
        return spec


# The registry every build uses; filled when the package's modules are imported.
REGISTRY = Registry()
directive = REGISTRY.directive
