"""Redaktionen's common ground: what every service with pages under /redaktion/ shares, so
that ingest (the editor) and notify (subscribers, newsletters) check the same sign-in, the
same CSRF token and show the same layout without importing each other.

- `sessions`: the signed-in browser's cookie -> its contributor (the `editor_sessions` table).
- `access`: the current contributor of a request, the role checks, the 401/403 pages.
- `csrf`: asgi-csrf around every form under /redaktion/.
- `web`: the page helpers, the layout (`templates/`) and the CSS and JS (`static/`).
"""

from shared.redaktion import access, csrf, sessions, web

__all__ = ["access", "csrf", "sessions", "web"]
