"""gunicorn's access log without bearer tokens, query strings, user agents or addresses.

gunicorn's default line records the full request line (path and query string), the referrer
and the user agent. Guest order links, e-mail confirmations and password resets carry a token in
the path, a query string may carry anything a form sent by GET, and agents and addresses
identify people: none of that belongs in a log. This logger (Procfile: --logger-class) offers
the access-log format only the harmless atoms, whatever format is configured: time, method, the
path with every token-like segment replaced, status, size and duration.
"""

import re

from gunicorn.glogging import Logger

FORMAT = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
_ALLOWED = {"t", "m", "s", "b", "B", "T", "D", "M", "L", "H", "p"}
# A signed token (value:timestamp:signature), or any segment long enough to be a secret: order
# numbers (10 characters), slugs and ids stay readable.
_TOKEN_LIKE = re.compile(r"^(?=.*:)|^.{20,}$")


def redact_path(path: str) -> str:
    return "/".join("[redacted]" if segment and _TOKEN_LIKE.match(segment) else segment for segment in path.split("/"))


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        everything = super().atoms(resp, req, environ, request_time)
        atoms = {key: value for key, value in everything.items() if key in _ALLOWED}
        atoms["U"] = redact_path(environ.get("PATH_INFO", ""))
        return atoms
