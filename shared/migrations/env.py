from alembic import context

from shared import models  # noqa: F401  (registers the tables on Base.metadata)
from shared.db import Base, engine_for
from shared.migrate import comparable

config = context.config
url = config.attributes["database_url"]


def run_migrations() -> None:
    engine = engine_for(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=comparable(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations()
