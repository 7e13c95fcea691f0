"""Glue that several adapters share, imported by adapters inside the sandboxed worker.

An adapter translates calling conventions and never fixes a bug; when several adapters
need the same translation (a framework's layer seen through NumPy, an additive mask seen
as a boolean one), it lives here once. It is part of every adapter's key (`llmbench.keys`),
so editing it re-runs the conformance of every adapted solution. Imported through the
llmbench package (already loaded in the worker), a solution's file cannot shadow it.
"""
