"""On PostgreSQL, store each product's search document in an indexed generated column.

Migration 0002 indexed the expression to_tsvector(name) || to_tsvector(description). The WHERE
clause could use that index, but ranking still rebuilt the document from the text for every
matching row, on every request. A STORED generated column is computed once per write, the GIN
index is built on it, and both the match (@@) and ts_rank read it. The expression is the one 0002
indexed (name weighted A, description B, English stemming), so results do not change.

The column exists only on PostgreSQL (SQLite has no tsvector): the model does not declare it, and
shop.catalog.selectors reads it through an expression of its own on PostgreSQL only. Inserts and
updates never name it; PostgreSQL fills it.
"""

from django.db import migrations

CREATE = """
ALTER TABLE catalog_product ADD COLUMN IF NOT EXISTS search_document tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, COALESCE("name", '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE("description", '')), 'B')
) STORED;
CREATE INDEX IF NOT EXISTS catalog_product_search_document_gin ON catalog_product USING gin (search_document);
DROP INDEX IF EXISTS catalog_product_search_document;
"""

DROP = """
DROP INDEX IF EXISTS catalog_product_search_document_gin;
ALTER TABLE catalog_product DROP COLUMN IF EXISTS search_document;
CREATE INDEX IF NOT EXISTS catalog_product_search_document ON catalog_product USING gin (
    (setweight(to_tsvector('english'::regconfig, COALESCE("name", '')), 'A')
     || setweight(to_tsvector('english'::regconfig, COALESCE("description", '')), 'B'))
);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_search_indexes")]
    operations = [migrations.RunPython(create, drop)]
