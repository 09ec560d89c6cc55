"""One error hierarchy: each error carries its HTTP status and a stable code.

The codes are a contract with the PWA and integrations; never rename one.
`backend.app` installs one handler that answers JSON under /api and renders a
page elsewhere.
"""

from __future__ import annotations

from typing import Any


class CarnetError(Exception):
    status = 400
    code = "bad_request"
    message = "Requête invalide."

    def __init__(self, message: str | None = None, *, details: Any = None, code: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        if code:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(CarnetError):
    pass


class ClientDisconnected(BadRequest):
    """The client left before sending its whole body: nobody reads the answer."""

    code = "client_disconnected"
    message = "Envoi interrompu."


class ValidationFailed(CarnetError):
    status = 422
    code = "validation_failed"
    message = "Les données envoyées ne sont pas valides."


class NotAuthenticated(CarnetError):
    status = 401
    code = "not_authenticated"
    message = "Connexion requise."


class Forbidden(CarnetError):
    status = 403
    code = "forbidden"
    message = "Vous n'avez pas accès à cette action."


class NotFound(CarnetError):
    status = 404
    code = "not_found"
    message = "Introuvable."


class MethodNotAllowed(CarnetError):
    status = 405
    code = "method_not_allowed"
    message = "Méthode non autorisée."


class Conflict(CarnetError):
    status = 409
    code = "conflict"
    message = "Conflit avec l'état enregistré."


class Gone(CarnetError):
    status = 410
    code = "gone"
    message = "Ce lien n'est plus valable."


class PayloadTooLarge(CarnetError):
    status = 413
    code = "payload_too_large"
    message = "Le fichier envoyé est trop volumineux."


class BodyTooLarge(PayloadTooLarge):
    """A JSON or form body past its bound, refused while it streams in."""

    code = "body_too_large"
    message = "Le corps de la requête est trop volumineux."


class UnsupportedMediaType(CarnetError):
    status = 415
    code = "unsupported_media_type"
    message = "Type de contenu non accepté."


class Locked(CarnetError):
    status = 423
    code = "frozen"
    message = "Ces éléments sont figés dans un dossier soumis au jury."


class TooManyRequests(CarnetError):
    status = 429
    code = "too_many_requests"
    message = "Trop de tentatives. Réessayez plus tard."

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServiceUnavailable(CarnetError):
    status = 503
    code = "unavailable"
    message = "Service momentanément indisponible."
