"""On PostgreSQL, index the product search so it does not read every product per query.

The expressions are exactly those that shop.catalog.selectors.product_list puts in its WHERE
clause (the weighted tsvector, and UPPER(name) for the substring fallback that catches partial
words), so the planner can answer with a BitmapOr of the two indexes. pg_trgm is a trusted
extension (PostgreSQL 13+): the database owner may create it. SQLite needs nothing.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS catalog_product_search_document ON catalog_product USING gin (
    (setweight(to_tsvector('english'::regconfig, COALESCE("name", '')), 'A')
     || setweight(to_tsvector('english'::regconfig, COALESCE("description", '')), 'B'))
);
CREATE INDEX IF NOT EXISTS catalog_product_name_upper_trgm ON catalog_product USING gin (UPPER("name"::text) gin_trgm_ops);
"""

DROP = """
DROP INDEX IF EXISTS catalog_product_search_document;
DROP INDEX IF EXISTS catalog_product_name_upper_trgm;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
