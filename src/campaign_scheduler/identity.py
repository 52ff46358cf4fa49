"""Who is at the keyboard: the operating-system user, read from the process, not from $USER.

``getpass.getuser()`` believes ``$LOGNAME``/``$USER``, which anyone can set for one command;
the password database entry of the process's real user id cannot be changed that way.
"""

from __future__ import annotations

import getpass
import os


def os_user() -> str:
    """The OS user running this process (its login name), "unknown" if it has none."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError, AttributeError):  # no pwd on Windows
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"
