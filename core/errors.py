"""Errors a user can fix, told apart from bugs: the CLI prints these as one line and anything else with a traceback.

Every ``RadzooError`` also derives from the builtin exception it replaces, so callers catching ``ValueError`` or
``FileNotFoundError`` keep working. Plugins raise these too (``from radzoo.errors import InputError``) when the
recipe or the data is at fault; an exception of any other type is treated as a bug in the code that raised it.
"""

from __future__ import annotations

import errno

# failures of the machine a user fixes by freeing space or choosing another folder, not bugs in any code
ENVIRONMENT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class RadzooError(Exception):
    """Base of every error the user can fix; the message says what is wrong, where, and how to fix it."""


class InputError(RadzooError, ValueError):
    """A value in a recipe, an option, a data set or a file that radzoo cannot use."""


class RecipeError(InputError):
    """A recipe that cannot be loaded: the message names the file, the key path and the fix."""


class MissingFileError(RadzooError, FileNotFoundError):
    """A file or folder the user pointed at does not exist."""


class OutputExistsError(RadzooError, FileExistsError):
    """An output would overwrite earlier work."""


class UnknownNameError(RadzooError, LookupError):
    """An unknown or conflicting name (a component, a metric, a baseline)."""


class ContractError(RadzooError, TypeError):
    """A plugin's component breaks the plugin contract; the message names the plugin."""


class RunFailedError(RadzooError, RuntimeError):
    """A run stopped for a reason the recipe or the data explains (the message says which)."""


def is_user_error(exc: BaseException) -> bool:
    """Whether the CLI should print ``exc`` as one line: a RadzooError, or a full disk / missing permission."""
    if isinstance(exc, RadzooError):
        return True
    return isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS
