"""CI's restore drill: back up, restore into a fresh database, compare row counts, verify the chain."""

import os
import secrets
import subprocess
import sys

import psycopg
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from shop.operations.backup.archive import _pg_env, create_backup, restore_backup


def _admin_connection(database: dict):
    return psycopg.connect(
        dbname="postgres",
        host=database.get("HOST") or None,
        port=database.get("PORT") or None,
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        autocommit=True,
    )


def _counts(cursor, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608  (names from Django's own models)
        counts[table] = cursor.fetchone()[0]
    return counts


class Command(BaseCommand):
    help = "Back up this PostgreSQL database, restore it into a fresh one, compare row counts, verify the audit chain."

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The restore drill runs on PostgreSQL (DATABASE_URL).")
        source = dict(connections["default"].settings_dict)
        tables = sorted(
            model._meta.db_table for model in apps.get_models() if model._meta.managed and not model._meta.proxy
        )
        # Counted before the dump (the drill runs on a quiet database): create_backup() itself adds
        # an audit event after its snapshot.
        with connection.cursor() as cursor:
            expected = _counts(cursor, tables)
        backup = create_backup()
        drill_name = f"{source['NAME']}_drill_{secrets.token_hex(4)}"
        with _admin_connection(source) as admin:
            admin.execute(f'CREATE DATABASE "{drill_name}"')
        try:
            restore_backup(backup.path, target_database={**source, "NAME": drill_name})
            with psycopg.connect(
                dbname=drill_name,
                host=source.get("HOST") or None,
                port=source.get("PORT") or None,
                user=source.get("USER") or None,
                password=source.get("PASSWORD") or None,
            ) as drill:
                actual = _counts(drill.cursor(), tables)
            differing = {t: (expected[t], actual[t]) for t in tables if expected[t] != actual[t]}
            if differing:
                raise CommandError(f"Row counts differ after restore (table: before, after): {differing}")
            self._verify_chain(source, drill_name)
        finally:
            with _admin_connection(source) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{drill_name}" WITH (FORCE)')
        rows = sum(expected.values())
        self.stdout.write(
            self.style.SUCCESS(f"Restore drill passed: {len(tables)} tables, {rows} rows, audit chain verified.")
        )

    def _verify_chain(self, source: dict, drill_name: str) -> None:
        # The check runs as its own process against the restored database, as an operator would.
        env = _pg_env(source)
        user = source.get("USER") or ""
        password = f":{source['PASSWORD']}" if source.get("PASSWORD") else ""
        host = source.get("HOST") or "127.0.0.1"
        port = source.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}:{port}/{drill_name}"
        env["DATABASE_POOL"] = "false"
        env.setdefault("SECRET_KEY", settings.SECRET_KEY)
        result = subprocess.run(  # noqa: S603  (this interpreter, manage.py, a fixed command)
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "verify_audit_log"],
            env=env,
            capture_output=True,
            text=True,
            cwd=os.fspath(settings.BASE_DIR),
        )
        if result.returncode != 0:
            raise CommandError("Audit chain of the restored database: " + (result.stderr or result.stdout).strip())
        self.stdout.write(result.stdout.strip())
