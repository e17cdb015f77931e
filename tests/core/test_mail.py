import logging

from django.core.mail import EmailMessage

from shop.core.mail import FileAndConsoleEmailBackend


def test_embedded_mail_is_kept_as_a_file_and_announced_without_its_body(tmp_path, caplog):
    backend = FileAndConsoleEmailBackend(file_path=str(tmp_path))
    message = EmailMessage("Your order is ready", "Pickup code: K7QM-2XRD", "shop@localhost", ["ann@example.com"])

    with caplog.at_level(logging.INFO, logger="shop.mail"):
        assert backend.send_messages([message]) == 1

    saved = list(tmp_path.iterdir())
    assert len(saved) == 1 and "K7QM-2XRD" in saved[0].read_text()
    assert "ann@example.com" in caplog.text and "Your order is ready" in caplog.text
    assert "K7QM-2XRD" not in caplog.text
