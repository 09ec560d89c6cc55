"""Referentials: the certificates' checklists, loaded from YAML files.

Pure: no ORM, no I/O beyond reading the files handed in. A referential is
immutable once published, so everything here is frozen.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

FORMAT = "carnet-referential/1"
EVIDENCE_KINDS = ("photo", "document")
REGISTER_KINDS = ("transmitted", "rncp", "rs")


@dataclass(frozen=True)
class Rules:
    """Thresholds of the rules engine (defaults: assessments/README.md, "rules")."""

    criterion_min_met: int = 2
    criterion_min_days: int = 2
    block_min_reflections: int = 1


JURY_COMPOSITIONS = ("parity", "one-per-college")
JURY_MAJORITIES = ("simple", "two_thirds")


@dataclass(frozen=True)
class JuryRules:
    """How the jury of this certification deliberates (the branch's rules, written in its
    referential's `jury:` section; docs/domain.md). The default is a paritaire jury: as many
    employer as employee members among those deciding each dossier, at least two, a simple
    majority of their votes, and no casting vote."""

    quorum: int = 2  # members deliberating on a dossier, at least
    composition: str = "parity"  # JURY_COMPOSITIONS
    majority: str = "simple"  # JURY_MAJORITIES: more than half, or at least two thirds
    casting_vote: bool = False  # the president's voice decides a tie


@dataclass(frozen=True)
class Criterion:
    code: str
    label: str
    essential: bool


@dataclass(frozen=True)
class Evidence:
    kind: str  # "photo" | "document"
    label: str
    min: int = 1


@dataclass(frozen=True)
class Competency:
    code: str
    title: str
    criteria: tuple[Criterion, ...]
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Block:
    code: str
    title: str
    competencies: tuple[Competency, ...]
    note: str = ""  # e.g. the assessment modes of a block drafted from the register


@dataclass(frozen=True)
class Register:
    kind: str
    number: str | None = None
    level: int | None = None
    ends_on: date | None = None  # end of the registration (France compétences)


@dataclass(frozen=True)
class Catalogue:
    """The certificate as the public catalogue shows it (outside the digest: describing the
    certificate better changes nothing of how it is assessed)."""

    purpose: str = ""
    jobs: tuple[str, ...] = ()
    duration: str = ""
    prerequisites: str = ""
    classification: str = ""  # recognition in the collective agreement


@dataclass(frozen=True)
class Referential:
    code: str
    version: str
    title: str
    branch: str
    register: Register
    block_validity_years: int | None
    rules: Rules
    blocks: tuple[Block, ...]
    note: str = ""
    jury: JuryRules = JuryRules()
    block_validity_months: int | None = None  # instead of years (a 24-month capitalisation)
    catalogue: Catalogue = field(default_factory=Catalogue, compare=False)
    source: str = field(default="", compare=False)  # file it came from
    digest: str = field(default="", compare=False)  # sha256 of the parsed content

    @property
    def validity_months(self) -> int | None:
        """How long a validated block counts toward a certificate not yet delivered, in
        months (None: for life). A delivered certificate never expires."""
        if self.block_validity_months is not None:
            return self.block_validity_months
        return None if self.block_validity_years is None else 12 * self.block_validity_years

    @property
    def key(self) -> tuple[str, str]:
        return (self.code, self.version)

    def competencies(self) -> tuple[Competency, ...]:
        return tuple(c for b in self.blocks for c in b.competencies)

    def criteria(self) -> tuple[Criterion, ...]:
        return tuple(k for c in self.competencies() for k in c.criteria)

    def criterion_codes(self) -> frozenset[str]:
        return frozenset(k.code for k in self.criteria())

    def competency(self, code: str) -> Competency | None:
        return next((c for c in self.competencies() if c.code == code), None)

    def block(self, code: str) -> Block | None:
        return next((b for b in self.blocks if b.code == code), None)

    def block_of_criterion(self, criterion_code: str) -> Block | None:
        for b in self.blocks:
            for c in b.competencies:
                if any(k.code == criterion_code for k in c.criteria):
                    return b
        return None


def _months_before(day: date, months: int) -> date:
    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


REGISTER_WARNING_MONTHS = 6


def register_warnings(ref: Referential, today: date) -> list[str]:
    """What the admin is warned of about a certificate's registration (France compétences):
    its end, from six months before it."""
    ends = ref.register.ends_on if ref.register else None
    if ends is None:
        return []
    name = f"{ref.title} ({ref.register.number or ref.code}, version {ref.version})"
    if today > ends:
        return [f"L'enregistrement de {name} a pris fin le {ends:%d/%m/%Y}."]
    if today >= _months_before(ends, REGISTER_WARNING_MONTHS):
        return [f"L'enregistrement de {name} prend fin le {ends:%d/%m/%Y}, dans moins de six "
                "mois : préparez son renouvellement auprès de France compétences."]
    return []


# --- Loading ---------------------------------------------------------------------------------

# Codes and versions appear in URLs (/api/v1/referentials/{code}/{version}) and as JSON keys.
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Keys allowed at each level of the file; True = required.
_TOP_KEYS = {
    "format": False,  # checked on its own to say which format is expected
    "code": True,
    "version": True,
    "title": True,
    "branch": False,
    "register": False,
    "block_validity_years": False,
    "block_validity_months": False,
    "rules": False,
    "jury": False,
    "blocks": False,  # required, but for a Répertoire spécifique certification (competencies)
    "competencies": False,
    "note": False,
    "catalogue": False,
}
_REGISTER_KEYS = {"kind": True, "number": False, "level": False, "ends_on": False}
# The register number's form by kind (France compétences): RNCP12345, RS5678.
REGISTER_NUMBERS = {"rncp": re.compile(r"RNCP\d+"), "rs": re.compile(r"RS\d+"),
                    "transmitted": re.compile(r"(RNCP|RS)\d+")}
RNCP_LEVELS = range(3, 9)  # levels 3 to 8 of the national framework
IMPLICIT_BLOCK = "RS"  # the one block of a Répertoire spécifique certification without blocks
_JURY_KEYS = {"quorum": False, "composition": False, "majority": False,
              "casting_vote": False}
_RULES_KEYS = {"criterion_acquired": False, "block_ready": False}
_CRITERION_ACQUIRED_KEYS = {"min_met": False, "min_days": False}
_BLOCK_READY_KEYS = {"min_reflections": False}
_CATALOGUE_KEYS = {"purpose": False, "jobs": False, "duration": False, "prerequisites": False,
                   "classification": False}
_BLOCK_KEYS = {"code": True, "title": True, "competencies": True, "note": False}
# A title or label starting with this is still to be written (drafts from the register).
TODO_MARK = "TODO"
_COMPETENCY_KEYS = {"code": True, "title": True, "criteria": True, "evidence": False}
_CRITERION_KEYS = {"code": True, "label": True, "essential": True}
_EVIDENCE_KEYS = {"kind": True, "label": True, "min": False}

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Fault:
    """One problem in a referential file; line 0 means the file as a whole (unreadable)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ReferentialError(Exception):
    """A referential file (or a set of them) is invalid; `faults` lists every problem found."""

    def __init__(self, faults: Iterable[Fault]):
        self.faults = list(faults)
        super().__init__("\n".join(str(f) for f in self.faults))


def parse_referential(text: str, source: str) -> Referential:
    """Parse one referential file's text; `source` names it in faults and in `.source`."""
    return _parse(text, source)[0]


def load_file(path: Path | str) -> Referential:
    return parse_referential(_read_text(Path(path)), str(path))


def check_files(paths: Iterable[Path | str]) -> list[Fault]:
    """Every fault of every file (folders are expanded), plus (code, version) conflicts."""
    return _load_all(paths)[1]


def packaged_assessments_dir() -> Path:
    from backend.resources import ASSESSMENTS_DIR

    return ASSESSMENTS_DIR


class Registry:
    """The loaded referentials, keyed by (code, version)."""

    def __init__(self, referentials: Iterable[Referential] = ()):
        self._by_key: dict[tuple[str, str], Referential] = {}
        for referential in referentials:
            known = self._by_key.setdefault(referential.key, referential)
            if known.digest != referential.digest:
                raise ValueError(f"{referential.code} {referential.version} given twice "
                                 "with different content")

    @classmethod
    def load(cls, paths_or_dirs: Iterable[Path | str]) -> Registry:
        """Load files and the *.yaml / *.yml of folders; raise with every fault found."""
        referentials, faults = _load_all(paths_or_dirs)
        if faults:
            raise ReferentialError(faults)
        return cls(referentials)

    def get(self, code: str, version: str) -> Referential:
        return self._by_key[(code, version)]

    def find(self, code: str, version: str) -> Referential | None:
        return self._by_key.get((code, version))

    def all(self) -> list[Referential]:
        return sorted(self._by_key.values(), key=lambda r: (_natural(r.code), _natural(r.version)))

    def versions(self, code: str) -> list[Referential]:
        return [r for r in self.all() if r.code == code]

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Referential]:
        return iter(self.all())


def _natural(text: str) -> tuple[str | int, ...]:
    # "2026-2" sorts before "2026-10"; re.split with a group puts the digit runs at odd indexes.
    return tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", text)))


def _load_all(paths: Iterable[Path | str]) -> tuple[list[Referential], list[Fault]]:
    loaded: dict[tuple[str, str], Referential] = {}
    faults: list[Fault] = []
    for path in _expand(paths):
        try:
            referential, version_line = _parse(_read_text(path), str(path))
        except ReferentialError as exc:
            faults.extend(exc.faults)
            continue
        known = loaded.setdefault(referential.key, referential)
        if known.digest != referential.digest:
            # A published version is never edited: a change must come as a new version.
            faults.append(Fault(str(path), version_line,
                                f"{referential.code} version '{referential.version}' is already "
                                f"loaded from {known.source} with different content"))
    return list(loaded.values()), faults


def _expand(paths: Iterable[Path | str]) -> Iterator[Path]:
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.iterdir()
                              if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            yield path


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferentialError([Fault(str(path), 0, f"cannot read: {exc.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReferentialError([Fault(str(path), line, "not valid UTF-8")]) from None


def _parse(text: str, source: str) -> tuple[Referential, int]:
    """The referential and the line of its `version` key (where a conflict is reported)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ReferentialError([_syntax_fault(exc, text, source)]) from None
    if root is None:
        raise ReferentialError([Fault(source, 1, "the file is empty")])
    reader = _Reader(source)
    referential = reader.document(root)
    if reader.faults:
        raise ReferentialError(sorted(reader.faults, key=lambda f: f.line))
    referential = replace(referential, source=source, digest=_digest(referential))
    return referential, _key_line(root, "version")


def _syntax_fault(exc: yaml.YAMLError, text: str, source: str) -> Fault:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        message = f"invalid YAML: {exc.problem}"
        if exc.context and exc.context_mark and exc.context_mark.line != exc.problem_mark.line:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return Fault(source, exc.problem_mark.line + 1, message)
    if isinstance(exc, yaml.reader.ReaderError):
        return Fault(source, text.count("\n", 0, exc.position) + 1, f"invalid YAML: {exc.reason}")
    return Fault(source, 1, f"invalid YAML: {exc}")


def _digest(referential: Referential) -> str:
    # Hash of the parsed content, so reformatting a file (quotes, flow style, comments, key
    # order) keeps its digest while any change of meaning alters it.
    content = asdict(referential)
    del content["source"], content["digest"], content["catalogue"]
    for block in content["blocks"]:  # added later: absent keeps the digests of older files
        if not block["note"]:
            del block["note"]
    if referential.jury == JuryRules():  # added later, as the notes
        del content["jury"]
    if referential.block_validity_months is None:
        del content["block_validity_months"]
    if content["register"] and content["register"].get("ends_on") is None:
        content["register"].pop("ends_on", None)
    elif content["register"]:
        content["register"]["ends_on"] = content["register"]["ends_on"].isoformat()
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _key_line(mapping: MappingNode, key: str) -> int:
    return next((_line(k) for k, _ in mapping.value if k.value == key), _line(mapping))


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "an empty value"
    return f"the text '{node.value}'" if node.tag == _STR else node.value


def _either(choices: Iterable[str]) -> str:
    *rest, last = choices
    return f"{', '.join(rest)} or {last}"


def _suggestion(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _peek_code(node: Node) -> str | None:
    if not isinstance(node, MappingNode):
        return None
    for key, value in node.value:
        if key.value == "code" and isinstance(value, ScalarNode) and value.tag == _STR:
            return value.value.strip() or None
    return None


def _where(kind: str, node: Node, index: int, parent: str) -> str:
    """How faults name a list item: by its code when it has one, else by its position."""
    code = _peek_code(node)
    if code:
        return f"{kind} {code}"
    return f"{parent}, {kind} #{index}" if parent else f"{kind} #{index}"


class _Reader:
    """Walks the composed YAML nodes and records every fault instead of stopping at the first.

    While faults exist the objects built may hold None in place of a bad value; `_parse`
    never returns them.
    """

    def __init__(self, source: str):
        self.source = source
        self.faults: list[Fault] = []
        self._code_lines: dict[str, int] = {}  # blocks, competencies and criteria share them
        self._constructor = SafeConstructor()

    def fault(self, node: Node, message: str) -> None:
        self.faults.append(Fault(self.source, _line(node), message))

    # Structure

    def document(self, root: Node) -> Referential | None:
        if not self.is_mapping(root, "the file"):
            return None
        found = self.fields(root, "", _TOP_KEYS)
        self.check_format(found.get("format"), root)
        register = self.register(found.get("register"))
        title = self.text(found.get("title"), "title", "", required=True)
        return Referential(
            code=self.identifier(found.get("code"), "code", ""),
            version=self.identifier(found.get("version"), "version", ""),
            title=title,
            branch=self.text(found.get("branch"), "branch", "") or "",
            register=register,
            block_validity_years=self.integer(found.get("block_validity_years"),
                                              "block_validity_years", "", minimum=1, default=None),
            rules=self.rules(found.get("rules")),
            blocks=self.blocks(found, root, register, title),
            note=self.text(found.get("note"), "note", "") or "",
            jury=self.jury(found.get("jury")),
            block_validity_months=self.validity_months(found),
            catalogue=self.catalogue(found.get("catalogue")),
        )

    def validity_months(self, found: dict[str, Node]) -> int | None:
        months = self.integer(found.get("block_validity_months"), "block_validity_months", "",
                              minimum=1, default=None)
        if months is not None and found.get("block_validity_years") is not None:
            self.fault(found["block_validity_months"], "give 'block_validity_years' or "
                       "'block_validity_months', not both")
        return months

    def catalogue(self, node: Node | None) -> Catalogue | None:
        if node is None:
            return Catalogue()
        if not self.is_mapping(node, "'catalogue'"):
            return None
        found = self.fields(node, "catalogue", _CATALOGUE_KEYS)
        jobs = self.items(found.get("jobs"), "jobs", "catalogue", allow_empty=True)
        return Catalogue(
            purpose=self.text(found.get("purpose"), "purpose", "catalogue") or "",
            jobs=tuple(self.text(n, "jobs", "catalogue", required=True) for _, n in jobs),
            duration=self.text(found.get("duration"), "duration", "catalogue") or "",
            prerequisites=self.text(found.get("prerequisites"), "prerequisites",
                                    "catalogue") or "",
            classification=self.text(found.get("classification"), "classification",
                                     "catalogue") or "",
        )

    def jury(self, node: Node | None) -> JuryRules:
        defaults = JuryRules()
        if node is None or not self.is_mapping(node, "'jury'"):
            return defaults
        found = self.fields(node, "jury", _JURY_KEYS)
        quorum = self.integer(found.get("quorum"), "quorum", "jury", minimum=2,
                              default=defaults.quorum)
        casting = self.boolean(found.get("casting_vote"), "casting_vote", "jury")
        return JuryRules(
            quorum=quorum or defaults.quorum,
            composition=self.choice(found.get("composition"), "composition", "jury",
                                    JURY_COMPOSITIONS) or defaults.composition,
            majority=self.choice(found.get("majority"), "majority", "jury", JURY_MAJORITIES)
            or defaults.majority,
            casting_vote=defaults.casting_vote if casting is None else casting)

    def check_format(self, node: Node | None, root: Node) -> None:
        if node is None:
            self.fault(root, f"missing 'format' (expected {FORMAT})")
            return
        value = self.text(node, "format", "", required=True)
        if value is not None and value != FORMAT:
            self.fault(node, f"unsupported format '{value}' (expected {FORMAT})")

    def blocks(self, found: dict[str, Node], root: Node, register: Register | None,
               title: str | None) -> tuple[Block | None, ...]:
        """The blocks; a certification of the Répertoire spécifique may have none and list its
        competencies at the top: they form one implicit block (code RS, the certificate's
        title)."""
        competencies = found.get("competencies")
        if found.get("blocks") is not None:
            if competencies is not None:
                self.fault(competencies, "'competencies' at the top is for a Répertoire "
                           "spécifique certification without blocks; list them in the blocks")
            return tuple(self.block(n, i) for i, n in self.items(found["blocks"], "blocks", ""))
        if competencies is None or register is None or register.kind != "rs":
            # Only a Répertoire spécifique certification (register kind rs) may give its
            # 'competencies' without blocks.
            self.fault(root, "missing 'blocks'")
            return ()
        return (Block(IMPLICIT_BLOCK, title or "", tuple(
            self.competency(n, i, "") for i, n in self.items(competencies, "competencies",
                                                             ""))),)

    def register(self, node: Node | None) -> Register | None:
        if node is None:
            return Register(kind="transmitted")
        if not self.is_mapping(node, "'register'"):
            return None
        found = self.fields(node, "register", _REGISTER_KEYS)
        kind = self.choice(found.get("kind"), "kind", "register", REGISTER_KINDS)
        number = self.text(found.get("number"), "number", "register")
        if number is not None and kind in REGISTER_NUMBERS \
                and not REGISTER_NUMBERS[kind].fullmatch(number):
            expected = {"rncp": "RNCP followed by digits", "rs": "RS followed by digits"}.get(
                kind, "RNCP or RS followed by digits")
            self.fault(found["number"], _at("register", f"number '{number}' must be "
                                                        f"{expected}"))
        level = self.integer(found.get("level"), "level", "register", minimum=1, default=None)
        if level is not None and level not in RNCP_LEVELS:
            self.fault(found["level"], _at("register", f"level must be 3 to 8, got {level}"))
            level = None
        return Register(kind=kind, number=number, level=level,
                        ends_on=self.day(found.get("ends_on"), "ends_on", "register"))

    def day(self, node: Node | None, key: str, where: str) -> date | None:
        """A date, written YYYY-MM-DD (quoted or not)."""
        if node is None:
            return None
        if isinstance(node, ScalarNode):
            try:
                return date.fromisoformat(str(node.value))
            except ValueError:
                pass
        self.fault(node, _at(where, f"'{key}' must be a date YYYY-MM-DD, got "
                                    f"{_describe(node)}"))
        return None

    def rules(self, node: Node | None) -> Rules | None:
        defaults = Rules()
        if node is None:
            return defaults
        if not self.is_mapping(node, "'rules'"):
            return None
        found = self.fields(node, "rules", _RULES_KEYS)
        acquired = self.section(found.get("criterion_acquired"), "criterion_acquired",
                                _CRITERION_ACQUIRED_KEYS)
        ready = self.section(found.get("block_ready"), "block_ready", _BLOCK_READY_KEYS)
        return Rules(
            criterion_min_met=self.threshold(acquired, "min_met", "criterion_acquired",
                                             defaults.criterion_min_met),
            criterion_min_days=self.threshold(acquired, "min_days", "criterion_acquired",
                                              defaults.criterion_min_days),
            block_min_reflections=self.threshold(ready, "min_reflections", "block_ready",
                                                 defaults.block_min_reflections),
        )

    def section(self, node: Node | None, key: str, keys: Mapping[str, bool]) -> dict[str, Node]:
        if node is None or not self.is_mapping(node, f"rules: '{key}'"):
            return {}
        return self.fields(node, f"rules.{key}", keys)

    def threshold(self, found: dict[str, Node], key: str, section: str, default: int) -> int | None:
        return self.integer(found.get(key), key, f"rules.{section}", minimum=0, default=default)

    def block(self, node: Node, index: int) -> Block | None:
        where = _where("block", node, index, "")
        if not self.is_mapping(node, where):
            return None
        found = self.fields(node, where, _BLOCK_KEYS)
        competencies = self.items(found.get("competencies"), "competencies", where)
        return Block(
            code=self.code(found.get("code"), where),
            title=self.text(found.get("title"), "title", where, required=True),
            competencies=tuple(self.competency(n, i, where) for i, n in competencies),
            note=self.text(found.get("note"), "note", where) or "",
        )

    def competency(self, node: Node, index: int, parent: str) -> Competency | None:
        where = _where("competency", node, index, parent)
        if not self.is_mapping(node, where):
            return None
        found = self.fields(node, where, _COMPETENCY_KEYS)
        code = self.code(found.get("code"), where)
        title = self.text(found.get("title"), "title", where, required=True)
        criteria = tuple(self.criterion(n, i, where)
                         for i, n in self.items(found.get("criteria"), "criteria", where))
        self.check_essential(criteria, node, where)
        evidence = self.evidence_list(found.get("evidence"), where)
        return Competency(code=code, title=title, criteria=criteria, evidence=evidence)

    def check_essential(self, criteria: tuple[Criterion | None, ...], node: Node,
                        where: str) -> None:
        # Only when every criterion was read: a bad `essential` is already reported.
        readable = all(c is not None and c.essential is not None for c in criteria)
        if criteria and readable and not any(c.essential for c in criteria):
            self.fault(node, f"{where}: no essential criterion")

    def criterion(self, node: Node, index: int, parent: str) -> Criterion | None:
        where = _where("criterion", node, index, parent)
        if not self.is_mapping(node, where):
            return None
        found = self.fields(node, where, _CRITERION_KEYS)
        return Criterion(
            code=self.code(found.get("code"), where),
            label=self.text(found.get("label"), "label", where, required=True),
            essential=self.boolean(found.get("essential"), "essential", where),
        )

    def evidence_list(self, node: Node | None, parent: str) -> tuple[Evidence | None, ...]:
        items = list(self.items(node, "evidence", parent, allow_empty=True))
        evidence = tuple(self.evidence(n, f"{parent}, evidence #{i}") for i, n in items)
        # Observations name the expected evidence by its label, so it must be unambiguous.
        first_lines: dict[str, int] = {}
        for (_, item), expected in zip(items, evidence, strict=True):
            if expected is None or expected.label is None:
                continue
            if expected.label in first_lines:
                self.fault(item, f"{parent}: duplicate evidence label '{expected.label}' "
                                 f"(first at line {first_lines[expected.label]})")
            first_lines.setdefault(expected.label, _line(item))
        return evidence

    def evidence(self, node: Node, where: str) -> Evidence | None:
        if not self.is_mapping(node, where):
            return None
        found = self.fields(node, where, _EVIDENCE_KEYS)
        return Evidence(
            kind=self.choice(found.get("kind"), "kind", where, EVIDENCE_KINDS),
            label=self.text(found.get("label"), "label", where, required=True),
            min=self.integer(found.get("min"), "min", where, minimum=1, default=1),
        )

    # Containers

    def is_mapping(self, node: Node, subject: str) -> bool:
        if isinstance(node, MappingNode):
            return True
        self.fault(node, f"{subject} must be a mapping, got {_describe(node)}")
        return False

    def fields(self, node: MappingNode, where: str, keys: Mapping[str, bool]) -> dict[str, Node]:
        """The values of the known keys; an optional key set to null counts as absent."""
        found: dict[str, Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            if name is None:
                self.fault(key_node, _at(where, f"a key must be a name, got {_describe(key_node)}"))
            elif name not in keys:
                self.fault(key_node, _at(where, f"unknown key '{name}'{_suggestion(name, keys)}"))
            elif name in key_lines:
                self.fault(key_node, _at(where, f"duplicate key '{name}' "
                                                f"(first at line {key_lines[name]})"))
            else:
                key_lines[name] = _line(key_node)
                if keys[name] or not _is_null(value_node):
                    found[name] = value_node
        for name, required in keys.items():
            if required and name not in key_lines:
                self.fault(node, _at(where, f"missing '{name}'"))
        return found

    def items(self, node: Node | None, key: str, where: str,
              allow_empty: bool = False) -> Iterator[tuple[int, Node]]:
        """The items of a list value, numbered from 1 for messages."""
        if node is None:
            return iter(())
        if _is_null(node) or (isinstance(node, SequenceNode) and not node.value):
            if not allow_empty:
                self.fault(node, _at(where, f"no {key}"))
            return iter(())
        if not isinstance(node, SequenceNode):
            self.fault(node, _at(where, f"'{key}' must be a list, got {_describe(node)}"))
            return iter(())
        return enumerate(node.value, 1)

    # Scalars

    def text(self, node: Node | None, key: str, where: str, required: bool = False) -> str | None:
        if node is None:
            return None
        if isinstance(node, ScalarNode) and node.tag in (_STR, _NULL):
            value = node.value.strip() if node.tag == _STR else ""
            if required and not value:
                self.fault(node, _at(where, f"empty '{key}'"))
                return None
            if required and value.startswith(TODO_MARK):
                self.fault(node, _at(where, f"'{key}' is still to write: {value}"))
            return value
        if isinstance(node, ScalarNode):
            # YAML reads 2026.1 as a number and 2026-01-01 as a date: text must be quoted.
            self.fault(node, _at(where, f"'{key}' must be a string; "
                                        f"quote it: {key}: \"{node.value}\""))
        else:
            self.fault(node, _at(where, f"'{key}' must be a string, got {_describe(node)}"))
        return None

    def identifier(self, node: Node | None, key: str, where: str) -> str | None:
        value = self.text(node, key, where, required=True)
        if value is not None and not CODE_PATTERN.fullmatch(value):
            self.fault(node, _at(where, f"{key} '{value}' may only contain letters, digits, "
                                        "'.', '-' and '_'"))
            return None
        return value

    def code(self, node: Node | None, where: str) -> str | None:
        value = self.identifier(node, "code", where)
        if value is None:
            return None
        if value in self._code_lines:
            self.fault(node, f"duplicate code '{value}' (first at line {self._code_lines[value]})")
        else:
            self._code_lines[value] = _line(node)
        return value

    def choice(self, node: Node | None, key: str, where: str,
               choices: tuple[str, ...]) -> str | None:
        value = self.text(node, key, where, required=True)
        if value is not None and value not in choices:
            self.fault(node, _at(where, f"unknown {key} '{value}' (expected {_either(choices)})"))
            return None
        return value

    def boolean(self, node: Node | None, key: str, where: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return self._constructor.construct_yaml_bool(node)
        self.fault(node, _at(where, f"'{key}' must be true or false, got {_describe(node)}"))
        return None

    def integer(self, node: Node | None, key: str, where: str, minimum: int,
                default: int | None) -> int | None:
        if node is None:
            return default
        if not (isinstance(node, ScalarNode) and node.tag == _INT):
            self.fault(node, _at(where, f"'{key}' must be an integer, got {_describe(node)}"))
            return None
        value = self._constructor.construct_yaml_int(node)
        if value < minimum:
            bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            self.fault(node, _at(where, f"'{key}' {bound}, got {value}"))
            return None
        return value
