"""User-facing errors.

Every problem a user can fix (a bad file, field, value or option) is raised as
:class:`AutorecError`. Its message is one line that names *where* (file, field, gene,
option), *what* was wrong (echoing the bad value) and *the fix*. The CLI prints it on
stderr and exits with code 2, with no traceback.
"""

from __future__ import annotations

__all__ = ["AutorecError", "ExitCode"]


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
