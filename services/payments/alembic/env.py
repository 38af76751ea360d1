from payments.config import settings
from payments.model import metadata
from shared import migrations

migrations.run(settings().database_url, metadata)
