"""What each notice says, in the app and by mail. Pure: no I/O.

A notice names people, the block, the outcome word and a link; never a photo, a
rating or a jury's reasons: mail leaves the branch's control once sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.i18n import _, translations

# Mailed whatever the person chose: a jury member must know when they sit.
FORCED = frozenset({"dossier.assigned"})
MODES = ("each", "digest", "none")
# What a notice may carry; a photo, a rating or the jury's reasons never leave Carnet.
PARAMS = frozenset({"candidate", "block", "outcome", "date"})


@dataclass(frozen=True)
class Text:
    subject: str
    line: str  # one sentence, for the notices list and the digest


def check_params(params: dict) -> None:
    extra = set(params) - PARAMS
    if extra:
        raise ValueError(f"a notice carries no {sorted(extra)}")


def text(event: str, params: dict) -> Text:
    p = {k: str(v) for k, v in params.items()}
    if event == "block.ready":
        return Text(_("Bloc %(block)s prêt pour le jury") % p,
                    _("Le bloc %(block)s de %(candidate)s est prêt à être présenté au jury.") % p)
    if event == "dossier.presented":
        return Text(_("Dossier présenté : %(candidate)s, %(block)s") % p,
                    _("Le dossier du bloc %(block)s de %(candidate)s a été présenté au jury "
                      "et attend une session.") % p)
    if event == "dossier.assigned":
        return Text(_("Convocation au jury du %(date)s") % p,
                    _("Vous examinerez le dossier du bloc %(block)s de %(candidate)s à la "
                      "session du %(date)s.") % p)
    if event == "decision.published":
        return Text(_("Décision du jury : bloc %(block)s") % p,
                    _("Le jury a rendu sa décision pour le bloc %(block)s de %(candidate)s : "
                      "%(outcome)s.") % p)
    if event == "appeal.lodged":
        return Text(_("Recours : %(candidate)s, %(block)s") % p,
                    _("%(candidate)s a formé un recours sur la décision du bloc %(block)s.") % p)
    if event == "block.expiring":
        return Text(_("Le bloc %(block)s expire le %(date)s") % p,
                    _("La validation du bloc %(block)s expire le %(date)s : après cette date, "
                      "il ne compte plus pour le certificat.") % p)
    raise ValueError(f"unknown notice event {event!r}")


def digest_subject(count: int) -> str:
    return translations().ngettext("%(n)d avis dans Carnet", "%(n)d avis dans Carnet",
                                   count) % {"n": count}


def mail_body(full_name: str, lines: list[str], link: str) -> str:
    greeting = _("Bonjour %(name)s,") % {"name": full_name}
    see = _("Pour voir le détail, connectez-vous à Carnet :")
    footer = _("Vous pouvez choisir de recevoir ces messages un par un, une fois par jour "
               "ou pas du tout, dans Carnet (Avis).")
    return "\n\n".join([greeting, "\n".join(f"- {line}" for line in lines), see, link, footer])


def backoff_seconds(attempts: int) -> int:
    """1 minute, then doubling, at most 6 hours between tries."""
    return min(60 * 2 ** max(0, attempts - 1), 6 * 3600)
