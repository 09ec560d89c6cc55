"""Every interface string of the templates goes through gettext (`_`, `ngettext`,
`{% trans %}`), and the templates' `_` really is the installed translations' gettext."""

from __future__ import annotations

import gettext
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2 import Environment, nodes

from backend import resources
from backend.app import make_templates
from backend.routes.jury import FMT, WORDS

TEMPLATES = sorted(Path(resources.TEMPLATES_DIR).rglob("*.html"))
# Attributes a person reads (or hears, through a screen reader).
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "label"}
# Text that must stay as it is in every language. Keep this short, one reason each.
NOT_WORDS = {
    # A shell command printed in the dossier PDF for the reader to type (documents/dossier.html).
    "carnet dossier verify",
}
# Literals printed by an expression that are codes, not words: CSS classes (the documents'
# <body> in documents/certificate.html and minutes.html, a rating choice in tutor/observe.html).
PRINTED_CODES = {"certificate", "draft", "absent"}
LETTER = re.compile(r"[^\W\d_]")
# Attributes written by a macro outside any tag, e.g. `{% if e %} aria-invalid="true"{% endif %}`.
LOOSE_ATTRIBUTE = re.compile(r"""([\w:-]+)=(?:"([^"]*)"|'([^']*)')""")


def skeleton(env: Environment, source: str) -> str:
    """The template's text outside `{{ }}`, `{% %}` and `{# #}`, each piece on its own line
    number; the text of `{% trans %}` blocks (a message of its own) is left out too."""
    out: list[str] = []
    line = 1
    in_trans = after_block_begin = False
    for lineno, kind, value in env.lex(source):
        if kind == "block_begin":
            after_block_begin = True
            continue
        if after_block_begin and kind == "name":
            in_trans = {"trans": True, "endtrans": False}.get(value, in_trans)
        if kind != "whitespace":
            after_block_begin = False
        if kind != "data" or in_trans:
            continue
        if lineno > line:
            out.append("\n" * (lineno - line))
            line = lineno
        out.append(value)
        line += value.count("\n")
    return "".join(out)


class TextFinder(HTMLParser):
    """Collects (line, text) for text nodes and visible attributes that contain letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.raw_text_tag: str | None = None

    def check(self, line: int, text: str) -> None:
        text = " ".join(text.split())
        for allowed in NOT_WORDS:
            text = text.replace(allowed, "")
        if LETTER.search(text):
            self.found.append((line, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.raw_text_tag = tag
        named = dict(attrs)
        shown = [v for k, v in attrs if k in VISIBLE_ATTRIBUTES]
        if tag == "input" and named.get("type") in ("submit", "button", "reset"):
            shown.append(named.get("value"))
        for value in shown:
            self.check(self.getpos()[0], value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw_text_tag:
            self.raw_text_tag = None

    def handle_data(self, data: str) -> None:
        if self.raw_text_tag:
            return
        line = self.getpos()[0]

        def loose(match: re.Match[str]) -> str:
            if match.group(1) in VISIBLE_ATTRIBUTES:
                self.check(line + data[:match.start()].count("\n"),
                           match.group(2) or match.group(3) or "")
            return " " * len(match.group(0))

        data = LOOSE_ATTRIBUTE.sub(loose, data)
        for piece in re.finditer(r"[^\n]+", data):
            self.check(line + data[:piece.start()].count("\n"), piece.group(0))


def template_name(path: Path) -> str:
    return path.relative_to(resources.TEMPLATES_DIR).as_posix()


def untranslated(env: Environment, path: Path) -> list[str]:
    finder = TextFinder()
    finder.feed(skeleton(env, path.read_text(encoding="utf-8")))
    finder.close()
    name = template_name(path)
    return [f"{name}:{line}: {text!r}" for line, text in finder.found]


def printed_literals(node: nodes.Node) -> list[nodes.Const]:
    """String constants an output expression prints as they are, e.g. `{{ "oui" if a else x }}`
    (not the arguments of a call such as `_("...")` or `url_for('admin')`)."""
    if isinstance(node, nodes.Const):
        return [node] if isinstance(node.value, str) else []
    parts: list[nodes.Node] = []
    if isinstance(node, nodes.CondExpr):
        parts = [node.expr1, *([node.expr2] if node.expr2 else [])]
    elif isinstance(node, nodes.Concat):
        parts = node.nodes
    elif isinstance(node, (nodes.Or, nodes.And, nodes.Add)):
        parts = [node.left, node.right]
    elif isinstance(node, nodes.Filter) and node.node is not None:
        parts = [node.node]
    return [const for part in parts for const in printed_literals(part)]


def printed_words(env: Environment, name: str, source: str) -> list[str]:
    tree = env.parse(source)
    return [f"{name}:{const.lineno}: {const.value!r}"
            for output in tree.find_all(nodes.Output) for expr in output.nodes
            if not isinstance(expr, nodes.TemplateData)
            for const in printed_literals(expr)
            if LETTER.search(const.value) and const.value not in PRINTED_CODES]


def test_the_scan_sees_every_template() -> None:
    folders = {p.parent.name for p in TEMPLATES}
    assert {"admin", "documents", "jury", "progress", "pwa", "session", "tutor"} <= folders
    assert len(TEMPLATES) >= 40


def test_the_scan_finds_raw_text() -> None:
    env = make_templates().env
    source = ('{% macro m(e) %}{% if e %} aria-label="Fermer"{% endif %}{% endmacro %}\n'
              '<p title="{{ t }}">{{ _("Bonjour") }}</p>\n'
              '<p>{% trans n=1 %}Il reste {{ n }} jour{% endtrans %} · 100&#8239;%</p>\n'
              '<img alt="Photo"><p>\n  {{ x }} Mo</p>{# commentaire #}\n'
              '<script>const a = "texte";</script>')
    finder = TextFinder()
    finder.feed(skeleton(env, source))
    assert finder.found == [(1, "Fermer"), (4, "Photo"), (5, "Mo")]


def test_every_template_text_goes_through_gettext() -> None:
    env = make_templates().env
    problems = [problem for path in TEMPLATES for problem in untranslated(env, path)]
    assert not problems, "text outside gettext:\n" + "\n".join(problems)


def test_expressions_print_no_literal_words() -> None:
    env = make_templates().env
    problems = [problem for path in TEMPLATES
                for problem in printed_words(env, template_name(path), path.read_text("utf-8"))]
    assert not problems, "literal text printed without gettext:\n" + "\n".join(problems)


def test_the_expression_scan_finds_literals() -> None:
    source = ('{{ "validé" if a else _("non") }} {{ "jusqu\'au " ~ day }} {{ b or \'photo\' }}\n'
              '{{ c or "—" }} {{ url_for("admin") }} {{ _("Bloc") }} {{ x.strftime("%d/%m") }}')
    env = make_templates().env
    assert printed_words(env, "probe.html", source) == [
        "probe.html:1: 'validé'", 'probe.html:1: "jusqu\'au "', "probe.html:1: 'photo'"]


class Shouting(gettext.NullTranslations):
    """A 'translation' that upper-cases every message, leaving its placeholders alone."""

    @staticmethod
    def shout(message: str) -> str:
        return "".join(part if part.startswith("%") else part.upper()
                       for part in re.split(r"(%\(\w+\)[sd]|%%)", message))

    def gettext(self, message: str) -> str:
        return self.shout(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.shout(singular if n == 1 else plural)


def shouting_env() -> Environment:
    env = make_templates().env
    env.install_gettext_translations(Shouting(), newstyle=True)
    return env


def error_context() -> dict:
    return {"identity": None, "roles": frozenset(),
            "error": SimpleNamespace(message="Dossier introuvable.", code="not_found",
                                     status=404)}


def test_templates_use_the_installed_translations() -> None:
    page = shouting_env().get_template("error.html").render(error_context())
    assert "RETOUR À L'ACCUEIL" in page and "Retour à l'accueil" not in page
    assert "<title>ERREUR · CARNET</title>" in page
    assert "CONNEXION" in page  # base.html's menu
    assert "Dossier introuvable." in page  # data is not translated

    french = make_templates().env.get_template("error.html").render(error_context())
    assert "<title>Erreur · Carnet</title>" in french and "Retour à l'accueil" in french


def test_placeholders_are_filled_and_escaped() -> None:
    context = {"identity": None, "roles": frozenset(), "error": "", "role_labels": {},
               "invitation": SimpleNamespace(full_name="Léa <b>", email="lea@example.org",
                                             role="tutor", organisation=None)}
    page = shouting_env().get_template("session/invitation.html").render(context)
    assert ("INVITATION POUR Léa &lt;b&gt; (lea@example.org) : RÔLE « tutor ».") in page
    assert "CRÉER VOTRE MOT DE PASSE" in page


def minutes_context(examined: int, validated: int) -> dict:
    lines = [SimpleNamespace(
        dossier=SimpleNamespace(id=i, enrolment=SimpleNamespace(
            candidate=SimpleNamespace(full_name=f"Candidat {i}")), review_of_id=None,
            block_code="BC01", manifest_sha256="0" * 64),
        decision=SimpleNamespace(outcome="validated" if i < validated else "not_validated",
                                 reasons="", recommendations="", decided_by_id=1,
                                 decided_at=None, deliberation=None),
        conflicted={}) for i in range(examined)]
    return {"fmt": FMT, "words": WORDS, "branch": None, "certifications": [], "members": [],
            "vice_president": None, "colleges": {}, "rules": {}, "results": {},
            "names": {}, "previous_presidency": None,
            "problems": [], "lines": lines, "titles": {line.dossier.id: "" for line in lines},
            "deciders": {}, "minutes_sha256": None,
            "session": SimpleNamespace(id=3, held_on=date(2025, 6, 2), place="Lyon",
                                       status="open", closed_at=None),
            "counts": {"validated": validated, "not_validated": examined - validated,
                       "pending": 0}}


@pytest.mark.parametrize(("examined", "validated", "sentence"), [
    (0, 0, "0 dossier examiné : 0 validé, 0 non validé."),
    (1, 1, "1 dossier examiné : 1 validé, 0 non validé."),
    (3, 2, "3 dossiers examinés : 2 validés, 1 non validé."),
])
def test_counted_words_keep_the_french_plural(examined: int, validated: int,
                                              sentence: str) -> None:
    template = make_templates().env.get_template("documents/minutes.html")
    assert sentence in template.render(minutes_context(examined, validated))


def test_documents_go_through_the_translations() -> None:
    page = shouting_env().get_template("documents/minutes.html").render(minutes_context(3, 2))
    assert "PROCÈS-VERBAL DE LA SESSION DU JURY PARITAIRE" in page
    assert "3 DOSSIERS EXAMINÉS : 2 VALIDÉS, 1 NON VALIDÉ." in page
    assert "SESSION N° 3" in page and "Lyon" in page
