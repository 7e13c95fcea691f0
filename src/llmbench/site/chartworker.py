"""The chart worker: draws a build's bar charts in a process of its own (see `cache.ChartStore`).

One JSON object a line both ways. In: {"id": n, "args": [title, bars, unit, better,
reference, scale]}, each bar [label, value, note]; or {"id": n, "highlight": [source,
file name]} for `text.highlight`. Out: {"id": n, "svg": "<svg..."}, or
{"id": n, "error": "..."} when drawing failed (the build then draws that chart itself and
reports the error). The worker ends at the end of its input. It is started before it is
needed, so it draws one chart of its own first, while the build is busy with other work.
"""
from __future__ import annotations

import json
import sys


def main() -> None:
    """Draw every chart asked for on stdin; answer each on stdout as soon as it is drawn."""
    from .charts import Bar, bar_chart_svg
    from .text import highlight

    # Started ahead of need: pay for matplotlib's import and font loading before the first request.
    bar_chart_svg("warm-up", [Bar("a", 1.0)])
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "highlight" in request:
                source, filename = request["highlight"]
                reply = {"id": request["id"], "svg": highlight(source, filename)}
            else:
                title, bars, unit, better, reference, scale = request["args"]
                reply = {"id": request["id"],
                         "svg": bar_chart_svg(title, [Bar(*bar) for bar in bars], unit, better, reference, scale)}
        except Exception as exc:  # noqa: BLE001 - any failure is reported, and redone by the build
            reply = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
