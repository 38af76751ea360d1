from catalog.config import settings
from catalog.model import metadata
from shared import migrations

migrations.run(settings().database_url, metadata)
