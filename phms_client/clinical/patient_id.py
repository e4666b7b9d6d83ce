"""The site patient ID format: N = digit, A = capital letter, anything else literal."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

DEFAULT_FORMAT = "NNNNNNN-N"


@dataclass(frozen=True)
class PatientIdFormat:
    pattern: str = DEFAULT_FORMAT

    @property
    def regex(self) -> re.Pattern[str]:
        parts = []
        for ch in self.pattern:
            if ch == "N":
                parts.append("[0-9]")
            elif ch == "A":
                parts.append("[A-Z]")
            else:
                parts.append(re.escape(ch))
        return re.compile("".join(parts))

    def is_valid(self, code: str) -> bool:
        return self.regex.fullmatch(code) is not None

    def is_complete_length(self, code: str) -> bool:
        return len(code) == len(self.pattern)

    def normalise(self, typed: str) -> str:
        """Upper-case; when only the format's literals are missing, put them in."""
        code = typed.strip().upper()
        if self.is_valid(code):
            return code
        bare = re.sub(r"[^0-9A-Z]", "", code)
        if len(bare) == sum(ch in "NA" for ch in self.pattern):
            chars = iter(bare)
            candidate = "".join(next(chars) if ch in "NA" else ch for ch in self.pattern)
            if self.is_valid(candidate):
                return candidate
        return code

    def describe(self) -> str:
        return (
            f"{self.pattern} (N = digit, A = capital letter), "
            f"e.g. {self.random_code(random.Random(7))}"
        )

    def random_code(self, rng: random.Random) -> str:
        return "".join(
            rng.choice(string.digits)
            if ch == "N"
            else rng.choice(string.ascii_uppercase)
            if ch == "A"
            else ch
            for ch in self.pattern
        )
