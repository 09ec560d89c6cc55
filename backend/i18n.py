"""Interface strings go through gettext. The source strings are French (the
interface language); other catalogues live in backend/locale/<lang>/LC_MESSAGES."""

from __future__ import annotations

import gettext
from functools import lru_cache

from backend.resources import LOCALE_DIR

DEFAULT_LOCALE = "fr"


class FrenchSource(gettext.NullTranslations):
    """No catalogue: the French source strings, with French plurals (0 and 1 are
    singular), not gettext's English rule."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid1 if n <= 1 else msgid2


@lru_cache(maxsize=8)
def translations(locale: str = DEFAULT_LOCALE) -> gettext.NullTranslations:
    try:
        return gettext.translation("messages", localedir=LOCALE_DIR, languages=[locale])
    except FileNotFoundError:
        return FrenchSource()


def _(message: str) -> str:
    return translations().gettext(message)
