"""Personer (admins): the contributors, inviting one, changing, deactivating, reactivating,
new API tokens (shown once), and the audit log. The rules are services/ingest/contributors.py,
the same as the command line's."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from services.ingest import audit, contributors
from services.ingest.contributors import ContributorError
from services.ingest.editor import mailer, signin, web
from services.ingest.editor.access import DbSession, NotAllowed, User, require_admin
from services.ingest.editor.forms import FieldError
from services.ingest.editor.routes_signin import EMAIL, SIGN_IN
from services.ingest.permissions import ROLE_NAMES
from shared import taxonomy
from shared.db import utcnow
from shared.models import ROLES, Contributor

router = APIRouter(include_in_schema=False)
PEOPLE = f"{web.PREFIX}/personer"
# An invitation's link signs in once, within a week (a sign-in's lasts 15 minutes).
INVITATION_LIFETIME = timedelta(days=7)
NOTICES = {
    "inbjuden": "Inbjudan är skickad. Länken i mejlet gäller i 7 dagar.",
    "sparad": "Ändringarna är sparade.",
    "oforandrad": "Inget ändrades.",
    "avstangd": "Personen är avstängd: inloggningar och API-token slutade gälla direkt.",
}
LOG_PAGE = 100


def _person(session, person_id: int) -> Contributor:
    person = session.get(Contributor, person_id)
    if person is None:
        raise NotAllowed("Personen finns inte.", status=404)
    return person


def _regions() -> list[tuple[str, str]]:
    return list(taxonomy.regions().items())


def _form_page(request, template: str, *, user, status_code: int = 200, **context) -> Response:
    return web.page(
        request,
        template,
        status_code=status_code,
        user=user,
        roles=[(role, ROLE_NAMES[role]) for role in ROLES],
        regions=_regions(),
        **context,
    )


def _person_form(
    *, epost: str, roll: str, region: str, fler: list[str], granskas: bool
) -> dict[str, object]:
    """A person's form fields as the templates show them (the invitation adds "namn")."""
    return {"epost": epost, "roll": roll, "region": region, "fler": fler, "granskas": granskas}


@router.get(f"{PEOPLE}/")
def people(
    request: Request,
    session: DbSession,
    user: User,
    klart: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    require_admin(user)
    return web.page(
        request,
        "people.html",
        user=user,
        people=contributors.list_contributors(session=session),
        activity=contributors.last_activity(session=session),
        role_names=ROLE_NAMES,
        notice=NOTICES.get(klart or ""),
    )


@router.get(PEOPLE)
def people_root(user: User) -> Response:
    return web.redirect(f"{PEOPLE}/")


@router.get(f"{PEOPLE}/ny")
def invite_page(request: Request, user: User) -> Response:
    require_admin(user)
    form = _person_form(epost="", roll="contributor", region=user.region, fler=[], granskas=False)
    form["namn"] = ""
    return _form_page(request, "person_new.html", user=user, form=form)


@router.post(f"{PEOPLE}/ny")
def invite(
    request: Request,
    session: DbSession,
    user: User,
    namn: Annotated[str, Form(max_length=400)] = "",
    epost: Annotated[str, Form(max_length=400)] = "",
    roll: Annotated[str, Form(max_length=20)] = "",
    region: Annotated[str, Form(max_length=80)] = "",
    granskas: Annotated[str, Form(max_length=10)] = "",
    fler: Annotated[list[str], Form(max_length=80)] = [],  # noqa: B006 (FastAPI copies it)
) -> Response:
    require_admin(user)
    form = _person_form(epost=epost, roll=roll, region=region, fler=fler, granskas=bool(granskas))
    form["namn"] = namn
    address = epost.strip()
    errors = []
    if not EMAIL.fullmatch(address) or len(address) > 254:
        errors.append(FieldError("epost", "Ange en e-postadress, till exempel namn@region.se."))
    now = utcnow()
    if not errors:
        try:
            contributors.add_contributor(
                session=session,
                name=namn,
                region=region,
                role=roll,
                email=address,
                review_required=bool(granskas),
                extra_regions=fler,
                actor=user,
                invited=True,
            )
            ip = request.client.host if request.client else "?"
            requested = signin.request_sign_in(
                session=session, email=address, ip=ip, now=now, lifetime=INVITATION_LIFETIME
            )
        except ContributorError as exc:
            errors.append(FieldError(exc.field or "namn", exc.swedish))
        except signin.RateLimited:
            message = "För många inbjudningar på kort tid. Vänta en timme och försök igen."
            errors.append(FieldError("epost", message))
    if errors:
        session.rollback()
        return _form_page(
            request, "person_new.html", user=user, status_code=422, form=form, errors=errors
        )
    session.commit()
    person = requested.contributor
    sent = mailer.send(
        kind="invitation",
        to=person.email,
        context={
            "person": person.name,
            "inviter": user.name,
            "link": f"{web.absolute(SIGN_IN)}/lank?t={requested.link_token}",
            "days": INVITATION_LIFETIME.days,
            "expires_at": (now + INVITATION_LIFETIME).isoformat(),
        },
    )
    if not sent:
        return web.page(
            request,
            "message.html",
            status_code=503,
            user=user,
            heading="Inbjudan kunde inte skickas",
            message=f"{person.name} är tillagd, men vi kan inte skicka e-post just nu. "
            "Personen kan logga in med sin e-postadress när e-posten fungerar igen.",
            link=(f"{PEOPLE}/{person.id}", f"Till {person.name}"),
        )
    return web.redirect(f"{PEOPLE}/{person.id}?klart=inbjuden")


@router.get(f"{PEOPLE}/logg")
def audit_log(
    request: Request,
    session: DbSession,
    user: User,
    fore: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    require_admin(user)
    entries = audit.recent(session=session, limit=LOG_PAGE + 1, before=fore)
    return web.page(
        request,
        "audit.html",
        user=user,
        entries=entries[:LOG_PAGE],
        older=entries[LOG_PAGE - 1].id if len(entries) > LOG_PAGE else None,
        describe=audit.describe,
        detail_lines=audit.detail_lines,
    )


@router.get(f"{PEOPLE}/{{person_id}}")
def person_page(
    request: Request,
    session: DbSession,
    user: User,
    person_id: int,
    klart: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    require_admin(user)
    person = _person(session, person_id)
    form = _person_form(
        epost=person.email or "",
        roll=person.role,
        region=person.region,
        fler=list(person.extra_regions or []),
        granskas=bool(person.review_required),
    )
    return _form_page(
        request,
        "person.html",
        user=user,
        person=person,
        form=form,
        role_names=ROLE_NAMES,
        notice=NOTICES.get(klart or ""),
    )


@router.post(f"{PEOPLE}/{{person_id}}")
def change_person(
    request: Request,
    session: DbSession,
    user: User,
    person_id: int,
    epost: Annotated[str, Form(max_length=400)] = "",
    roll: Annotated[str, Form(max_length=20)] = "",
    region: Annotated[str, Form(max_length=80)] = "",
    granskas: Annotated[str, Form(max_length=10)] = "",
    fler: Annotated[list[str], Form(max_length=80)] = [],  # noqa: B006 (FastAPI copies it)
) -> Response:
    require_admin(user)
    person = _person(session, person_id)
    form = _person_form(epost=epost, roll=roll, region=region, fler=fler, granskas=bool(granskas))
    changes = {"role": roll, "region": region, "review_required": bool(granskas)}
    changes["extra_regions"] = fler
    if epost.strip():
        changes["email"] = epost
    try:
        done = contributors.change_contributor(
            session=session, contributor=person, actor=user, **changes
        )
    except ContributorError as exc:
        session.rollback()
        error = FieldError(exc.field or "roll", exc.swedish)
        return _form_page(
            request,
            "person.html",
            user=user,
            status_code=422,
            person=_person(session, person_id),
            form=form,
            role_names=ROLE_NAMES,
            errors=[error],
        )
    session.commit()
    return web.redirect(f"{PEOPLE}/{person_id}?klart={'sparad' if done else 'oforandrad'}")


@router.post(f"{PEOPLE}/{{person_id}}/stang-av")
def deactivate(request: Request, session: DbSession, user: User, person_id: int) -> Response:
    require_admin(user)
    person = _person(session, person_id)
    try:
        contributors.deactivate(session=session, contributor=person, actor=user)
    except ContributorError as exc:
        session.rollback()
        return _refused(request, user, person_id, exc)
    session.commit()
    return web.redirect(f"{PEOPLE}/{person_id}?klart=avstangd")


@router.post(f"{PEOPLE}/{{person_id}}/ateraktivera")
def reactivate(request: Request, session: DbSession, user: User, person_id: int) -> Response:
    require_admin(user)
    person = _person(session, person_id)
    try:
        token = contributors.reactivate(session=session, contributor=person, actor=user)
    except ContributorError as exc:
        session.rollback()
        return _refused(request, user, person_id, exc)
    session.commit()
    return _token_page(request, user, person, token, reactivated=True)


@router.post(f"{PEOPLE}/{{person_id}}/token")
def new_token(request: Request, session: DbSession, user: User, person_id: int) -> Response:
    require_admin(user)
    person = _person(session, person_id)
    try:
        token = contributors.new_token_for(session=session, contributor=person, actor=user)
    except ContributorError as exc:
        session.rollback()
        return _refused(request, user, person_id, exc)
    session.commit()
    return _token_page(request, user, person, token, reactivated=False)


def _token_page(request, user, person, token: str, *, reactivated: bool) -> Response:
    # The answer to the POST itself: the token is in no URL, no log and no later page.
    return web.page(
        request,
        "token.html",
        user=user,
        person=person,
        token=token,
        reactivated=reactivated,
        headers={"Referrer-Policy": "no-referrer"},
    )


def _refused(request, user, person_id: int, exc: ContributorError) -> Response:
    return web.page(
        request,
        "message.html",
        status_code=409,
        user=user,
        heading="Det gick inte",
        message=exc.swedish,
        link=(f"{PEOPLE}/{person_id}", "Tillbaka till personen"),
    )


__all__ = ["router"]
