"""The site's one layout (templates/site_layout.html): the header with the logo, the main
menu and the search box, and the footer, for every page readers see whichever service
renders it. A service's Jinja loader searches its own templates first, then `TEMPLATES`."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"

__all__ = ["TEMPLATES"]
