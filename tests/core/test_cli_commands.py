"""The command line: every command module registers its commands; none is dropped silently."""
import pytest

from llmbench import cli


def test_every_command_is_registered():
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert set(sub.choices) >= {"run", "validate", "status", "schema", "build", "serve", "refresh",
                                "new-model", "import", "study", "merge"}


def test_a_command_module_that_fails_to_import_is_an_error_not_a_missing_command(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "llmbench.no_such_commands"))
    with pytest.raises(ModuleNotFoundError, match="llmbench.no_such_commands"):
        cli.build_parser()
