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
        pass
    source = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale != DEFAULT_LOCALE and source.is_file():
        return _compiled(source)
    return FrenchSource()


def _compiled(source) -> gettext.NullTranslations:
    """A catalogue kept as text only (no .mo in the tree), compiled in memory; strings it
    lacks stay in French."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with source.open("rb") as po:
        catalog = read_po(po)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    compiled = gettext.GNUTranslations(buffer)
    compiled.add_fallback(FrenchSource())
    return compiled


def _(message: str) -> str:
    return translations().gettext(message)
