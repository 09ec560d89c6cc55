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


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated when used (`text`)."""
    return message


# event -> (subject, one-line summary), both filled with the notice's params.
TEXTS = {
    "block.ready": (N_("Bloc %(block)s prêt pour le jury"),
                    N_("Le bloc %(block)s de %(candidate)s est prêt à être présenté au jury.")),
    "dossier.presented": (N_("Dossier présenté : %(candidate)s, %(block)s"),
                          N_("Le dossier du bloc %(block)s de %(candidate)s a été présenté au "
                             "jury et attend une session.")),
    "dossier.assigned": (N_("Convocation au jury du %(date)s"),
                         N_("Vous examinerez le dossier du bloc %(block)s de %(candidate)s à la "
                            "session du %(date)s.")),
    "decision.published": (N_("Décision du jury : bloc %(block)s"),
                           N_("Le jury a rendu sa décision pour le bloc %(block)s de "
                              "%(candidate)s : %(outcome)s.")),
    "appeal.lodged": (N_("Recours : %(candidate)s, %(block)s"),
                      N_("%(candidate)s a formé un recours sur la décision du bloc %(block)s.")),
    "block.expiring": (N_("Le bloc %(block)s expire le %(date)s"),
                       N_("La validation du bloc %(block)s expire le %(date)s : après cette "
                          "date, il ne compte plus pour le certificat.")),
}


def text(event: str, params: dict) -> Text:
    if event not in TEXTS:
        raise ValueError(f"unknown notice event {event!r}")
    p = {k: str(v) for k, v in params.items()}
    subject, line = TEXTS[event]
    return Text(_(subject) % p, _(line) % p)


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
