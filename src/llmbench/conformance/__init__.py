"""What conformance tests import: helpers specs, errors, call results."""
from .client import (CallResult, CallTimeout, EntryPointMissing, MissingDependency, RemoteHandle, SolutionError,
                     WorkerCrash, WorkerFailure, remote)

__all__ = ["CallResult", "CallTimeout", "EntryPointMissing", "MissingDependency", "RemoteHandle", "SolutionError",
           "WorkerCrash", "WorkerFailure", "remote"]
