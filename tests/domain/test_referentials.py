"""The referential files: every packaged one loads, and each broken one says where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.domain.referentials import (
    Fault,
    ReferentialError,
    Register,
    Registry,
    Rules,
    check_files,
    load_file,
    packaged_assessments_dir,
    parse_referential,
)

REPOSITORY_ASSESSMENTS = Path(__file__).parents[2] / "assessments"
PACKAGED_FILES = sorted(REPOSITORY_ASSESSMENTS.glob("*.y*ml"))
SOURCE = "test.yaml"

# Line numbers matter: the tests below assert them literally.
VALID = """\
format: carnet-referential/1
code: CQP-TEST
version: "2026-1"
title: Certificat d'essai
branch: Branche d'essai
register: {kind: transmitted, number: null, level: null}
block_validity_years: 5
rules:
  criterion_acquired: {min_met: 2, min_days: 2}
  block_ready: {min_reflections: 1}
blocks:
  - code: BC01
    title: Préparer
    competencies:
      - code: C1.1
        title: Relever les cotes
        criteria:
          - {code: C1.1.a, label: Croquis coté, essential: true}
          - {code: C1.1.b, label: Accès signalés, essential: false}
        evidence:
          - {kind: photo, label: support avant travaux, min: 1}
          - {kind: document, label: croquis coté}
      - code: C1.2
        title: Établir la fiche de débit
        criteria:
          - {code: C1.2.a, label: Débit conforme, essential: true}
"""


def broken(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def faults_of(text: str) -> list[Fault]:
    with pytest.raises(ReferentialError) as caught:
        parse_referential(text, SOURCE)
    return caught.value.faults


def fault(line: int, message: str) -> Fault:
    return Fault(SOURCE, line, message)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# Packaged files


def test_the_repository_ships_at_least_one_referential():
    assert PACKAGED_FILES


def test_packaged_assessments_dir_is_the_repository_folder_in_a_checkout():
    assert packaged_assessments_dir() == REPOSITORY_ASSESSMENTS


@pytest.mark.parametrize("path", PACKAGED_FILES, ids=lambda p: p.name)
def test_every_packaged_referential_loads_with_four_blocks_and_essential_criteria(path):
    referential = load_file(path)
    assert len(referential.blocks) == 4
    for competency in referential.competencies():
        assert any(c.essential for c in competency.criteria), competency.code
    assert referential.source == str(path)


def test_the_packaged_folder_loads_into_a_registry():
    registry = Registry.load([packaged_assessments_dir()])
    assert len(registry) == len(PACKAGED_FILES)


# A valid file


def test_a_valid_file_is_parsed_into_the_dataclasses():
    referential = parse_referential(VALID, SOURCE)
    assert referential.key == ("CQP-TEST", "2026-1")
    assert referential.register == Register(kind="transmitted")
    assert referential.rules == Rules()
    assert referential.block_validity_years == 5
    assert [c.code for c in referential.criteria()] == ["C1.1.a", "C1.1.b", "C1.2.a"]
    assert referential.competency("C1.1").evidence[1].min == 1
    assert referential.source == SOURCE
    assert len(referential.digest) == 64


def test_optional_keys_left_out_take_their_defaults():
    text = broken("branch: Branche d'essai\n"
                  "register: {kind: transmitted, number: null, level: null}\n"
                  "block_validity_years: 5\n"
                  "rules:\n"
                  "  criterion_acquired: {min_met: 2, min_days: 2}\n"
                  "  block_ready: {min_reflections: 1}\n", "")
    referential = parse_referential(text, SOURCE)
    assert (referential.branch, referential.note) == ("", "")
    assert referential.register == Register(kind="transmitted")
    assert referential.block_validity_years is None
    assert referential.rules == Rules()


def test_rules_given_in_the_file_override_the_defaults():
    text = broken("{min_met: 2, min_days: 2}", "{min_met: 3}")
    assert parse_referential(text, SOURCE).rules == Rules(criterion_min_met=3)


def test_null_block_validity_means_blocks_are_held_for_life():
    text = broken("block_validity_years: 5", "block_validity_years: null")
    assert parse_referential(text, SOURCE).block_validity_years is None


# Rejections, each with its line


def test_yaml_syntax_error_is_reported_with_its_line():
    text = broken("title: Certificat d'essai", "title: Certificat: d'essai")
    assert faults_of(text) == [fault(4, "invalid YAML: mapping values are not allowed here")]


def test_empty_file_is_reported():
    assert faults_of("# nothing yet\n") == [fault(1, "the file is empty")]


def test_a_file_that_is_not_a_mapping_is_reported():
    assert faults_of("- a\n- b\n") == [fault(1, "the file must be a mapping, got a list")]


def test_missing_format_is_reported():
    text = broken("format: carnet-referential/1\n", "")
    assert faults_of(text) == [fault(1, "missing 'format' (expected carnet-referential/1)")]


def test_other_format_is_reported_with_its_line():
    text = broken("format: carnet-referential/1", "format: carnet-referential/2")
    assert faults_of(text) == [
        fault(1, "unsupported format 'carnet-referential/2' (expected carnet-referential/1)")]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("branch: Branche d'essai", "branche: Branche d'essai",
     [fault(5, "unknown key 'branche' (did you mean 'branch'?)")]),
    ("number: null", "numero: null",
     [fault(6, "register: unknown key 'numero' (did you mean 'number'?)")]),
    ("{min_reflections: 1}", "{min_reflexions: 1}",
     [fault(10, "rules.block_ready: unknown key 'min_reflexions' "
                "(did you mean 'min_reflections'?)")]),
    ("    title: Préparer", "    title: Préparer\n    level: 3",
     [fault(14, "block BC01: unknown key 'level'")]),
    ("        title: Relever les cotes", "        title: Relever les cotes\n        hint: 'x'",
     [fault(17, "competency C1.1: unknown key 'hint'")]),
    ("label: Accès signalés, essential: false", "label: Accès signalés, essential: false, x: 1",
     [fault(19, "criterion C1.1.b: unknown key 'x'")]),
    ("label: croquis coté}", "label: croquis coté, max: 2}",
     [fault(22, "competency C1.1, evidence #2: unknown key 'max'")]),
    # A misspelt required key is both unknown and missing.
    ("label: Croquis coté, essential: true", "label: Croquis coté, esential: true",
     [fault(18, "criterion C1.1.a: unknown key 'esential' (did you mean 'essential'?)"),
      fault(18, "criterion C1.1.a: missing 'essential'")]),
], ids=["top", "register", "rules", "block", "competency", "criterion", "evidence",
        "misspelt-required"])
def test_unknown_key_is_reported_with_its_line_at_any_level(old, new, expected):
    text = broken(old, new)
    assert faults_of(text) == expected


def test_a_key_that_is_not_a_name_is_reported_with_its_line():
    text = broken("branch: Branche d'essai", "? [branch]\n: Branche d'essai")
    assert faults_of(text) == [fault(5, "a key must be a name, got a list")]


def test_two_documents_in_one_file_are_reported_at_the_second():
    assert faults_of(VALID + "---\ncode: X\n") == [
        fault(27, "invalid YAML: but found another document "
                  "(expected a single document in the stream at line 1)")]

def test_duplicate_key_is_reported_with_its_line():
    text = broken("        title: Relever les cotes\n",
                  "        title: Relever les cotes\n        title: Relever\n")
    assert faults_of(text) == [
        fault(17, "competency C1.1: duplicate key 'title' (first at line 16)")]


def test_essential_given_as_text_is_reported_with_its_line():
    text = broken("Croquis coté, essential: true", 'Croquis coté, essential: "yes"')
    assert faults_of(text) == [
        fault(18, "criterion C1.1.a: 'essential' must be true or false, got the text 'yes'")]


def test_evidence_min_given_as_text_is_reported_with_its_line():
    text = broken("support avant travaux, min: 1", 'support avant travaux, min: "two"')
    assert faults_of(text) == [
        fault(21, "competency C1.1, evidence #1: 'min' must be an integer, got the text 'two'")]


def test_list_where_a_mapping_is_expected_is_reported_with_its_line():
    text = broken("register: {kind: transmitted, number: null, level: null}",
                  "register: [transmitted]")
    assert faults_of(text) == [fault(6, "'register' must be a mapping, got a list")]


def test_mapping_where_a_list_is_expected_is_reported_with_its_line():
    text = broken("        evidence:\n"
                  "          - {kind: photo, label: support avant travaux, min: 1}\n"
                  "          - {kind: document, label: croquis coté}\n",
                  "        evidence: {kind: photo, label: support avant travaux}\n")
    assert faults_of(text) == [
        fault(20, "competency C1.1: 'evidence' must be a list, got a mapping")]


def test_a_list_item_that_is_not_a_mapping_is_reported_with_its_line():
    text = broken("          - {code: C1.1.b, label: Accès signalés, essential: false}",
                  "          - C1.1.b")
    assert faults_of(text) == [
        fault(19, "competency C1.1, criterion #2 must be a mapping, got the text 'C1.1.b'")]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("code: CQP-TEST\n", "", fault(1, "missing 'code'")),
    ('version: "2026-1"\n', "", fault(1, "missing 'version'")),
    ("title: Certificat d'essai\n", "", fault(1, "missing 'title'")),
    ("  - code: BC01\n    title: Préparer\n", "  - title: Préparer\n",
     fault(12, "block #1: missing 'code'")),
    ("    title: Préparer\n", "", fault(12, "block BC01: missing 'title'")),
    ("        title: Établir la fiche de débit\n", "",
     fault(23, "competency C1.2: missing 'title'")),
    ("      - code: C1.2\n        title: Établir", "      - title: Établir",
     fault(23, "block BC01, competency #2: missing 'code'")),
    ("{code: C1.2.a, label", "{label", fault(26, "competency C1.2, criterion #1: missing 'code'")),
    ("label: Débit conforme, ", "", fault(26, "criterion C1.2.a: missing 'label'")),
    ("Débit conforme, essential: true}", "Débit conforme}",
     fault(26, "criterion C1.2.a: missing 'essential'")),
    ("{kind: document, label: croquis coté}", "{kind: document}",
     fault(22, "competency C1.1, evidence #2: missing 'label'")),
], ids=["code", "version", "title", "block-code", "block-title", "competency-title",
        "competency-code", "criterion-code", "criterion-label", "criterion-essential",
        "evidence-label"])
def test_missing_required_key_is_reported_with_its_line(old, new, expected):
    text = broken(old, new)
    assert faults_of(text) == [expected]


def test_missing_blocks_is_reported():
    text = VALID[:VALID.index("blocks:")]
    assert faults_of(text) == [fault(1, "missing 'blocks'")]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("title: Certificat d'essai", 'title: "   "', fault(4, "empty 'title'")),
    ("    title: Préparer", "    title:", fault(13, "block BC01: empty 'title'")),
    ("        title: Relever les cotes", "        title: ''",
     fault(16, "competency C1.1: empty 'title'")),
    ("label: Croquis coté,", "label: ' ',", fault(18, "criterion C1.1.a: empty 'label'")),
], ids=["referential", "block", "competency", "criterion"])
def test_empty_or_blank_title_or_label_is_reported_with_its_line(old, new, expected):
    text = broken(old, new)
    assert faults_of(text) == [expected]


def test_duplicate_criterion_code_is_reported_with_its_line():
    text = broken("{code: C1.2.a,", "{code: C1.1.a,")
    assert faults_of(text) == [fault(26, "duplicate code 'C1.1.a' (first at line 18)")]


def test_blocks_competencies_and_criteria_share_one_code_namespace():
    text = broken("      - code: C1.2\n", "      - code: BC01\n")
    assert faults_of(text) == [fault(23, "duplicate code 'BC01' (first at line 12)")]


def test_code_with_a_space_is_reported_with_its_line():
    text = broken("      - code: C1.2\n", "      - code: C1 2\n")
    assert faults_of(text) == [
        fault(23, "competency C1 2: code 'C1 2' may only contain letters, digits, "
                  "'.', '-' and '_'")]


def test_competency_without_essential_criterion_is_reported_with_its_line():
    text = broken("Débit conforme, essential: true", "Débit conforme, essential: false")
    assert faults_of(text) == [fault(23, "competency C1.2: no essential criterion")]


def test_competency_with_no_criteria_is_reported_with_its_line():
    text = broken("        criteria:\n          - {code: C1.2.a, label: Débit conforme, "
                  "essential: true}\n", "        criteria: []\n")
    assert faults_of(text) == [fault(25, "competency C1.2: no criteria")]


def test_block_with_no_competencies_is_reported_with_its_line():
    text = VALID[:VALID.index("    competencies:")] + "    competencies:\n"
    assert faults_of(text) == [fault(14, "block BC01: no competencies")]


def test_unknown_evidence_kind_is_reported_with_its_line():
    text = broken("{kind: photo,", "{kind: video,")
    assert faults_of(text) == [
        fault(21, "competency C1.1, evidence #1: unknown kind 'video' "
                  "(expected photo or document)")]


@pytest.mark.parametrize("value", ["0", "-1"])
def test_evidence_min_below_one_is_reported_with_its_line(value):
    text = broken("support avant travaux, min: 1", f"support avant travaux, min: {value}")
    assert faults_of(text) == [
        fault(21, f"competency C1.1, evidence #1: 'min' must be at least 1, got {value}")]


def test_duplicate_evidence_label_in_a_competency_is_reported_with_its_line():
    text = broken("{kind: document, label: croquis coté}",
                  "{kind: document, label: support avant travaux}")
    assert faults_of(text) == [
        fault(22, "competency C1.1: duplicate evidence label 'support avant travaux' "
                  "(first at line 21)")]


def test_unknown_register_kind_is_reported_with_its_line():
    text = broken("{kind: transmitted,", "{kind: cqp,")
    assert faults_of(text) == [
        fault(6, "register: unknown kind 'cqp' (expected transmitted, rncp or rs)")]


def test_version_given_as_a_number_is_reported_with_advice_to_quote_it():
    text = broken('version: "2026-1"', "version: 2026.1")
    assert faults_of(text) == [
        fault(3, "'version' must be a string; quote it: version: \"2026.1\"")]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("min_met: 2,", "min_met: -1,",
     fault(9, "rules.criterion_acquired: 'min_met' must not be negative, got -1")),
    ("min_days: 2}", "min_days: -2}",
     fault(9, "rules.criterion_acquired: 'min_days' must not be negative, got -2")),
    ("{min_reflections: 1}", "{min_reflections: -1}",
     fault(10, "rules.block_ready: 'min_reflections' must not be negative, got -1")),
    ("block_validity_years: 5", "block_validity_years: -5",
     fault(7, "'block_validity_years' must be at least 1, got -5")),
], ids=["min_met", "min_days", "min_reflections", "block_validity_years"])
def test_negative_threshold_is_reported_with_its_line(old, new, expected):
    text = broken(old, new)
    assert faults_of(text) == [expected]


def test_several_faults_in_one_file_are_all_reported_in_line_order():
    text = broken('version: "2026-1"', "version: 2026.1")
    text = broken("{kind: photo,", "{kind: video,", text)
    text = broken("{code: C1.2.a,", "{code: C1.1.a,", text)
    text = broken("Croquis coté, essential: true", 'Croquis coté, essential: "yes"', text)
    assert [f.line for f in faults_of(text)] == [3, 18, 21, 26]


def test_all_faults_are_in_the_error_message():
    text = broken('version: "2026-1"', "version: 2026.1")
    text = broken("{kind: photo,", "{kind: video,", text)
    with pytest.raises(ReferentialError) as caught:
        parse_referential(text, SOURCE)
    assert str(caught.value).splitlines() == [str(f) for f in caught.value.faults]


# Faults and digests


def test_fault_reads_as_file_line_message():
    assert str(Fault("a/b.yaml", 12, "duplicate code 'C1.1.a'")) == \
        "a/b.yaml:12: duplicate code 'C1.1.a'"


def test_digest_is_stable_across_reformatting():
    reformatted = broken("register: {kind: transmitted, number: null, level: null}",
                         "register:\n  level: null  # not registered yet\n  kind: 'transmitted'")
    reformatted = broken("{code: C1.1.a, label: Croquis coté, essential: true}",
                         '{essential: yes, label: "Croquis coté", code: C1.1.a}', reformatted)
    original = parse_referential(VALID, SOURCE)
    assert parse_referential(reformatted, "other.yaml").digest == original.digest


def test_digest_changes_with_the_content():
    changed = broken("label: Accès signalés", "label: Accès signalé")
    assert parse_referential(changed, SOURCE).digest != parse_referential(VALID, SOURCE).digest


# Files and the registry


def test_load_file_names_the_file_in_its_faults(tmp_path):
    path = write(tmp_path, "bad.yaml", broken('version: "2026-1"', "version: 2026.1"))
    with pytest.raises(ReferentialError) as caught:
        load_file(path)
    assert [str(f) for f in caught.value.faults] == [
        f"{path}:3: 'version' must be a string; quote it: version: \"2026.1\""]


def test_a_missing_file_is_a_fault_on_the_whole_file(tmp_path):
    path = tmp_path / "absent.yaml"
    assert check_files([path]) == [Fault(str(path), 0, "cannot read: No such file or directory")]


def test_a_file_that_is_not_utf8_is_reported_with_its_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.encode("latin-1"))
    assert check_files([path]) == [Fault(str(path), 13, "not valid UTF-8")]


def test_registry_loads_yaml_files_of_a_folder_but_not_subfolders_or_other_files(tmp_path):
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yml", broken('version: "2026-1"', 'version: "2026-10"'))
    write(tmp_path, "README.md", "not a referential")
    (tmp_path / "drafts").mkdir()
    write(tmp_path / "drafts", "c.yaml", broken('version: "2026-1"', 'version: "2026-2"'))
    registry = Registry.load([tmp_path])
    assert [r.version for r in registry] == ["2026-1", "2026-10"]


def test_registry_lists_versions_in_natural_order(tmp_path):
    for version in ("2026-10", "2026-2", "2026-1"):
        write(tmp_path, f"{version}.yaml", broken('"2026-1"', f'"{version}"'))
    registry = Registry.load([tmp_path])
    assert [r.version for r in registry.versions("CQP-TEST")] == ["2026-1", "2026-2", "2026-10"]
    assert registry.versions("CQP-OTHER") == []


def test_registry_gets_and_finds_by_code_and_version(tmp_path):
    registry = Registry.load([write(tmp_path, "a.yaml", VALID)])
    assert registry.get("CQP-TEST", "2026-1").title == "Certificat d'essai"
    assert registry.find("CQP-TEST", "2026-2") is None
    with pytest.raises(KeyError):
        registry.get("CQP-TEST", "2026-2")
    assert registry.all() == list(registry)


def test_same_content_loaded_twice_is_accepted(tmp_path):
    first = write(tmp_path, "a.yaml", VALID)
    second = write(tmp_path, "b.yaml",
                   "# a reformatted copy\n" + broken('"2026-1"', "'2026-1'  # same"))
    registry = Registry.load([first, second, first])
    assert len(registry) == 1
    assert registry.get("CQP-TEST", "2026-1").source == str(first)


def test_different_content_under_the_same_code_and_version_is_rejected(tmp_path):
    first = write(tmp_path, "a.yaml", VALID)
    second = write(tmp_path, "b.yaml", broken("label: Accès signalés", "label: Accès signalé"))
    with pytest.raises(ReferentialError) as caught:
        Registry.load([tmp_path])
    assert caught.value.faults == [
        Fault(str(second), 3,
              f"CQP-TEST version '2026-1' is already loaded from {first} with different content")]


def test_registry_built_from_conflicting_referentials_refuses_them():
    changed = broken("label: Accès signalés", "label: Accès signalé")
    with pytest.raises(ValueError, match="different content"):
        Registry([parse_referential(VALID, "a.yaml"), parse_referential(changed, "b.yaml")])


def test_check_files_reports_every_file_and_conflicts_between_files(tmp_path):
    good = write(tmp_path, "a.yaml", VALID)
    bad = write(tmp_path, "b.yaml", broken("{kind: photo,", "{kind: video,"))
    conflict = write(tmp_path, "c.yaml", broken("label: Accès signalés", "label: Autre"))
    assert check_files([good, bad, conflict]) == [
        Fault(str(bad), 21, "competency C1.1, evidence #1: unknown kind 'video' "
                            "(expected photo or document)"),
        Fault(str(conflict), 3, f"CQP-TEST version '2026-1' is already loaded from {good} "
                                "with different content"),
    ]


def test_check_files_finds_nothing_wrong_in_the_packaged_files():
    assert check_files([packaged_assessments_dir()]) == []

