"""search: documents, their PostgreSQL tsvector (GIN) or SQLite FTS5 table, and the vocabulary

Revision ID: 0004_search
Revises: 0003_deliveries_subscriber
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0004_search"
down_revision = "0003_deliveries_subscriber"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # Trigram similarity for "Menade du …?"; a trusted extension since PostgreSQL 13, so
        # the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("item_version", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("vector", TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id"),
    )
    op.create_index(
        "ix_search_documents_published_at", "search_documents", ["published_at"], unique=False
    )
    op.create_table(
        "search_words",
        sa.Column("word", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("word"),
    )
    if postgres:
        op.create_index(
            "ix_search_documents_vector",
            "search_documents",
            ["vector"],
            postgresql_using="gin",
        )
        op.create_index(
            "ix_search_words_trigram",
            "search_words",
            ["word"],
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        )
    else:
        # Stemmed words (services/search/swedish.py), so FTS5 only splits on spaces; with
        # remove_diacritics 0, "får" and "far" stay two words.
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "title, summary, body, tokenize = 'unicode61 remove_diacritics 0')"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_words")
    op.drop_table("search_documents")
