"""manage.py scan_for_card_numbers: finds Luhn-valid card numbers in text columns and logs, masked."""

import gzip
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from shop.payments.management.commands import scan_for_card_numbers as scan
from shop.payments.models import WebhookEvent
from tests.factories import ProductFactory

VISA = "4242424242424242"  # Luhn-valid test card
NOT_LUHN = "4242424242424241"


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("scan_for_card_numbers", *args, stdout=out, stderr=err)
    except CommandError as error:
        return str(error), out.getvalue(), err.getvalue()
    return None, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_a_clean_database_passes_and_says_how_much_was_scanned():
    ProductFactory(description=f"Order reference {NOT_LUHN}, phone +49 30 1234567")

    failure, out, _ = run()

    assert failure is None
    assert "No card numbers found in" in out
    scanned = int(out.split("found in ")[1].split(" ")[0])
    assert scanned > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "digits"),
    [
        (f"card {VISA} thanks", VISA),
        ("card 4242 4242 4242 4242 exp 12/30", VISA),
        ("4242-4242-4242-4242", VISA),
        ("pan=4111 1111 1111 1111 12/30", "4111111111111111"),  # the first four groups are the number
        ("Amex 3782 822463 10005", "378282246310005"),
    ],
)
def test_a_planted_card_number_is_found_and_reported_masked(text, digits):
    product = ProductFactory(description=text)

    failure, out, err = run()

    assert failure is not None and "Found 1 possible card number" in failure
    assert f"catalog.Product.description pk={product.pk}: {scan.mask(digits)}" in err
    assert scan.mask(digits) == f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"
    assert digits not in out + err + failure


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        NOT_LUHN,
        "0000 0000 0000 0000",  # passes Luhn, but a placeholder
        f"a{VISA}b",  # inside a hash or token, not a number on its own
        f"{VISA}9999",  # 20 digits: an id, not a card
        "4242 4242 42",  # too short
    ],
)
def test_things_that_are_not_card_numbers_are_not_reported(text):
    ProductFactory(description=text)

    failure, _, _ = run()

    assert failure is None


@pytest.mark.django_db
def test_json_fields_are_scanned_as_text():
    event = WebhookEvent.objects.create(gateway="sandbox", event_id="evt", type="x", payload={"card": int(VISA)})

    failure, _, err = run()

    assert failure is not None
    assert f"payments.WebhookEvent.payload pk={event.pk}: 4242********4242" in err


@pytest.mark.django_db
def test_every_chunk_of_a_large_table_is_scanned(monkeypatch):
    monkeypatch.setattr(scan, "CHUNK", 3)
    products = [ProductFactory(description="nothing here") for _ in range(7)]
    products[-1].description = f"at the very end {VISA}"
    products[-1].save()

    failure, _, err = run()

    assert failure is not None
    assert f"catalog.Product.description pk={products[-1].pk}: 4242********4242" in err


@pytest.mark.django_db
def test_log_files_are_scanned(tmp_path):
    clean = tmp_path / "clean.log"
    clean.write_text("GET /checkout/ 200\nPOST /orders/ABC/pay/ 302\n")
    leaky = tmp_path / "leaky.log.gz"
    with gzip.open(leaky, "wt") as log:
        log.write("GET / 200\nPOST /pay card_number=5555555555554444 200\n")

    ok, out, _ = run("--logs", str(clean))
    failure, _, err = run("--logs", str(clean), str(leaky))

    assert ok is None and "and 2 log line(s)" in out
    assert failure is not None
    assert f"{leaky}:2: 5555********4444" in err
    assert "5555555555554444" not in err + failure


@pytest.mark.django_db
def test_a_missing_log_file_is_a_clear_error(tmp_path):
    failure, _, _ = run("--logs", str(tmp_path / "nope.log"))

    assert failure is not None and "Cannot read log file" in failure


def test_luhn_and_mask():
    assert scan.luhn_valid(VISA) and scan.luhn_valid("378282246310005")
    assert not scan.luhn_valid(NOT_LUHN)
    assert scan.mask(VISA) == "4242********4242"
    assert scan.mask("378282246310005") == "3782*******0005"


@pytest.mark.django_db
@pytest.mark.parametrize("number", [VISA, "5555555555554444", "378282246310005"])
def test_an_unkeyed_hash_of_a_test_card_number_is_reported(number):
    import hashlib

    digest = hashlib.sha256(number.encode()).hexdigest()
    product = ProductFactory(description=f"fingerprint {digest.upper() if number == VISA else digest}")

    failure, _, err = run()

    assert failure is not None
    assert f"catalog.Product.description pk={product.pk}: SHA-256 of {scan.mask(number)}" in err
    assert digest not in err and number not in err


@pytest.mark.django_db
def test_worker_and_web_log_lines_with_timestamps_and_task_ids_are_not_cards(tmp_path):
    """Each of these lines made the scan of a real worker log report a card number."""
    log = tmp_path / "worker.log"
    log.write_text(
        "[2026-12-01 20:18:13,355: INFO/MainProcess] Task shop.orders.tasks.x[94496590-1031-4238-999e-f516fe61f020]"
        " received\n"
        "[2026-12-01 20:18:13,355: INFO/ForkPoolWorker-2] Task x[94496590-1031-4238-999e-f516fe61f020] succeeded in"
        " 0.2481766654974599: None\n"
        "2026-12-01 20:18:13,804 INFO shop.orders order 35060 2026-12-01 20:18:13.090135+00:00\n"
        "2026-12-01 20:18:13,804 INFO done 2026-12-01T20:18:13.090135Z\n"
    )

    ok, out, err = run("--logs", str(log))

    assert ok is None, err


@pytest.mark.django_db
def test_a_card_number_next_to_a_timestamp_is_still_found(tmp_path):
    log = tmp_path / "web.log"
    log.write_text(f"2026-12-01 20:18:13,804 INFO card {VISA} at 20:18\n")

    failure, _, err = run("--logs", str(log))

    assert failure is not None and "4242********4242" in err
