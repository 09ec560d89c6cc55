"""A jury dossier to look at, for bench/queries.py: one block of the enrolment frozen
into a dossier (the product's own manifest builder, without the readiness check:
seeded ratings are random), assigned to a jury session with one member who has no
tie to the candidate."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bench._common import PASSWORD


async def prepare_dossier(app, enrolment_id: int) -> tuple[str, str]:
    from backend.auth import hash_password
    from backend.domain import jury
    from backend.models import (
        Dossier,
        Enrolment,
        JuryMember,
        JurySession,
        Observation,
        Person,
        Photo,
        Tutorship,
    )

    enrolment = await Enrolment.get(id=enrolment_id).select_related("company")
    ref = app.state.registry.get(enrolment.referential_code, enrolment.referential_version)
    tutor_id = (await Tutorship.filter(enrolment_id=enrolment_id).first()).tutor_id
    block = ref.blocks[0].code
    at = datetime.now(UTC)
    manifest = jury.build_manifest(
        ref=ref, block_code=block,
        enrolment={"id": enrolment.id, "candidate": enrolment.candidate_id,
                   "company": enrolment.company_id},
        observations=await Observation.filter(enrolment_id=enrolment_id).values(
            *jury.OBSERVATION_FIELDS),
        photos=await Photo.filter(enrolment_id=enrolment_id).values(*jury.PHOTO_FIELDS),
        attestation={"person": tutor_id, "name": "Tuteur seed", "role": "tutor",
                     "at": jury.instant(at)})
    session = await JurySession.create(organisation_id=enrolment.company.branch_id,
                                       held_on=date.today(), place="Salle du jury")
    await Dossier.create(enrolment_id=enrolment_id, block_code=block, manifest=manifest,
                         manifest_sha256=jury.sha256_of(manifest), submitted_by_id=tutor_id,
                         submitted_at=at, session_id=session.id)
    dossier = await Dossier.filter(enrolment_id=enrolment_id).order_by("-id").first()
    email = f"jury-{enrolment_id}-{session.id}@bench.test"
    person = await Person.create(email=email, full_name="Membre du jury",
                                 password_hash=await hash_password(PASSWORD))
    await JuryMember.create(session_id=session.id, person_id=person.id, college="employer",
                            is_president=True)
    n_obs = len(manifest["observations"])
    return f"/dossiers/{dossier.id}", email, n_obs
