"""llmbench: run LLM programming-benchmark solutions in a sandbox and publish the results."""

__version__ = "0.1.0"
# Bumped whenever a change to the harness can change a verdict: part of every result key.
HARNESS_VERSION = "3"
