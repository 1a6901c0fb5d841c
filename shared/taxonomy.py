"""The network's regions and topics: slug -> Swedish display name."""

from __future__ import annotations

from shared.config import get_settings

DEFAULT_REGIONS: dict[str, str] = {
    "region-stockholm": "Region Stockholm",
    "region-uppsala": "Region Uppsala",
    "region-sormland": "Region Sörmland",
    "region-ostergotland": "Region Östergötland",
    "region-jonkopings-lan": "Region Jönköpings län",
    "region-kronoberg": "Region Kronoberg",
    "region-kalmar-lan": "Region Kalmar län",
    "region-gotland": "Region Gotland",
    "region-blekinge": "Region Blekinge",
    "region-skane": "Region Skåne",
    "region-halland": "Region Halland",
    "vastra-gotalandsregionen": "Västra Götalandsregionen",
    "region-varmland": "Region Värmland",
    "region-orebro-lan": "Region Örebro län",
    "region-vastmanland": "Region Västmanland",
    "region-dalarna": "Region Dalarna",
    "region-gavleborg": "Region Gävleborg",
    "region-vasternorrland": "Region Västernorrland",
    "region-jamtland-harjedalen": "Region Jämtland Härjedalen",
    "region-vasterbotten": "Region Västerbotten",
    "region-norrbotten": "Region Norrbotten",
    "nationella-kansliet": "Nationella kansliet",
}

DEFAULT_TOPICS: dict[str, str] = {
    "miljo": "Miljö",
    "manskliga-rattigheter": "Mänskliga rättigheter",
    "tvangsarbete": "Tvångsarbete",
    "due-diligence": "Due diligence",
    "lakemedel": "Läkemedel",
    "medicinteknik": "Medicinteknik",
    "handskar": "Handskar",
    "textilier": "Textilier",
    "livsmedel": "Livsmedel",
    "it-elektronik": "IT och elektronik",
    "uppfoljning": "Uppföljning",
    "utbildning": "Utbildning",
    "samarbete": "Samarbete",
    "internationellt": "Internationellt",
    "agenda-2030": "Agenda 2030",
    "verksamhetsrapport": "Verksamhetsrapport",
    "organisation": "Organisation",
}


def regions() -> dict[str, str]:
    """All regions, the defaults plus those the operator configured."""
    return {**DEFAULT_REGIONS, **get_settings().extra_regions}


def topics() -> dict[str, str]:
    """All topics, the defaults plus those the operator configured."""
    return {**DEFAULT_TOPICS, **get_settings().extra_topics}
