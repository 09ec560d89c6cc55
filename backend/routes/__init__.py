"""Every route of the app, one module per area."""

from backend.routes import referentials, system

ROUTES = [*system.routes, *referentials.routes]
