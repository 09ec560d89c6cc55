"""The OpenAPI 3.1 document of `/api/v1`: the full description of the JSON API (docs/api.md
is generated from it), served at `/api/v1/openapi.json`.

`tests/test_openapi.py` checks that it lists exactly the router's `/api/v1` routes, that it
is valid OpenAPI, and runs schemathesis over it against a real server. Request schemas say
what the server accepts (`backend.domain.evidence.parse_observation`,
`backend.domain.jury.parse_decision` and `parse_grounds`); a body that passes them may still
be refused for what only the server knows (an unknown criterion code, a future date, a
block that is not ready). Every error answer is the one `Error` shape of `backend.errors`.
"""

from __future__ import annotations

import copy
from typing import Any

from backend.domain.evidence import MAX_COMMENT, MAX_PHOTOS, MAX_PLACE, MAX_SITUATION
from backend.domain.jury import MAX_GROUNDS, MAX_REASONS
from backend.http import MAX_ROW_ID
from backend.models import EMAIL_LENGTH, OBSERVATION_KINDS, OUTCOMES, RATINGS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, required: list[str] | None = None,
        **extra: Any) -> Schema:
    """An object; every property is required unless `required` says otherwise."""
    return {"type": "object", "required": list(properties) if required is None else required,
            "properties": properties, **extra}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def items_of(schema: Schema) -> Schema:
    return obj({"items": {"type": "array", "items": schema}})


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
UUID = {"type": "string", "format": "uuid"}
DATE = {"type": "string", "format": "date"}
DATE_TIME = {"type": "string", "format": "date-time"}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
PERSON_REF = obj({"id": INTEGER, "full_name": STRING})
RATING = {"type": "string", "enum": list(RATINGS)}

# --- schemas ---------------------------------------------------------------------------------

SCHEMAS: dict[str, Schema] = {
    "Error": obj({
        "code": {**STRING, "description": "Stable machine-readable code, e.g. `not_found`, "
                 "`invalid_observation`, `digest_mismatch`."},
        "message": {**STRING, "description": "Human-readable message (French)."},
        "details": {"description": "Anything that helps the client: per-field messages, the "
                    "stored version on a conflict, or null."},
    }, additionalProperties=False),
    "Login": obj({"email": {**STRING, "format": "email", "maxLength": EMAIL_LENGTH},
                  "password": {**STRING, "maxLength": 1024}}, additionalProperties=False),
    "Me": obj({
        "id": INTEGER, "email": STRING, "full_name": STRING,
        "company_id": nullable(INTEGER),
        "roles": obj({
            "admin": {"type": "array", "items": INTEGER,
                      "description": "Organisations (branches) administered."},
            "tutor": {"type": "array", "items": INTEGER,
                      "description": "Enrolments the person currently tutors."},
            "candidate": {"type": "array", "items": INTEGER,
                          "description": "The person's own enrolments."},
            "jury": {"type": "array", "items": obj({
                "session_id": INTEGER, "college": {"type": "string",
                                                   "enum": ["employer", "employee"]},
                "is_president": BOOLEAN})},
        }),
    }),
    "CatalogueEntry": obj({
        "code": STRING, "version": STRING, "title": STRING, "branch": STRING, "url": STRING,
        "purpose": STRING, "jobs": {"type": "array", "items": STRING},
        "assessment": {"type": "string", "enum": ["work_situations"]},
        "duration": STRING, "prerequisites": STRING, "classification": STRING,
        "register": obj({"kind": STRING, "number": nullable(STRING), "level": nullable(INTEGER),
                         "url": nullable(STRING)}),
        "opened_on": nullable(STRING),
        "blocks": {"type": "array", "items": obj({
            "code": STRING, "title": STRING,
            "competencies": {"type": "array", "items": STRING}})},
        "figures": nullable(obj({
            "holders_per_year": {"type": "object", "additionalProperties": INTEGER},
            "success_rate": nullable({"type": "number"})})),
    }),
    "ReferentialSummary": obj({
        "code": STRING, "version": STRING, "title": STRING, "branch": STRING,
        "register": obj({"kind": STRING, "number": nullable(STRING),
                         "level": nullable(INTEGER)}),
        "block_validity_years": nullable(INTEGER),
        "blocks": {"type": "array", "items": obj({"code": STRING, "title": STRING})},
        "digest": STRING,
    }),
    "Referential": {"allOf": [ref("ReferentialSummary"), obj({
        "rules": obj({"criterion_min_met": INTEGER, "criterion_min_days": INTEGER,
                      "block_min_reflections": INTEGER}),
        "blocks": {"type": "array", "items": obj({
            "code": STRING, "title": STRING,
            "competencies": {"type": "array", "items": obj({
                "code": STRING, "title": STRING,
                "criteria": {"type": "array", "items": obj({
                    "code": STRING, "label": STRING, "essential": BOOLEAN})},
                "evidence": {"type": "array", "items": obj({
                    "kind": {"type": "string", "enum": ["photo", "document"]},
                    "label": STRING, "min": INTEGER})},
            })},
        })},
    })]},
    "Enrolment": obj({
        "id": INTEGER, "candidate": PERSON_REF, "company": obj({"id": INTEGER, "name": STRING}),
        "referential": obj({"code": STRING, "version": STRING}),
        "access_route": STRING, "started_on": DATE,
        "tutors": {"type": "array", "items": obj({"id": INTEGER, "full_name": STRING,
                                                  "designated_on": DATE})},
        "held_blocks": {"type": "array", "items": obj({
            "block": STRING, "decided_on": DATE, "referential_version": STRING})},
    }),
    "Progress": obj({
        "enrolment": INTEGER, "revision": INTEGER,
        "code": STRING, "version": STRING, "title": STRING, "as_of": DATE, "reason": STRING,
        "certificate_complete": BOOLEAN, "blocks_done": INTEGER, "blocks_total": INTEGER,
        "blocks": {"type": "array", "items": obj({
            "code": STRING, "title": STRING,
            "state": {"type": "string", "enum": ["in_progress", "ready", "submitted",
                                                 "not_validated", "validated", "held"]},
            "reason": STRING, "ready": BOOLEAN, "percent": INTEGER,
            "decided_on": nullable(DATE), "valid_until": nullable(DATE),
            "competencies": {"type": "array", "items": obj({
                "code": STRING, "title": STRING, "state": STRING, "reason": STRING,
                "criteria": {"type": "array", "items": obj({
                    "code": STRING, "label": STRING, "essential": BOOLEAN, "state": STRING,
                    "reason": STRING, "met_count": INTEGER, "met_days": INTEGER,
                    "needed": INTEGER, "last_value": nullable(RATING),
                    "last_observed_on": nullable(DATE)})},
                "evidence": {"type": "array", "items": obj({
                    "kind": STRING, "label": STRING, "min": INTEGER, "count": INTEGER,
                    "missing": BOOLEAN, "reason": STRING})},
            })},
        }, required=["code", "title", "state", "reason", "ready", "percent", "competencies"])},
        "observe_next": {"type": "array", "items": {"type": "object"},
                         "description": "Tutors only: the criteria worth observing next."},
    }, required=["enrolment", "revision", "code", "version", "as_of", "reason",
                 "certificate_complete", "blocks"]),
    "Photo": obj({
        "id": UUID, "enrolment": INTEGER, "author_role": {"type": "string",
                                                          "enum": ["tutor", "candidate"]},
        "received_sha256": SHA256, "sha256": SHA256, "size": INTEGER,
        "content_type": STRING, "width": INTEGER, "height": INTEGER,
        "thumb_sha256": SHA256, "thumb_size": INTEGER, "captured_at": nullable(DATE_TIME),
    }),
    "PhotoRef": obj({
        "id": UUID,
        "competency": nullable({**STRING, "description": "Code of a competency of the "
                                "enrolment's referential."}),
        "evidence": nullable({**STRING, "description": "Label of an expected evidence item "
                              "of that competency."}),
    }, required=["id"], additionalProperties=False),
    "ObservationInput": obj({
        "enrolment": {**ROW_ID, "description": "The enrolment (parcours) observed."},
        "observed_on": {**DATE, "description": "French calendar day; not in the future, not "
                        "before the enrolment started."},
        "situation": {**STRING, "maxLength": MAX_SITUATION,
                      "description": "The work situation; optional for an observation. "
                      "For a reflection (not blank): what the candidate did."},
        "place": nullable({**STRING, "maxLength": MAX_PLACE,
                           "description": "A place label, never GPS."}),
        "kind": {"type": "string", "enum": list(OBSERVATION_KINDS), "default": "observation"},
        "ratings": nullable({
            "type": "object", "propertyNames": {"type": "string", "minLength": 1},
            "additionalProperties": RATING,
            "description": "{criterion code: rating}; an absent criterion was not observed. "
                           "A reflection carries none; an observation rates at least one "
                           "criterion or joins a photo."}),
        "comment": nullable({**STRING, "maxLength": MAX_COMMENT}),
        "photos": nullable({"type": "array", "maxItems": MAX_PHOTOS,
                            "items": ref("PhotoRef"),
                            "description": "Photos already sent, or to be sent (listed in "
                                           "`missing_photos` until they arrive)."}),
        "block": nullable({**STRING, "description": "Block code; required for a reflection."}),
        "supersedes": nullable({**UUID, "description": "The observation this one corrects."}),
    }, required=["enrolment", "observed_on"], additionalProperties=False),
    "Observation": obj({
        "id": UUID, "enrolment": INTEGER, "kind": {"type": "string",
                                                   "enum": list(OBSERVATION_KINDS)},
        "author": INTEGER, "author_role": STRING, "referential_version": STRING,
        "observed_on": DATE, "situation": STRING, "place": STRING, "comment": STRING,
        "ratings": {"type": "object", "additionalProperties": RATING},
        "photos": {"type": "array", "items": ref("PhotoRef")},
        "block": nullable(STRING), "supersedes": nullable(UUID), "content_sha256": SHA256,
        "missing_photos": {"type": "array", "items": UUID,
                           "description": "Cited photos not received yet."},
        "complete": BOOLEAN,
    }),
    "DossierSubmit": obj({"block": {**STRING, "description": "Code of a block ready for the "
                                    "jury."}}, additionalProperties=False),
    "Decision": obj({
        "id": INTEGER, "dossier": INTEGER, "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "reasons": STRING, "recommendations": STRING, "decided_by": INTEGER,
        "decided_at": DATE_TIME, "manifest_sha256": SHA256,
        "deliberation": nullable({"type": "array", "items": obj({
            "person": INTEGER, "college": STRING, "president": BOOLEAN,
            "vote": {"type": "string", "enum": list(OUTCOMES)}})}),
        "excluded": nullable({"type": "array", "items": obj({
            "person": INTEGER, "reason": STRING})}),
    }),
    "DecisionInput": obj({
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "reasons": nullable({**STRING, "maxLength": MAX_REASONS,
                             "description": "Required (not blank), whatever the outcome."}),
        "recommendations": nullable({**STRING, "maxLength": MAX_REASONS}),
        "votes": {"type": "object", "additionalProperties": {"type": "string",
                                                              "enum": list(OUTCOMES)},
                  "description": "The vote of each member present at the deliberation, by "
                                 "person id; entered by the session's president (the "
                                 "decision is the jury's: quorum, composition and majority "
                                 "of the certificate's rules)."},
    }, required=["outcome", "reasons", "votes"], additionalProperties=False),
    "AppealInput": obj({"grounds": {**STRING, "minLength": 1, "maxLength": MAX_GROUNDS,
                                    "description": "Why the candidate appeals (not blank)."}},
                       additionalProperties=False),
    "Dossier": obj({
        "id": INTEGER, "enrolment": INTEGER, "block": STRING, "submitted_by": INTEGER,
        "submitted_at": DATE_TIME, "session": nullable(INTEGER), "review_of": nullable(INTEGER),
        "manifest_sha256": SHA256, "decision": nullable(ref("Decision")),
        "manifest": {"type": "object", "description": "The frozen manifest "
                     "(`carnet-dossier/1`): observations, ratings, photo hashes, attestation."},
    }, required=["id", "enrolment", "block", "submitted_by", "submitted_at", "session",
                 "review_of", "manifest_sha256", "decision"]),
    "Outcome": obj({
        "enrolment": INTEGER,
        "outcome": {"type": "string",
                    "enum": ["certificate", "partial", "not_delivered", "in_progress"]},
        "reason": STRING, "delivered_on": nullable(DATE),
        "certificate": nullable(obj({
            "number": STRING, "delivered_on": DATE, "referential_version": STRING,
            "record_sha256": SHA256}, description="The delivered certificate, stored: it "
            "never expires.")),
        "blocks": {"type": "array", "items": obj({
            "code": STRING, "title": STRING,
            "status": {"type": "string", "enum": ["validated", "held", "expired",
                                                  "not_validated", "pending",
                                                  "not_presented"]},
            "reason": STRING, "acquired": BOOLEAN, "decided_on": nullable(DATE),
            "valid_until": nullable(DATE), "reasons": STRING, "recommendations": STRING,
            "dossier": nullable(INTEGER)})},
        "dossiers": {"type": "array", "items": obj({
            "id": INTEGER, "block": STRING, "submitted_at": DATE_TIME,
            "review_of": nullable(INTEGER), "manifest_sha256": SHA256,
            "session": nullable(obj({"id": INTEGER, "held_on": DATE, "place": STRING,
                                     "status": STRING})),
            "decision": nullable(obj({
                "outcome": {"type": "string", "enum": list(OUTCOMES)}, "reasons": STRING,
                "recommendations": STRING, "decided_at": DATE_TIME})),
        })},
    }),
    "JurySession": obj({
        "id": INTEGER, "held_on": DATE, "place": STRING, "status": STRING,
        "closed_at": nullable(DATE_TIME),
        "composition_problems": {"type": "array", "items": STRING},
        "members": {"type": "array", "items": obj({
            "person": PERSON_REF, "college": {"type": "string", "enum": ["employer", "employee"]},
            "is_president": BOOLEAN})},
        "dossiers": {"type": "array", "items": {"allOf": [ref("Dossier"), obj({
            "candidate": PERSON_REF,
            "conflict_of_interest": nullable(STRING),
            "warnings": {"type": "array", "items": STRING},
        })]}},
    }),
}

# --- responses -------------------------------------------------------------------------------

ERRORS = {
    "400": ("BadRequest", "Malformed request: bad JSON, a missing or invalid parameter or "
            "header."),
    "401": ("NotAuthenticated", "No valid session (or, when logging in, wrong credentials)."),
    "403": ("Forbidden", "Signed in, but not allowed to do this (also: a cross-site write)."),
    "404": ("NotFound", "Unknown, or not visible to the caller (existence is not revealed)."),
    "409": ("Conflict", "Conflicts with the stored state; `details` may hold the stored "
            "version (only when the caller may read it: else the 404 of a GET)."),
    "413": ("PayloadTooLarge", "The body is larger than the server accepts (refused while "
            "it streams in): `payload_too_large` for a photo, `body_too_large` for JSON."),
    "415": ("UnsupportedMediaType", "Wrong `Content-Type`, or an image format not accepted."),
    "422": ("ValidationFailed", "The body is well formed but not valid; `details` names each "
            "fault."),
    "423": ("Locked", "The evidence is frozen in a dossier submitted to the jury."),
    "429": ("TooManyRequests", "Too many failed attempts; retry after `Retry-After` seconds."),
}


def error_responses(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/{ERRORS[str(s)][0]}"} for s in statuses}


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(schema: Schema, description: str = "OK", status: int = 200, **extra: Any) -> dict:
    return {str(status): {"description": description, "content": json_content(schema),
                          **extra}}


def body(schema: Schema, description: str = "") -> dict[str, Any]:
    return {"required": True, "description": description, "content": json_content(schema)}


RESPONSES = {
    name: {"description": description, "content": json_content(ref("Error"))}
    for name, description in ERRORS.values()
}
NOT_MODIFIED = {"304": {"description": "Not modified (`If-None-Match` matched the ETag)."}}
ETAG_HEADER = {"ETag": {"schema": STRING}}
UPLOAD_HEADERS = {"Upload-Offset": {"schema": {"type": "integer", "minimum": 0}},
                  "Upload-Complete": {"schema": {"type": "string", "enum": ["?0", "?1"]}}}

# --- parameters ------------------------------------------------------------------------------


def path_id(description: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": description,
            "schema": ROW_ID}


def path_uuid(description: str) -> dict[str, Any]:
    return {"name": "uuid", "in": "path", "required": True, "description": description,
            "schema": UUID}


ENROLMENT_ID = path_id("Enrolment (parcours) id.")
DOSSIER_ID = path_id("Dossier id.")
SESSION_ID = path_id("Jury session id.")
PHOTO_ID = path_uuid("Photo id, generated by the client.")
OBSERVATION_ID = path_uuid("Observation id, generated by the client.")
PUBLIC: list[dict] = []  # `security` of an operation open to anyone

# --- paths -----------------------------------------------------------------------------------


def op(summary: str, responses: dict[str, Any], *, tag: str, **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": [tag], "responses": responses, **extra}


PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/openapi.json": {"get": op(
        "This document", {"200": {"description": "The OpenAPI document.",
                                  "headers": ETAG_HEADER,
                                  "content": json_content({"type": "object"})},
                          **NOT_MODIFIED},
        tag="system", operationId="openapi", security=PUBLIC)},
    "/api/v1/session": {
        "post": op("Log in", {
            **ok(ref("Me"), "Logged in: the session cookie is set.",
                 headers={"Set-Cookie": {"schema": STRING}}),
            **error_responses(400, 401, 413, 415, 429)},
            tag="session", operationId="login", security=PUBLIC, requestBody=body(ref("Login"))),
        "delete": op("Log out", {"204": {"description": "Logged out (also when no session)."}},
                     tag="session", operationId="logout", security=PUBLIC),
    },
    "/api/v1/me": {"get": op("The person signed in and their roles",
                             {**ok(ref("Me")), **error_responses(401)},
                             tag="session", operationId="me")},
    "/api/v1/referentials": {"get": op(
        "Referentials loaded", {**ok(items_of(ref("ReferentialSummary")))},
        tag="referentials", operationId="listReferentials", security=PUBLIC)},
    "/api/v1/referentials/{code}/{version}": {"get": op(
        "One referential (certification version) with its blocks, competencies and criteria",
        {**ok(ref("Referential")), **error_responses(404)},
        tag="referentials", operationId="getReferential", security=PUBLIC,
        parameters=[{"name": "code", "in": "path", "required": True, "schema": STRING},
                    {"name": "version", "in": "path", "required": True, "schema": STRING}])},
    "/api/v1/catalogue": {"get": op(
        "The CQPs open to candidates, as the public catalogue shows them (orientation "
        "services)", {**ok(items_of(ref("CatalogueEntry")))},
        tag="catalogue", operationId="listCatalogue", security=PUBLIC)},
    "/api/v1/enrolments": {"get": op(
        "Enrolments the caller may see", {**ok(items_of(ref("Enrolment"))),
                                          **error_responses(401)},
        tag="enrolments", operationId="listEnrolments")},
    "/api/v1/enrolments/{id}": {"get": op(
        "One enrolment", {**ok(ref("Enrolment")), **error_responses(401, 404)},
        tag="enrolments", operationId="getEnrolment", parameters=[ENROLMENT_ID])},
    "/api/v1/enrolments/{id}/progress": {"get": op(
        "Progress per block, competency and criterion, with the reasons",
        {**ok(ref("Progress"), headers=ETAG_HEADER), **NOT_MODIFIED,
         **error_responses(401, 404)},
        tag="enrolments", operationId="getProgress", parameters=[ENROLMENT_ID])},
    "/api/v1/enrolments/{id}/outcome": {"get": op(
        "The jury's outcome for the enrolment, per block", {
            **ok(ref("Outcome")), **error_responses(401, 404)},
        tag="jury", operationId="getOutcome", parameters=[ENROLMENT_ID])},
    "/api/v1/enrolments/{id}/dossiers": {"post": op(
        "Freeze a ready block into a dossier for the jury", {
            **ok(ref("Dossier"), "Created.", 201, headers={"Location": {"schema": STRING}}),
            **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tag="jury", operationId="submitDossier", parameters=[ENROLMENT_ID],
        requestBody=body(ref("DossierSubmit")))},
    "/api/v1/photos/{uuid}": {
        "put": op(
            "Upload a photo (idempotent by id)", {
                **ok(ref("Photo"), "Already stored with the same bytes."),
                **ok(ref("Photo"), "Stored.", 201),
                **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
            tag="evidence", operationId="putPhoto",
            description="Same id and same bytes: the stored photo again (200); same id, other "
                        "bytes: 409 with the stored version. The image is checked by its "
                        "content (JPEG, PNG, WebP), re-encoded without metadata, and a "
                        "thumbnail is made. With `Upload-Draft-Interop-Version` and "
                        "`Upload-Complete` the upload is resumable (`Repr-Digest` or "
                        "`Content-Digest` then names the whole photo): see "
                        "`/api/v1/photos/{uuid}/upload`.",
            parameters=[PHOTO_ID,
                        {"name": "enrolment", "in": "query", "required": True,
                         "description": "The enrolment the photo belongs to.",
                         "schema": ROW_ID},
                        {"name": "Content-Digest", "in": "header", "required": True,
                         "description": "RFC 9530 digest of the body: `sha-256=:<base64>:`.",
                         "schema": {**STRING, "example": "sha-256=:47DEQpj8HBSa+/TImW+5JCeu"
                                    "QeRkm5NMpJWZG3hSuFU=:"}}],
            requestBody={"required": True, "description": "The image bytes.", "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/jpeg", "image/png", "image/webp")}}),
        "get": op(
            "The stored image (JPEG), to those who may see its enrolment", {
                "200": {"description": "The image.", "headers": ETAG_HEADER,
                        "content": {"image/jpeg": {"schema": {"type": "string",
                                                              "format": "binary"}}}},
                **NOT_MODIFIED, **error_responses(401, 404)},
            tag="evidence", operationId="getPhoto",
            parameters=[PHOTO_ID, {"name": "size", "in": "query", "required": False,
                                   "schema": {"type": "string", "enum": ["thumb"]},
                                   "description": "`thumb`: the thumbnail."}]),
    },
    "/api/v1/photos/{uuid}/upload": {
        "head": op(
            "How much of a resumable photo upload the server holds", {
                "204": {"description": "The offset (`Upload-Offset`) and whether the photo "
                                       "is stored (`Upload-Complete: ?1`).",
                        "headers": UPLOAD_HEADERS},
                **error_responses(401, 404)},
            tag="evidence", operationId="headPhotoUpload", parameters=[PHOTO_ID],
            description="Resumable uploads (IETF draft-ietf-httpbis-resumable-upload, interop "
                        "version 7): a `PUT /api/v1/photos/{uuid}` carrying "
                        "`Upload-Draft-Interop-Version` and `Upload-Complete` keeps what "
                        "arrived when the connection drops. Only its sender sees it (404 "
                        "otherwise)."),
        "patch": op(
            "Send the rest of a resumable photo upload", {
                **ok(ref("Photo"), "Already stored with the same bytes.",
                     headers=UPLOAD_HEADERS),
                **ok(ref("Photo"), "Complete: stored.", 201, headers=UPLOAD_HEADERS),
                "204": {"description": "Appended; more to come (`Upload-Complete: ?0`).",
                        "headers": UPLOAD_HEADERS},
                **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
            tag="evidence", operationId="patchPhotoUpload",
            description="`Upload-Offset` must equal the server's (else 409 with the right one "
                        "in `Upload-Offset`). When complete, the whole photo is checked against "
                        "the digest declared at creation and stored as a one-request `PUT` "
                        "would be (same idempotency).",
            parameters=[PHOTO_ID,
                        {"name": "Upload-Offset", "in": "header", "required": True,
                         "schema": {"type": "integer", "minimum": 0}},
                        {"name": "Upload-Complete", "in": "header", "required": True,
                         "schema": {"type": "string", "enum": ["?0", "?1"]}}],
            requestBody={"required": False, "description": "The next bytes of the photo.",
                         "content": {"application/partial-upload": {
                             "schema": {"type": "string", "format": "binary"}}}}),
    },
    "/api/v1/observations/{uuid}": {
        "put": op(
            "Record an observation or a reflection (idempotent by id)", {
                **ok(ref("Observation"), "Already stored with the same content."),
                **ok(ref("Observation"), "Stored.", 201),
                **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 423)},
            tag="evidence", operationId="putObservation",
            description="Same id and same content: the stored observation again (200); same "
                        "id, other content: 409 with the stored version. Photos not received "
                        "yet are listed in `missing_photos`.",
            parameters=[OBSERVATION_ID], requestBody=body(ref("ObservationInput"))),
        "get": op("One observation", {**ok(ref("Observation")), **error_responses(401, 404)},
                  tag="evidence", operationId="getObservation", parameters=[OBSERVATION_ID]),
    },
    "/api/v1/jury-sessions": {"get": op(
        "Jury sessions of the caller (member) or of the caller's branch (admin)", {
            **ok(items_of(ref("JurySession"))), **error_responses(401, 403)},
        tag="jury", operationId="listJurySessions")},
    "/api/v1/jury-sessions/{id}/close": {"post": op(
        "Close a session (its president): its decisions become final", {
            **ok(ref("JurySession")), **error_responses(401, 403, 404, 409)},
        tag="jury", operationId="closeJurySession", parameters=[SESSION_ID])},
    "/api/v1/dossiers/{id}": {"get": op(
        "One dossier with its frozen manifest and its decision", {
            **ok(ref("Dossier")), **error_responses(401, 404)},
        tag="jury", operationId="getDossier", parameters=[DOSSIER_ID])},
    "/api/v1/dossiers/{id}/decision": {"put": op(
        "Record the jury's decision on a dossier (one per dossier): its president enters the "
        "outcome with the vote of each member present", {
            **ok(ref("Decision"), "Decided.", 201),
            **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tag="jury", operationId="decide", parameters=[DOSSIER_ID],
        requestBody=body(ref("DecisionInput")))},
    "/api/v1/dossiers/{id}/appeal": {"post": op(
        "Appeal a final not-validated decision: a new dossier of the same evidence", {
            **ok(ref("Dossier"), "Appeal recorded.", 201,
                 headers={"Location": {"schema": STRING}}),
            **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tag="jury", operationId="appeal", parameters=[DOSSIER_ID],
        requestBody=body(ref("AppealInput")))},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Carnet API",
        "version": "1",
        "description": (
            "Work-situation evidence, progress and juries for professional certificates "
            "(CQP). JSON, cookie session. Errors are `{code, message, details}` with a "
            "stable `code`. Writes from another site are refused (403). Request bodies "
            "hold only the properties described (the server ignores others). Ids are "
            "positive integers up to 2147483647, or UUIDs chosen by the client for photos and "
            "observations."),
    },
    "tags": [{"name": name} for name in ("system", "session", "referentials", "enrolments",
                                         "evidence", "jury")],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "securitySchemes": {"session": {
            "type": "apiKey", "in": "cookie", "name": "__Host-carnet",
            "description": "Set by `POST /api/v1/session`. Over plain http to a loopback host "
                           "(development) the cookie is named `carnet` instead, since a "
                           "`__Host-` cookie needs HTTPS."}},
    },
    "security": [{"session": []}],
}


def document() -> dict[str, Any]:
    """A copy of the document (callers may change it)."""
    return copy.deepcopy(DOCUMENT)
