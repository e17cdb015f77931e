"""Look for card numbers where the shop must never have one: every text column, and log files.

A card number here is a run of 13 to 19 digits, optionally in groups separated by single spaces
or dashes, not glued to other letters or digits (so hashes and tokens do not count), that passes
the Luhn check. Digits that are parts of a UUID (Celery task ids), of a date or time (log
timestamps) or the fraction of a decimal number ("succeeded in 0.2481766654974599s") are not
numbers on their own and are skipped: those made the worker log fail the scan for nothing.

It also reports any 64-hex value equal to the SHA-256 of a well-known test card number: an unkeyed
hash of a card number is as good as the number (the last 4 are stored beside it), and a test
card's hash in the database or a log means the code hashes card numbers somewhere.

Findings name the place (model, field, primary key, or file and line) and show the number masked
(first 4 and last 4 digits); the full number is never printed.
"""

import gzip
import hashlib
import json
import re
from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, models

# A run of digit groups: "4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242".
_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:[ -]\d+)*(?![0-9A-Za-z])")
_GROUP_SPLIT = re.compile(r"[ -]")
MIN_DIGITS, MAX_DIGITS = 13, 19
CHUNK = 2000

# Digits that belong to something else: UUIDs, dates with an optional time and zone, times of day,
# and the fraction of a decimal number. Each is replaced by a separator no run crosses.
_NOT_A_NUMBER_ON_ITS_OWN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"|(?<=\d\.)\d+"
)
_HEX_64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")

# The documented test cards of the sandbox, Stripe and other gateways: their SHA-256 must never show up.
TEST_CARD_NUMBERS = (
    "4242424242424242",
    "4000056655665556",
    "4000000000003220",
    "4000000000000002",
    "4000000000009995",
    "4000000000000069",
    "4000000000000127",
    "4000002500003155",
    "4111111111111111",
    "4012888888881881",
    "5555555555554444",
    "5200828282828210",
    "5105105105105100",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "3056930009020004",
    "36227206271667",
    "3566002020360505",
    "6200000000000005",
)
_TEST_CARD_BY_SHA256 = {hashlib.sha256(number.encode()).hexdigest(): number for number in TEST_CARD_NUMBERS}


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask(digits: str) -> str:
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def find_card_numbers(text: str) -> list[str]:
    """The Luhn-valid card-number-like sequences in `text`, as bare digit strings."""
    found = []
    for match in _RUN.finditer(_NOT_A_NUMBER_ON_ITS_OWN.sub(" | ", text)):
        groups = _GROUP_SPLIT.split(match.group())
        # Any run of whole consecutive groups may be the number ("4111 1111 1111 1111 12/30"
        # holds one in its first four groups), but never a slice out of the middle of a group.
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and len(set(digits)) > 1 and luhn_valid(digits):
                    found.append(digits)
    return found


def find_card_hashes(text: str) -> list[str]:
    """The test card numbers whose SHA-256 appears in `text` (as the numbers, to be masked)."""
    return [
        _TEST_CARD_BY_SHA256[value.lower()] for value in _HEX_64.findall(text) if value.lower() in _TEST_CARD_BY_SHA256
    ]


def _findings(text: str) -> list[str]:
    return [mask(digits) for digits in find_card_numbers(text)] + [
        f"SHA-256 of {mask(digits)}" for digits in find_card_hashes(text)
    ]


def _text_fields(model) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


class Command(BaseCommand):
    help = (
        "Search every text column of the database (and the given log files) for Luhn-valid card numbers "
        "and SHA-256 hashes of test card numbers; "
        "exit non-zero if one is found. Numbers are reported masked, with where they are."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--logs", nargs="+", default=[], metavar="PATH", help="Log files (plain or .gz) to scan as well."
        )
        parser.add_argument("--database", default="default", help="The database alias to scan.")

    def handle(self, *args, **options):
        findings: list[str] = []
        values = self._scan_database(options["database"], findings)
        lines = sum(self._scan_log(Path(path), findings) for path in options["logs"])
        scanned = f"{values} database value(s)" + (f" and {lines} log line(s)" if options["logs"] else "")
        if findings:
            for finding in findings:
                self.stderr.write(finding)
            raise CommandError(f"Found {len(findings)} possible card number(s) in {scanned}.")
        self.stdout.write(self.style.SUCCESS(f"No card numbers found in {scanned}."))

    def _scan_database(self, alias: str, findings: list[str]) -> int:
        scanned = 0
        tables = set(connections[alias].introspection.table_names())
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            if model._meta.db_table not in tables:
                self.stderr.write(f"Skipped {model._meta.label}: its table does not exist (run migrate).")
                continue
            fields = _text_fields(model)
            if not fields:
                continue
            names = [field.attname for field in fields]
            rows = model._base_manager.using(alias).order_by("pk")
            last = None
            while True:
                chunk = rows if last is None else rows.filter(pk__gt=last)
                batch = list(chunk.values_list("pk", *names)[:CHUNK])
                for pk, *row in batch:
                    for name, value in zip(names, row, strict=True):
                        scanned += 1
                        for finding in _findings(_as_text(value)):
                            findings.append(f"{model._meta.label}.{name} pk={pk}: {finding}")
                if len(batch) < CHUNK:
                    break
                last = batch[-1][0]
        return scanned

    def _scan_log(self, path: Path, findings: list[str]) -> int:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
                count = 0
                for number, line in enumerate(lines, start=1):
                    count += 1
                    for finding in _findings(line):
                        findings.append(f"{path}:{number}: {finding}")
        except OSError as error:
            raise CommandError(f"Cannot read log file {path}: {error.strerror or error}") from None
        return count
