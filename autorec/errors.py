"""User-facing errors.

Every problem a user can fix (a bad file, field, value or option) is raised as
:class:`AutorecError`. Its message is one line that names *where* (file, field, gene,
option), *what* was wrong (echoing the bad value) and *the fix*. The CLI prints it on
stderr and exits with code 2, with no traceback.
"""

from __future__ import annotations

import reprlib

__all__ = ["AutorecError", "ExitCode", "shown"]

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 60, 60, 40


def shown(value: object) -> str:
    """``repr(value)`` cut to a few dozen characters and two levels of nesting: how a
    message echoes a bad value (a huge or deeply nested value must not become the message,
    nor take minutes to render)."""
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ExitCode:
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2


class AutorecError(ValueError):
    """A problem with user input, with a one-line message naming where, what and the fix."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{where}: {problem}; {fix}")

    def __reduce__(self) -> tuple[type[AutorecError], tuple[str, str, str]]:
        # Pickle by the three parts: the default would call __init__ with the joined message
        # only, so the error could not cross to the driver from a Ray worker.
        return (type(self), (self.where, self.problem, self.fix))
