"""What the subscription form tells people: the site's page shows it (render) and notify
records the consent text each subscriber agreed to, so the two are one text."""

from __future__ import annotations

CONSENT_TEXT = (
    "Jag vill få nyheter från {site_title} via e-post om de regioner och ämnen jag valt. "
    "Adressen används bara för detta, och jag kan när som helst avsluta prenumerationen "
    "med länken i varje mejl."
)

# How regions and topics combine, in plain Swedish, with an example.
CHOICE_RULE = (
    "Du får nyheter som kommer från någon av de regioner du väljer och samtidigt handlar om "
    "något av de ämnen du väljer. Väljer du ingen region får du nyheter från alla regioner, "
    "och väljer du inget ämne får du nyheter om alla ämnen."
)
CHOICE_EXAMPLE = (
    "Väljer du till exempel Region Skåne och Textilier får du nyheter från Region Skåne om "
    "Textilier."
)


def consent_text(site_title: str) -> str:
    """The consent a subscriber gives, as the form shows it and notify stores it."""
    return CONSENT_TEXT.format(site_title=site_title)


__all__ = ["CHOICE_EXAMPLE", "CHOICE_RULE", "CONSENT_TEXT", "consent_text"]
