"""Every route of the app, one module per area."""

from backend.routes import (
    admin,
    enrolments,
    evidence,
    jury,
    progress,
    pwa,
    referentials,
    session,
    system,
    tutor,
)

ROUTES = [*system.routes, *session.routes, *referentials.routes, *enrolments.routes,
          *evidence.routes, *admin.routes,
          *progress.routes, *tutor.routes, *pwa.routes, *jury.routes]
