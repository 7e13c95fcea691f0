"""What conformance tests import: helpers specs, errors, call results."""
from .client import (AmbiguousEntry, CallResult, CallTimeout, EntryPointMissing, HarnessGap, MissingDependency,
                     ProtocolMismatch, RemoteHandle, ResourceLimit, ReturnMismatch, SolutionError, WorkerCrash,
                     WorkerFailure, remote)


def expect_structure(condition: bool, message: str) -> None:
    """A suite's check of the *structure* of a returned value (a pair, a bool mask, an int).

    Failing it is a calling-convention difference (needs an adapter), not a wrong answer, as
    long as no test has seen the entry point work; use plain asserts for values.
    """
    if not condition:
        raise ReturnMismatch(message)


__all__ = ["AmbiguousEntry", "CallResult", "CallTimeout", "EntryPointMissing", "HarnessGap", "MissingDependency",
           "ProtocolMismatch", "RemoteHandle", "ResourceLimit", "ReturnMismatch", "SolutionError", "WorkerCrash",
           "WorkerFailure", "expect_structure", "remote"]
