from auth.config import settings
from auth.model import metadata
from shared import migrations

migrations.run(settings().database_url, metadata)
