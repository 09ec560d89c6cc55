"""The data model (Tortoise ORM). Schema changes go through backend/migrations.

Rules live in backend/domain: these classes only say what is stored. Names of
choices are stable strings, because they travel in the API and the audit chain.

A model docstring's first line becomes the table comment, and Tortoise's SQLite
migration runner splits statements on semicolons: keep them out of docstrings.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

ORG_KINDS = ("branch", "company")
ACCESS_ROUTES = ("afest", "continuing", "vae")
AUTHOR_ROLES = ("tutor", "candidate", "admin")
OBSERVATION_KINDS = ("observation", "reflection")
RATINGS = ("met", "progressing", "not_met")
COLLEGES = ("employer", "employee")
OUTCOMES = ("validated", "not_validated")


class Organisation(Model):
    """The branch (certifier, CPNE secretariat) or a company enrolling candidates."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    name = fields.CharField(max_length=200)
    siret = fields.CharField(max_length=14, null=True, unique=True)
    branch = fields.ForeignKeyField(
        "models.Organisation", related_name="companies", null=True, on_delete=fields.RESTRICT
    )
    # A branch's own settings, printed on its PDFs (companies leave them empty).
    address = fields.TextField(default="")
    contact = fields.CharField(max_length=200, default="")
    time_zone = fields.CharField(max_length=64, default="Europe/Paris")
    logo = fields.BinaryField(null=True)  # PNG or JPEG, at most LOGO_MAX_BYTES
    logo_type = fields.CharField(max_length=32, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organisation"


# The longest address SMTP carries (RFC 5321): the column, the forms and the login agree.
EMAIL_LENGTH = 254


class Person(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=EMAIL_LENGTH, unique=True)
    full_name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=200, null=True)
    is_active = fields.BooleanField(default=True)
    # Ends every session issued before it (logout everywhere, disabling).
    sessions_valid_after = fields.DatetimeField(null=True)
    # The person's own company, when they are an employee or an employer.
    company = fields.ForeignKeyField(
        "models.Organisation", related_name="people", null=True, on_delete=fields.RESTRICT
    )
    # A company this person represents (its employer, a manager), recorded explicitly at the
    # invitation or on the person's page: a conflict of interest with its candidates.
    represents_company = fields.ForeignKeyField(
        "models.Organisation", related_name="representatives", null=True,
        on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "person"


class AdminGrant(Model):
    """Branch administration rights over an organisation (the branch)."""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="admin_grants")
    organisation = fields.ForeignKeyField("models.Organisation", related_name="admin_grants")
    granted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "admin_grant"
        unique_together = (("person", "organisation"),)


class LoginSession(Model):
    """Server-side session: the cookie holds a random token, the table its hash."""

    token_hash = fields.CharField(max_length=64, primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="sessions")
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    idle_seconds = fields.IntField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "login_session"
        indexes = [Index(fields=("person_id",))]  # "log out everywhere" updates by person


class LoginAttempt(Model):
    """Login attempts per key: an account, a client address, or both (keys are
    hashes, known account or not, so rows do not reveal which accounts exist).

    Times are whole seconds since the epoch, so that the one-statement
    reservation in `backend.domain.throttle` compares integers on every database.
    """

    key = fields.CharField(max_length=64, primary_key=True)
    attempts = fields.IntField(default=0)
    allowance = fields.IntField()  # attempts allowed before the next delay
    blocked_until = fields.BigIntField(default=0)
    last_at = fields.BigIntField(default=0)

    class Meta:
        table = "login_attempt"


class PersonToken(Model):
    """A single-use link mailed to a person (password reset, lifting a login lock):
    only the keyed hash of the token is kept, as for invitations."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    person = fields.ForeignKeyField("models.Person", related_name="tokens",
                                    on_delete=fields.CASCADE)
    purpose = fields.CharField(max_length=16)  # reset | unlock
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "person_token"
        indexes = [Index(fields=("person_id",))]


class Invitation(Model):
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    email = fields.CharField(max_length=EMAIL_LENGTH)
    full_name = fields.CharField(max_length=200)
    role = fields.CharField(max_length=16)  # admin | tutor | candidate | jury
    organisation = fields.ForeignKeyField(
        "models.Organisation", related_name="invitations", null=True
    )
    # None for the first administrator's setup link, issued by `carnet init`.
    invited_by = fields.ForeignKeyField("models.Person", related_name="invitations_sent",
                                        null=True)
    # The company the invited person represents (docs/domain.md: conflicts of interest).
    represents_company = fields.ForeignKeyField(
        "models.Organisation", related_name="representative_invitations", null=True,
        on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="invitations_accepted", null=True
    )

    class Meta:
        table = "invitation"


class Enrolment(Model):
    """A candidate pinned to one referential version, in one company."""

    id = fields.IntField(primary_key=True)
    candidate = fields.ForeignKeyField("models.Person", related_name="enrolments")
    company = fields.ForeignKeyField("models.Organisation", related_name="enrolments")
    referential_code = fields.CharField(max_length=64)
    referential_version = fields.CharField(max_length=32)
    access_route = fields.CharField(max_length=16)
    started_on = fields.DateField()
    # Bumped by every write to the enrolment's evidence or decisions: the
    # progress ETag is derived from it, so it changes exactly when they do.
    revision = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "enrolment"
        indexes = [Index(fields=("candidate_id",)), Index(fields=("company_id",))]


class Tutorship(Model):
    """A tutor designated on an enrolment (AFEST: designated beforehand)."""

    id = fields.IntField(primary_key=True)
    enrolment = fields.ForeignKeyField("models.Enrolment", related_name="tutorships")
    tutor = fields.ForeignKeyField("models.Person", related_name="tutorships")
    designated_on = fields.DateField()
    ended_on = fields.DateField(null=True)

    class Meta:
        table = "tutorship"
        unique_together = (("enrolment", "tutor"),)
        # roles_of asks "is this person tutoring anyone?" on every page: the
        # unique index above leads with enrolment_id and cannot answer it.
        indexes = [Index(fields=("tutor_id",))]


class PendingTutorship(Model):
    """A tutor designated through an invitation not yet accepted: the enrolment waits
    for them. Accepting the invitation turns it into a Tutorship (same date)."""

    id = fields.IntField(primary_key=True)
    enrolment = fields.ForeignKeyField("models.Enrolment", related_name="pending_tutors",
                                       on_delete=fields.CASCADE)
    invitation = fields.ForeignKeyField("models.Invitation", related_name="pending_tutorships",
                                        on_delete=fields.CASCADE)
    designated_on = fields.DateField()

    class Meta:
        table = "pending_tutorship"
        unique_together = (("enrolment", "invitation"),)


class HeldBlock(Model):
    """A block capitalised from an earlier decision."""

    id = fields.IntField(primary_key=True)
    enrolment = fields.ForeignKeyField("models.Enrolment", related_name="held_blocks")
    block_code = fields.CharField(max_length=32)
    decided_on = fields.DateField()
    referential_version = fields.CharField(max_length=32)

    class Meta:
        table = "held_block"
        unique_together = (("enrolment", "block_code"),)


class Observation(Model):
    """One work situation (or one reflective phase), client-identified by UUID.

    A correction is a new row that supersedes this one; rows are never edited."""

    id = fields.UUIDField(primary_key=True)
    enrolment = fields.ForeignKeyField("models.Enrolment", related_name="observations")
    author = fields.ForeignKeyField("models.Person", related_name="observations")
    author_role = fields.CharField(max_length=16)
    kind = fields.CharField(max_length=16)
    referential_version = fields.CharField(max_length=32)
    observed_on = fields.DateField()
    block_code = fields.CharField(max_length=32, null=True)  # reflections name their block
    situation = fields.TextField()
    place = fields.CharField(max_length=200, default="")
    comment = fields.TextField(default="")
    ratings = fields.JSONField(default=dict)  # {criterion_code: met|progressing|not_met}
    photos = fields.JSONField(default=list)  # [{id, competency, evidence}]
    content_sha256 = fields.CharField(max_length=64)  # canonical body, for idempotency
    supersedes = fields.OneToOneField(
        "models.Observation", related_name="superseded_by", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "observation"
        indexes = [Index(fields=("enrolment_id", "observed_on"))]


class Photo(Model):
    """A stored image: re-encoded without metadata, named by its hash."""

    id = fields.UUIDField(primary_key=True)
    enrolment = fields.ForeignKeyField("models.Enrolment", related_name="photo_set")
    uploaded_by = fields.ForeignKeyField("models.Person", related_name="photos")
    author_role = fields.CharField(max_length=16)
    received_sha256 = fields.CharField(max_length=64)  # of the bytes the client sent
    sha256 = fields.CharField(max_length=64)  # of the stored image
    content_type = fields.CharField(max_length=32)
    size = fields.IntField()
    width = fields.IntField()
    height = fields.IntField()
    thumb_sha256 = fields.CharField(max_length=64)
    thumb_size = fields.IntField()
    captured_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "photo"
        indexes = [Index(fields=("enrolment_id",))]


class JurySession(Model):
    id = fields.IntField(primary_key=True)
    organisation = fields.ForeignKeyField("models.Organisation", related_name="jury_sessions")
    held_on = fields.DateField()
    place = fields.CharField(max_length=200)
    status = fields.CharField(max_length=16, default="open")  # open | closed
    closed_at = fields.DatetimeField(null=True)
    closed_by = fields.ForeignKeyField("models.Person", related_name="closed_sessions", null=True)
    # sha256 of the minutes at closing, also in the closing's audit event (null while
    # open, and for sessions closed before it was stored: their event carries it)
    minutes_sha256 = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "jury_session"


class JuryMember(Model):
    id = fields.IntField(primary_key=True)
    session = fields.ForeignKeyField("models.JurySession", related_name="members")
    person = fields.ForeignKeyField("models.Person", related_name="jury_seats")
    college = fields.CharField(max_length=16)  # from the mandate (jury.college_of)
    is_president = fields.BooleanField(default=False)
    # What the member represents, recorded when seated: employer_organisation | union, and
    # the organisation's name (empty for seats from before mandates were recorded).
    mandate = fields.CharField(max_length=32, default="")
    represents = fields.CharField(max_length=200, default="")

    class Meta:
        table = "jury_member"
        unique_together = (("session", "person"),)
        indexes = [Index(fields=("person_id",))]  # the unique index leads with session_id


class Dossier(Model):
    """A block submitted to a jury: a frozen manifest and its own hash."""

    id = fields.IntField(primary_key=True)
    enrolment = fields.ForeignKeyField("models.Enrolment", related_name="dossiers")
    block_code = fields.CharField(max_length=32)
    manifest = fields.JSONField()
    manifest_sha256 = fields.CharField(max_length=64)
    submitted_by = fields.ForeignKeyField("models.Person", related_name="dossiers_submitted")
    submitted_at = fields.DatetimeField()
    session = fields.ForeignKeyField("models.JurySession", related_name="dossiers", null=True)
    review_of = fields.ForeignKeyField("models.Dossier", related_name="reviews", null=True)
    # An appeal's sealed record (backend.domain.seals), also in its audit event.
    # Null for a first submission, and for appeals made before appeals were sealed.
    appeal_sha256 = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "dossier"
        indexes = [Index(fields=("enrolment_id", "block_code"))]


class Decision(Model):
    """One per dossier: the unique constraint settles concurrent attempts."""

    id = fields.IntField(primary_key=True)
    dossier = fields.OneToOneField("models.Dossier", related_name="decision")
    outcome = fields.CharField(max_length=16)
    reasons = fields.TextField(default="")
    recommendations = fields.TextField(default="")
    decided_by = fields.ForeignKeyField("models.Person", related_name="decisions")
    decided_at = fields.DatetimeField()
    # The members present at the deliberation and their votes ([{person, college, president,
    # vote}]), and the seated members excluded for a conflict of interest ([{person, reason}]).
    # Sealed with the decision. Null for decisions from before juries voted.
    deliberation = fields.JSONField(null=True)
    excluded = fields.JSONField(null=True)
    manifest_sha256 = fields.CharField(max_length=64)
    # The decision's sealed record (backend.domain.seals), also in its audit event.
    # Null for decisions made before decisions were sealed.
    decision_sha256 = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "decision"


class DeliveredCertificate(Model):
    """A certificate delivered to a candidate: its number, its date and what it rests on (the
    sealed record: decisions, minutes, referential version). Stored once, it never expires."""

    id = fields.IntField(primary_key=True)
    enrolment = fields.OneToOneField("models.Enrolment", related_name="delivered_certificate")
    number = fields.CharField(max_length=64, unique=True)
    delivered_on = fields.DateField()
    referential_version = fields.CharField(max_length=32)
    record = fields.JSONField()  # jury.certificate_record
    record_sha256 = fields.CharField(max_length=64)  # also in its audit event
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "delivered_certificate"


class AuditEvent(Model):
    """Append-only and hash-chained: each row's hash covers the previous hash."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    actor_id = fields.IntField(null=True)
    action = fields.CharField(max_length=64)
    subject = fields.CharField(max_length=100, default="")
    payload = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_event"


class AuditHead(Model):
    """One row holding the chain's last hash. Writers lock it (FOR UPDATE on
    PostgreSQL; SQLite serialises writers anyway) so the chain never forks."""

    id = fields.IntField(primary_key=True)
    last_hash = fields.CharField(max_length=64)
    count = fields.BigIntField(default=0)

    class Meta:
        table = "audit_head"


class RegisterCertification(Model):
    """A certification of the national register (RNCP or RS), imported from its open data."""

    number = fields.CharField(max_length=16, primary_key=True)  # "RNCP35809", "RS5678"
    kind = fields.CharField(max_length=8)  # "rncp" | "rs"
    title = fields.TextField()
    abbreviation = fields.CharField(max_length=100, default="")
    level = fields.IntField(null=True)
    active = fields.BooleanField(default=False)
    state = fields.CharField(max_length=64, default="")
    certifiers = fields.JSONField(default=list)
    rome_codes = fields.JSONField(default=list)  # [{"code", "label"}]
    nsf_codes = fields.JSONField(default=list)
    effective_on = fields.DateField(null=True)
    ends_on = fields.DateField(null=True)
    published_on = fields.DateField(null=True)
    details = fields.JSONField(default=dict)  # jobs, activities, objectives, capacities...
    # Number, title, certifiers, ROME and NSF codes: lower case, accents removed.
    search_text = fields.TextField(default="")
    content_sha256 = fields.CharField(max_length=64)  # a rerun skips unchanged fiches
    imported_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "register_certification"


class RegisterBlock(Model):
    """A block of a register certification. Block codes repeat across fiches: keyed on both."""

    id = fields.IntField(primary_key=True)
    certification = fields.ForeignKeyField("models.RegisterCertification", related_name="blocks",
                                           on_delete=fields.CASCADE)
    code = fields.CharField(max_length=64)
    position = fields.IntField()
    title = fields.TextField()
    competencies = fields.JSONField(default=list)
    assessment = fields.TextField(default="")

    class Meta:
        table = "register_block"
        unique_together = (("certification", "code"),)


class Notice(Model):
    """Something that happened, for one person: shown in the app (with an unread
    count) and, by their choice, mailed (`MailMessage`)."""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="notices",
                                    on_delete=fields.CASCADE)
    event = fields.CharField(max_length=40)  # block.ready, dossier.presented, …
    params = fields.JSONField(default=dict)  # names, block code, outcome word: no evidence
    link = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notice"
        indexes = [Index(fields=("person_id", "read_at"))]


class MailMessage(Model):
    """The durable mail outbox: written in the transaction of what it tells, sent
    after the commit. `key` is the Message-ID: it is claimed before sending, so a
    worker that dies mid-send leaves a message another retries under the same id."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=100, unique=True)
    person = fields.ForeignKeyField("models.Person", related_name="mails", null=True,
                                    on_delete=fields.SET_NULL)
    to_address = fields.CharField(max_length=EMAIL_LENGTH)
    subject = fields.CharField(max_length=200)
    body = fields.TextField()
    created_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    claimed_until = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, default="")

    class Meta:
        table = "mail_message"
        indexes = [Index(fields=("sent_at", "next_attempt_at"))]


class MailPreference(Model):
    """How a person wants notices mailed: each one, a daily digest, or none
    (a jury convocation is mailed whatever they chose)."""

    person = fields.OneToOneField("models.Person", related_name="mail_preference",
                                  primary_key=True, on_delete=fields.CASCADE)
    mode = fields.CharField(max_length=8, default="each")  # each | digest | none
    digest_until = fields.DatetimeField(null=True)  # notices before this were digested

    class Meta:
        table = "mail_preference"


CERTIFICATE_STATUSES = ("project", "open", "closed", "withdrawn")


class Certificate(Model):
    """A CQP as its branch manages it: owner branch and what the public catalogue publishes."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)  # the referentials' code
    # The branch that manages it; null until an admin first sets something on it.
    branch = fields.ForeignKeyField("models.Organisation", related_name="certificates",
                                    null=True, on_delete=fields.RESTRICT)
    publish_figures = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "certificate"


class CertificateVersion(Model):
    """The status of one referential version (project, open, closed, withdrawn).

    Closed means closed to new candidates. A loaded version without a row is open."""

    id = fields.IntField(primary_key=True)
    certificate = fields.ForeignKeyField("models.Certificate", related_name="versions",
                                         on_delete=fields.CASCADE)
    version = fields.CharField(max_length=32)
    status = fields.CharField(max_length=16, default="open")
    opened_on = fields.DateField(null=True)
    closed_on = fields.DateField(null=True)
    withdrawn_on = fields.DateField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "certificate_version"
        unique_together = (("certificate", "version"),)


class CatalogueContact(Model):
    """A message sent from the public catalogue by a company or a person interested."""

    id = fields.IntField(primary_key=True)
    certificate_code = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)  # "company" | "person"
    full_name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=EMAIL_LENGTH)
    organisation = fields.CharField(max_length=200, default="")
    message = fields.TextField()
    consent = fields.TextField()  # the wording the sender agreed to, as shown
    created_at = fields.DatetimeField()

    class Meta:
        table = "catalogue_contact"
        indexes = [Index(fields=("created_at",))]


REPORT_STATES = ("draft", "submitted", "approved", "rejected")


class OpportunityReport(Model):
    """The rapport préalable d'opportunité of a CQP project, decided by the CPNE."""

    id = fields.IntField(primary_key=True)
    certificate = fields.OneToOneField("models.Certificate", related_name="report",
                                       on_delete=fields.RESTRICT)
    title = fields.CharField(max_length=300)  # the CQP's working title
    state = fields.CharField(max_length=16, default="draft")
    need_jobs = fields.TextField(default="")  # jobs and skills wanted
    evidence_job_offers = fields.TextField(default="")
    evidence_survey = fields.TextField(default="")  # employer survey
    evidence_opco = fields.TextField(default="")  # OPCO data
    target_public = fields.TextField(default="")
    expected_per_year = fields.IntField(null=True)
    # [{"number", "title", "why_not"}]: register certifications considered, and why not.
    existing = fields.JSONField(default=list)
    companies_consulted = fields.TextField(default="")
    assessment_mode = fields.TextField(default="")
    cpne_date = fields.DateField(null=True)
    cpne_minutes = fields.CharField(max_length=200, default="")
    submitted_at = fields.DatetimeField(null=True)
    decided_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "opportunity_report"


CANDIDATE_ROUTES = ("employee", "job_seeker")
SIZE_BANDS = ("1-10", "11-49", "50-249", "250+")


class CandidateRoute(Model):
    """How a candidate came to the CQP, when recorded at enrolment: employee or job seeker."""

    enrolment = fields.OneToOneField("models.Enrolment", related_name="candidate_route",
                                     primary_key=True, on_delete=fields.CASCADE)
    route = fields.CharField(max_length=16)

    class Meta:
        table = "candidate_route"


class CompanySize(Model):
    """A company's headcount band, for the branch's inventory."""

    company = fields.OneToOneField("models.Organisation", related_name="size",
                                   primary_key=True, on_delete=fields.CASCADE)
    band = fields.CharField(max_length=8)

    class Meta:
        table = "company_size"
