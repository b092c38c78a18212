"""The timeline is append-only in the database too: on PostgreSQL a trigger refuses UPDATE and
DELETE on it, so the KPIs computed from it cannot be rewritten, not even by a bug of ours."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION incidents_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the incident timeline is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_timeline_append_only
    BEFORE UPDATE OR DELETE ON incidents_incidentevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS incidents_timeline_append_only ON incidents_incidentevent;
DROP FUNCTION IF EXISTS incidents_timeline_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
