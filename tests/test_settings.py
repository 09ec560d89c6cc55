import re
from pathlib import Path

from backend import settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_read_from_the_environment_is_in_the_readme_table():
    source = (ROOT / "backend" / "settings.py").read_text()
    read = set(re.findall(r'"(CARNET_[A-Z0-9_]+)"', source))
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `(CARNET_[A-Z0-9_]+)` \|", readme, flags=re.M))
    assert read == set(settings.DOCUMENTED)
    assert read == table


def test_settings_come_from_the_environment_with_documented_defaults(tmp_path):
    s = settings.from_env({"CARNET_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite://{tmp_path / 'carnet.sqlite3'}"
    assert s.max_upload_bytes == 20_000_000
    assert s.cookie_secure == "auto"
    assert (tmp_path / "secret_key").read_text() == s.secret_key
    again = settings.from_env({"CARNET_DATA_DIR": str(tmp_path)})
    assert again.secret_key == s.secret_key  # generated once, kept


def test_extra_assessment_folders_are_split_on_the_path_separator(tmp_path):
    s = settings.from_env({"CARNET_DATA_DIR": str(tmp_path), "CARNET_SECRET_KEY": "k",
                           "CARNET_ASSESSMENTS_DIRS": "/a:/b"})
    assert s.assessments_dirs == (Path("/a"), Path("/b"))
