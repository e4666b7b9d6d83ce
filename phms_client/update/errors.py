"""The one error of updating, with a message meant for the person at the workstation."""

from __future__ import annotations


class UpdateError(Exception):
    """The update could not be done; nothing installed was changed. ``str()`` says why."""


class UpdateCancelled(UpdateError):
    """The person (or quitting PHMS) stopped the download."""

    def __init__(self) -> None:
        super().__init__("The update was cancelled; nothing was changed.")
