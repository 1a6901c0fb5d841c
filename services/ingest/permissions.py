"""Who may do what: contributors write for their own regions and change their own items;
editors and admins everything."""

from __future__ import annotations

from shared.models import Contributor, Item
from shared.problems import Problem

EDITOR_ROLES = ("editor", "admin")
# What people see of each role.
ROLE_NAMES = {"contributor": "Skribent", "editor": "Redaktör", "admin": "Administratör"}


def is_editor(contributor: Contributor) -> bool:
    return contributor.role in EDITOR_ROLES


def check_regions(*, contributor: Contributor, regions: list[str]) -> None:
    """A contributor writes for its own regions only (its region and any an admin added);
    editors and admins for every region."""
    if is_editor(contributor):
        return
    allowed = contributor.writes_for
    foreign = [region for region in regions if region not in allowed]
    if foreign:
        raise Problem(
            403,
            f"Du får bara publicera för {', '.join(allowed)}.",
            errors=[{"field": "regions", "message": f"inte din region: {', '.join(foreign)}"}],
        )


def check_owner(*, contributor: Contributor, item: Item, action: str = "ändra") -> None:
    """A contributor changes (or withdraws) its own items only."""
    if not is_editor(contributor) and item.contributor_id != contributor.id:
        raise Problem(403, f"Du får bara {action} dina egna nyheter.")
