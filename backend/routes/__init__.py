"""Every route of the app, one module per area."""

# First: registers the bounded `{id:int}` path convertor before any route is built.
from backend import http  # noqa: F401
from backend.routes import (
    account,
    admin,
    branch,
    branches,
    catalogue,
    enrolments,
    evidence,
    jury,
    notices,
    openapi,
    personal_data,
    progress,
    pwa,
    referentials,
    session,
    system,
    tutor,
    uploads,
)

ROUTES = [*system.routes, *openapi.routes, *session.routes, *account.routes, *referentials.routes,
          *enrolments.routes, *evidence.routes, *uploads.routes, *admin.routes, *progress.routes,
          *tutor.routes, *pwa.routes, *jury.routes, *notices.routes, *personal_data.routes,
          *branch.routes, *catalogue.routes, *branches.routes]
