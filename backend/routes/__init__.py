"""Every route of the app, one module per area."""

from backend.routes import (
    admin,
    enrolments,
    evidence,
    jury,
    progress,
    referentials,
    session,
    system,
)

ROUTES = [*system.routes, *session.routes, *referentials.routes, *enrolments.routes,
          *evidence.routes, *admin.routes,
          *progress.routes, *jury.routes]
