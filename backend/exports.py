"""The personal-data ZIP, written to a temporary file so that a candidate with hundreds of
photos never needs the archive in memory: photo files are copied into it in chunks by
`zipfile`, and the response sends the file in chunks before deleting it."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the domain module imports this one
    from backend.domain.personal_data import Gathered
    from backend.storage import LocalPhotoStore

DATA_FILE = "donnees.json"
README_FILE = "LISEZMOI.txt"

README = """Vos données dans Carnet
=======================

Cette archive contient tout ce que Carnet conserve à votre sujet au {date}.

donnees.json
  Le fichier principal, au format JSON (lisible par un tableur ou un programme) :
  - profile : votre compte (nom, adresse e-mail, entreprise, date de création) ;
  - roles : vos rôles (administration, tutorat, sièges de jury) ;
  - enrolments : vos parcours de certification (référentiel, entreprise, début) ;
  - held_blocks : les blocs acquis antérieurement et reportés sur vos parcours ;
  - observations : les observations et réflexions que vous avez écrites ou qui
    portent sur vos parcours (situation, lieu, commentaire, évaluations) ;
  - ratings : chaque évaluation de critère de ces observations, une par ligne ;
  - photos : la description de chaque photo (dimensions, empreinte, date de prise
    de vue) et le nom de son fichier dans le dossier photos/ ;
  - dossiers : les dossiers présentés au jury pour vos parcours, avec leur
    manifeste figé et son empreinte ;
  - decisions_about_me : les décisions du jury sur ces dossiers ;
  - decisions_taken : les décisions que vous avez prises comme membre d'un jury ;
  - invitations : les invitations qui vous ont été adressées ;
  - audit_events : les événements du journal d'audit qui vous concernent.
  Les autres personnes n'y figurent que par leur numéro, jamais par leur nom.

photos/
  Les photos que vous avez prises ou qui appartiennent à vos parcours, telles que
  Carnet les conserve (sans métadonnées de localisation). Certaines peuvent
  manquer si leur durée de conservation est écoulée : seule la vignette est
  alors gardée, et la description l'indique.

Pour exercer vos droits (rectification, effacement, opposition), voir la page
« Vos données » de Carnet.
"""


def write_zip(gathered: Gathered, store: LocalPhotoStore, date: str,
              dest: str | os.PathLike[str] | None = None) -> Path:
    """Write the archive to `dest` (or a new temporary file) and return its path."""
    if dest is None:
        fd, name = tempfile.mkstemp(prefix="carnet-export-", suffix=".zip")
        os.close(fd)
        dest = name
    path = Path(dest)
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(README_FILE, README.format(date=date))
            archive.writestr(DATA_FILE, json.dumps(gathered.data, ensure_ascii=False, indent=2,
                                                   default=str))
            for photo in gathered.photos:
                _add_photo(archive, store, photo)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _add_photo(archive: zipfile.ZipFile, store: LocalPhotoStore, photo: dict) -> None:
    name, sha = f"photos/{photo['id']}.jpg", photo["sha256"]
    if not store.exists(sha):  # full size purged by retention: the thumbnail stays
        name, sha = f"photos/{photo['id']}-vignette.jpg", photo["thumb_sha256"]
        if not store.exists(sha):
            return
    # JPEG is compressed already: stored as is, copied from the file in chunks.
    archive.writestr(name, store.open(sha), compress_type=zipfile.ZIP_STORED)
