"""Redaktionen's admin views: audit log, extra regions, the static pages a site must have

Revision ID: 0010_people
Revises: 0009_editor
Create Date: 2026-12-02 08:10:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db
from shared.markup import render_markdown

revision = "0010_people"
down_revision = "0009_editor"
branch_labels = None
depends_on = None

# The pages a public body's site must have, and /vision/ with the network's own words. Only
# those still missing are added, so text an editor already wrote is kept.
PAGES = (
    (
        "vision",
        "Vision",
        "Sveriges regioner och landsting ansvarar för att alla invånare har tillgång till en god "
        "och väl fungerande hälso- och sjukvård, tandvård och kollektivtrafik. Det är viktigt för "
        "oss att bedriva vår verksamhet så att den främjar en hållbar utveckling. I enlighet med "
        "det vill vi verka för att de varor och tjänster som köps in är producerade under "
        "hållbara och ansvarsfulla förhållanden.",
    ),
    (
        "om-oss",
        "Om oss",
        "Hållbar upphandling är ett nätverk av Sveriges regioner som arbetar tillsammans för "
        "att de varor och tjänster som köps in är producerade under hållbara och ansvarsfulla "
        "förhållanden.\n\nHär publicerar regionerna och det nationella kansliet nyheter om "
        "arbetet: uppföljningar av leverantörer, utbildningar och samarbeten.",
    ),
    (
        "kontakt",
        "Kontakt",
        "Frågor om en nyhet ställer du till den region som har skrivit den. Frågor om nätverket "
        "och den här webbplatsen ställer du till det nationella kansliet.",
    ),
    (
        "tillganglighetsredogorelse",
        "Tillgänglighetsredogörelse",
        "Nätverket för hållbar upphandling står bakom den här webbplatsen. Vi vill att så många "
        "som möjligt ska kunna använda den. Här beskriver vi hur webbplatsen uppfyller lagen om "
        "tillgänglighet till digital offentlig service, kända brister och hur du kan rapportera "
        "problem till oss.\n\n"
        "## Hur tillgänglig är webbplatsen?\n\n"
        "Webbplatsen är byggd för att uppfylla WCAG 2.1 nivå AA. Sidorna fungerar utan "
        "JavaScript, går att använda med tangentbord och skärmläsare och anpassar sig till "
        "små skärmar.\n\n"
        "## Rapportera brister\n\n"
        "Om du upptäcker problem som inte beskrivs på den här sidan, eller behöver innehåll i "
        "ett annat format, kontakta det nationella kansliet.\n\n"
        "## Kontakta tillsynsmyndigheten\n\n"
        "Myndigheten för digital förvaltning (Digg) har ansvaret för tillsyn över lagen om "
        "tillgänglighet till digital offentlig service. Om du inte är nöjd med hur vi hanterar "
        "dina synpunkter kan du [kontakta Digg](https://www.digg.se/tdosanmalan).",
    ),
    (
        "personuppgifter",
        "Personuppgifter",
        "När du prenumererar på nyheter sparar vi din e-postadress, de regioner och ämnen du "
        "valt, hur ofta du vill få mejl och när och hur du gav ditt samtycke. Vi använder "
        "uppgifterna bara för att skicka de nyheter du bett om.\n\n"
        "Vi följer inte upp om du öppnar mejlen eller klickar på länkar i dem.\n\n"
        "Varje mejl har en länk där du ändrar dina val eller avslutar prenumerationen. Vill du "
        "veta vad vi har sparat om dig, eller att vi raderar det, kontakta det nationella "
        "kansliet.",
    ),
)


def upgrade() -> None:
    with op.batch_alter_table("contributors") as batch_op:
        batch_op.add_column(
            sa.Column("extra_regions", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["contributors.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at", "id"])
    connection = op.get_bind()
    pages = sa.table(
        "pages",
        sa.column("slug", sa.String),
        sa.column("title", sa.String),
        sa.column("body_md", sa.Text),
        sa.column("body_html", sa.Text),
        sa.column("updated_at", shared.db.UTCDateTime(timezone=True)),
    )
    existing = set(connection.scalars(sa.select(pages.c.slug)))
    rows = [
        {
            "slug": slug,
            "title": title,
            "body_md": body,
            "body_html": render_markdown(body),
            "updated_at": shared.db.utcnow(),
        }
        for slug, title, body in PAGES
        if slug not in existing
    ]
    if rows:
        op.bulk_insert(pages, rows)


def downgrade() -> None:
    # The pages stay: they may hold what editors wrote since.
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("contributors") as batch_op:
        batch_op.drop_column("extra_regions")
