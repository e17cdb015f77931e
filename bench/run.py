"""Throughput and latency of the shop's main pages, as ratios to a minimal Django view.

Run by hand with `make bench` (needs PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379 and
wrk: `apt-get install wrk`). For each catalogue size (`--products`, default 1,000 and 100,000) it
recreates the database `shop_bench`, flushes the bench's Redis database, migrates, seeds the demo
data and fills the catalogue by bulk insert, starts gunicorn on a free loopback port, and drives
every page with wrk in interleaved rounds. See bench/README.md.

Absolute numbers depend on the machine and on wrk sharing its cores with the server, so the
script reports each page against /healthz measured by the same server in the same run; the ratios
are what we compare between runs and machines.
"""

import argparse
import http.client
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
GUNICORN = VENV_BIN / "gunicorn"
WRK = shutil.which("wrk")

POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# Never `shop` or a test database: this one is dropped on every run.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "shop_bench")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")  # flushed on every run
BENCH_LOCK_KEY = 0x5B3C4  # any constant; pg_try_advisory_lock takes a bigint
HOST = "127.0.0.1"  # all traffic stays on the loopback

WORKERS = 2
THREADS = 2  # wrk -t
CONNECTIONS = 16  # wrk -c
REQUEST_TIMEOUT = 10.0

PRODUCT_SLUG = "stoneware-mug"  # from seed_demo
PRODUCT_NAME = "Stoneware mug"

# (label, path, needs the session with a cart)
PAGES = [
    ("healthz (baseline)", "/healthz", False),
    ("home", "/", False),
    ("products list", "/products/", False),
    ("search ?q=lantern", "/products/?q=lantern", False),
    ("product page", f"/products/{PRODUCT_SLUG}/", False),
    ("cart (1 line)", "/cart/", True),
]
BASELINE = PAGES[0][0]
# The targets: each page's throughput against the baseline's, in the same run.
TARGETS = {"home": 0.25, "products list": 0.25, "search ?q=lantern": 0.15, "product page": 0.30, "cart (1 line)": 0.30}
SEARCH_P99_MS = 50.0


# --- HTTP on the loopback ------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        for name, value in self.headers:
            if name.lower() == "set-cookie":
                jar.load(value)
        return {key: morsel.value for key, morsel in jar.items()}


def request(port: int, path: str, *, method="GET", cookies=None, form=None) -> Response:
    """One request on a fresh connection: gunicorn's sync workers close the connection after each."""
    headers = {"Host": f"{HOST}:{port}", "Connection": "close"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Response(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


# --- wrk ---------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def measure(port: int, path: str, cookies: dict[str, str], seconds: int) -> Measurement:
    """One wrk run: THREADS threads, CONNECTIONS connections, `seconds` long, latency percentiles."""
    command = [
        WRK,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        f"--timeout={REQUEST_TIMEOUT:.0f}s",
    ]
    if cookies:
        command += ["-H", "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items())]
    command.append(f"http://{HOST}:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout  # noqa: S603
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    if done is None or "Latency Distribution" not in out:
        sys.exit(f"wrk gave no result for {path}:\n{out}")
    requests, seconds_taken = int(done.group(1)), _ms(done.group(2) + done.group(3)) / 1000
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        # gunicorn's sync workers close every connection: wrk counts those closes as read errors.
        errors += int(socket_errors.group(1)) + int(socket_errors.group(4))
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))\s*$", out, re.MULTILINE))
    if "50" not in latency or "99" not in latency:
        sys.exit(f"wrk output not understood for {path}:\n{out}")
    return Measurement(requests, errors, seconds_taken, _ms(latency["50"]), _ms(latency["99"]))


# --- Setting up the server ---------------------------------------------------------------------


def bench_environment(var_dir: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "EMAIL_URL", "DEBUG", "SITE_URL"}}
    env.update(
        DJANGO_ENV="development",  # not production: no TLS redirect, no __Host- cookies over plain HTTP
        DJANGO_SETTINGS_MODULE="shop.settings",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        VAR_DIR=var_dir,
        ALLOWED_HOSTS=HOST,
        PORT=str(port),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def hold_bench_lock(admin) -> None:
    """One run at a time: a second run would drop the database and flush Redis under the first.

    A session-level advisory lock on the admin connection, released when the connection closes,
    also when this process dies.
    """
    if not admin.execute("SELECT pg_try_advisory_lock(%s)", [BENCH_LOCK_KEY]).fetchone()[0]:
        sys.exit(f"Another bench run is using {BENCH_DATABASE} and its Redis database; try again when it has finished.")


def recreate_database(admin) -> None:
    # FORCE ends sessions a previous, killed run may have left behind.
    admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def analyze() -> None:
    """Fresh planner statistics after the bulk load, as autovacuum would give a real shop."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> None:
    completed = subprocess.run(  # noqa: S603 -- fixed arguments, no shell
        [str(PYTHON), "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    if completed.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{completed.stdout}{completed.stderr}")


def start_gunicorn(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    command = [str(GUNICORN), "shop.wsgi:application", "--bind", f"{HOST}:{port}", "--workers", str(WORKERS)]
    command += ["--error-logfile", "-"]
    # A session of its own: Ctrl-C in the terminal reaches only this script, which then stops
    # gunicorn and its workers together by their process group.
    with log_path.open("w") as log:
        return subprocess.Popen(  # noqa: S603 -- fixed arguments, no shell
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)
    except ProcessLookupError:
        pass


def wait_until_healthy(server: subprocess.Popen, port: int, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if request(port, "/healthz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{log_path.read_text()[-4000:]}")


def open_cart(port: int) -> dict[str, str]:
    """Put one product in a cart the way a browser does; return the cookies that carry the cart."""
    page = request(port, f"/products/{PRODUCT_SLUG}/")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    cookies = page.cookies()
    if page.status != 200 or match is None or "csrftoken" not in cookies:
        sys.exit(f"The product page gave no CSRF token (HTTP {page.status}).")
    cookies = {"csrftoken": cookies["csrftoken"]}
    added = request(
        port,
        f"/cart/add/{PRODUCT_SLUG}/",
        method="POST",
        cookies=cookies,
        form={"quantity": "1", "csrfmiddlewaretoken": match.group(1).decode()},
    )
    session = added.cookies().get("sessionid")
    if added.status != 302 or not session:
        sys.exit(f"Adding to the cart failed: HTTP {added.status}, cookies {sorted(added.cookies())}.")
    cookies["sessionid"] = session
    # Follow the redirect once, as a browser would, so the "Added ..." message is shown and gone;
    # the measured requests send only the session and CSRF cookies.
    request(port, f"/products/{PRODUCT_SLUG}/", cookies=cookies)
    cart = request(port, "/cart/", cookies=cookies)
    if cart.status != 200 or PRODUCT_NAME.encode() not in cart.body:
        sys.exit(f"The cart page does not show the product (HTTP {cart.status}).")
    return cookies


# --- Reporting -----------------------------------------------------------------------------------


def versions() -> str:
    return f"Python {platform.python_version()}, Django {version('django')}, gunicorn {version('gunicorn')}"


def report(size: int, rounds: dict[str, list[Measurement]]) -> tuple[str, dict[str, float]]:
    """The table of one catalogue size; returns it and each page's mean time per request (ms)."""
    lines = [
        f"{size:,} products",
        f"{'page':<19} {'reqs':>6} {'errs':>4} {'req/s':>7} {'p50 ms':>6} {'p99 ms':>6}  ratio (range)  target",
        "-" * 104,
    ]
    totals = {}
    base_rate = _rate(rounds[BASELINE])
    for label, _path, _cart in PAGES:
        ms = rounds[label]
        rate = _rate(ms)
        totals[label] = 1000 / rate if rate else math.nan
        per_round = [_rate([m]) / _rate([b]) for m, b in zip(ms, rounds[BASELINE], strict=True) if _rate([b])]
        ratio = rate / base_rate if base_rate else math.nan
        spread = f" ({min(per_round):.2f}–{max(per_round):.2f})" if label != BASELINE and per_round else ""
        target = TARGETS.get(label)
        verdict = "" if target is None else f"≥ {target:.2f} {'met' if ratio >= target else 'MISSED'}"
        p99 = max(m.p99_ms for m in ms)
        if label.startswith("search"):
            verdict += f"; p99 < {SEARCH_P99_MS:.0f} ms {'met' if p99 < SEARCH_P99_MS else 'MISSED'}"
        lines.append(
            f"{label:<19} {sum(m.requests for m in ms):>6} {sum(m.errors for m in ms):>4} {rate:>7.1f} "
            f"{sorted(m.p50_ms for m in ms)[len(ms) // 2]:>6.1f} {p99:>6.1f}  "
            f"{ratio:.3f}×{spread:<24} {verdict}"
        )
    return "\n".join(lines), totals


def _rate(measurements: list[Measurement]) -> float:
    seconds = sum(m.seconds for m in measurements)
    return sum(m.requests - m.errors for m in measurements) / seconds if seconds else 0.0


def load_average_note() -> str:
    """Only a hint, as it lags by minutes; contention_note() says what happened during the rounds."""
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1 / 5 min)"


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent not idle since boot (Linux /proc/stat; 0 elsewhere)."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle, iowait = ticks[3], ticks[4]
    # guest time (fields 9 and 10) is already counted in user and nice.
    return (sum(ticks[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def run_size(admin, size: int, rounds_count: int, seconds: int):
    port = free_port()
    var_dir = tempfile.mkdtemp(prefix="shop-bench-")
    server = None
    try:
        print(f"\n{size:,} products: recreating {BENCH_DATABASE}, flushing Redis, migrate, seed ...", flush=True)
        recreate_database(admin)
        flush_redis()
        env = bench_environment(var_dir, port)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        started = time.monotonic()
        manage(env, "seed_catalogue", "--products", str(size))
        analyze()
        print(f"  catalogue built by bulk insert in {time.monotonic() - started:.0f} s", flush=True)
        log_path = Path(var_dir) / "gunicorn.log"
        server = start_gunicorn(env, port, log_path)
        wait_until_healthy(server, port, log_path)
        cart_cookies = open_cart(port)
        rounds: dict[str, list[Measurement]] = {label: [] for label, _path, _cart in PAGES}
        for _label, path, needs_cart in PAGES:  # warm-up: fills the fragment caches, starts the pools
            measure(port, path, cart_cookies if needs_cart else {}, 1)
        busy_before, wall_before = machine_busy_seconds(), time.monotonic()
        for number in range(1, rounds_count + 1):
            print(f"  round {number}/{rounds_count} ...", flush=True)
            for label, path, needs_cart in PAGES:
                rounds[label].append(measure(port, path, cart_cookies if needs_cart else {}, seconds))
        busy, wall = machine_busy_seconds() - busy_before, time.monotonic() - wall_before
        if server.poll() is not None:
            sys.exit(f"gunicorn died during the run:\n{log_path.read_text()[-4000:]}")
        return rounds, busy, wall
    finally:
        if server is not None:
            stop_gunicorn(server)
        shutil.rmtree(var_dir, ignore_errors=True)


def run(sizes: list[int], rounds_count: int, seconds: int) -> None:
    if WRK is None:
        sys.exit("The bench drives the server with wrk: apt-get install wrk")
    print(f"Storefront bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {versions()}")
    print(
        f"gunicorn --workers {WORKERS}; wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, {rounds_count} interleaved "
        f"rounds per size; before the run: {load_average_note()}"
    )
    times = {}
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        hold_bench_lock(admin)
        tables = []
        for size in sizes:
            rounds, busy, wall = run_size(admin, size, rounds_count, seconds)
            table, times[size] = report(size, rounds)
            tables.append(f"{table}\n{machine_note(busy, wall)}")
    print()
    print("\n\n".join(tables))
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nTime per request at {large:,} against {small:,} products (target: within 1.5×):")
        for label, _path, _cart in PAGES:
            factor = times[large][label] / times[small][label]
            print(f"  {label:<19} {factor:.2f}×{'' if factor <= 1.5 else '  MISSED'}")


def machine_note(busy: float, wall: float) -> str:
    if not busy or not wall:
        return "Machine CPU during the rounds: not available (no /proc/stat)."
    return f"Machine CPU during the rounds: {busy / wall / (os.cpu_count() or 1):.0%} of {os.cpu_count()} cores busy"


def _stop_on_sigterm(signum, frame):
    raise SystemExit("Terminated; the bench server is stopped.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, action="append", help="catalogue size; repeat for several")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        run(args.products or [1000, 100_000], args.rounds, args.seconds)
    except KeyboardInterrupt:
        sys.exit("Interrupted; the bench server is stopped.")
    except (psycopg.OperationalError, redis.exceptions.ConnectionError) as error:
        sys.exit(f"The bench needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379: {error}")
