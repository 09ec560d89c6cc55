"""Interface strings go through gettext. The source strings are French (the
interface language); other catalogues live in backend/locale/<lang>/LC_MESSAGES."""

from __future__ import annotations

import gettext
from functools import lru_cache

from backend.resources import LOCALE_DIR

DEFAULT_LOCALE = "fr"


@lru_cache(maxsize=8)
def translations(locale: str = DEFAULT_LOCALE) -> gettext.NullTranslations:
    return gettext.translation("messages", localedir=LOCALE_DIR, languages=[locale],
                               fallback=True)


def _(message: str) -> str:
    return translations().gettext(message)
