"""Throughput and latency of the shop's main pages, as ratios to a minimal Django view.

Run by hand with `make bench` (needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379).
It recreates the database `shop_bench`, flushes Redis DB 2, migrates and seeds them, starts
gunicorn on a free loopback port, and drives it from a second process. See bench/README.md.

Absolute numbers depend on the machine and on the load generator sharing its cores with the
server, so the script reports each page against /healthz measured by the same server in the
same run; the ratios are what we compare between runs and machines.
"""

import http.client
import math
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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

POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "shop_bench"  # never `shop` or a test database: this one is dropped on every run
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/2"
BENCH_LOCK_KEY = 0x5B3C4  # any constant; pg_try_advisory_lock takes a bigint
HOST = "127.0.0.1"

WORKERS = 2
CONCURRENCY = 4
REQUESTS_PER_PAGE = 800
# /healthz answers several times faster than a page: it gets more requests, so that its rounds
# last long enough not to be thrown by a short burst of other work, being every ratio's divisor.
BASELINE_REQUESTS = 2400
# Each page is measured in ROUNDS interleaved passes, so a slow drift of the machine (another
# process, CPU frequency) spreads over all pages instead of landing on whichever came last.
ROUNDS = 4
WARMUP_REQUESTS = 20
PAGE_TIME_CAP = 5.0  # seconds per page and round; a page that hits it is reported with fewer requests
RUN_TIME_CAP = 80.0  # seconds for all measuring together
REQUEST_TIMEOUT = 10.0

PRODUCT_SLUG = "stoneware-mug"  # from seed_demo
PRODUCT_NAME = "Stoneware mug"

# (label, path, needs the session with a cart)
PAGES = [
    ("healthz (baseline)", "/healthz", False),
    ("home", "/", False),
    ("products list", "/products/", False),
    ("search ?q=mug", "/products/?q=mug", False),
    ("product page", f"/products/{PRODUCT_SLUG}/", False),
    ("cart (1 line)", "/cart/", True),
]
BASELINE = PAGES[0][0]


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


# --- The load driver (runs in a second process) -----------------------------------------------


@dataclass
class Measurement:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    capped: bool = False
    first_error: str = ""
    driver_cpu: float = 0.0  # CPU seconds of the load driver itself
    server_cpu: float = 0.0  # CPU seconds of gunicorn's master and workers
    database_cpu: float = 0.0  # CPU seconds of the PostgreSQL backends of shop_bench (Redis not counted)

    def add(self, other: "Measurement") -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)
        self.capped = self.capped or other.capped
        self.driver_cpu += other.driver_cpu
        self.server_cpu += other.server_cpu
        self.database_cpu += other.database_cpu
        self.first_error = self.first_error or other.first_error

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


def measure(port: int, path: str, cookies: dict[str, str], count: int, time_cap: float) -> Measurement:
    """Send `count` GETs with CONCURRENCY threads, stopping early at `time_cap` seconds."""
    lock = threading.Lock()
    result = Measurement()
    remaining = [count]
    deadline = time.monotonic() + time_cap

    def worker():
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                if time.monotonic() >= deadline:
                    result.capped = True
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                response = request(port, path, cookies=cookies)
                error = "" if response.status == 200 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            with lock:
                result.requests += 1
                result.latencies.append(elapsed)
                if error:
                    result.errors += 1
                    result.first_error = result.first_error or error

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    cpu_started = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(time_cap + REQUEST_TIMEOUT + 5)
    result.seconds = time.perf_counter() - started
    result.driver_cpu = time.process_time() - cpu_started
    return result


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
        sys.exit(f"Another bench run is using {BENCH_DATABASE} and Redis DB 2; try again when it has finished.")


def recreate_database(admin) -> None:
    # FORCE ends sessions a previous, killed run may have left behind.
    admin.execute("DROP DATABASE IF EXISTS shop_bench WITH (FORCE)")
    admin.execute("CREATE DATABASE shop_bench")


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
    command = [
        str(GUNICORN),
        "shop.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(WORKERS),
        "--error-logfile",
        "-",
    ]
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


def cpu_seconds_by_process(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far (Linux /proc; empty elsewhere)."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        try:
            # The fields after the parenthesised command name; utime and stime are the 12th and 13th.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks_per_second
        except (OSError, ValueError, IndexError):
            pass  # exited meanwhile, or no /proc
    return cpu


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def gunicorn_pids(server: subprocess.Popen) -> list[int]:
    try:
        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError:
        workers = []
    return [server.pid, *map(int, workers)]


def database_pids(admin) -> list[int]:
    """The PostgreSQL backends serving gunicorn's connection pools (the server is on this machine)."""
    rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [BENCH_DATABASE]).fetchall()
    return [pid for (pid,) in rows]


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


def _ratio(page: Measurement, baseline: Measurement) -> float:
    return page.throughput / baseline.throughput if page.seconds and baseline.throughput else math.nan


def _per_request_ms(cpu_seconds: float, requests: int) -> float:
    return cpu_seconds / requests * 1000 if requests else math.nan


def report(rounds: dict[str, list[Measurement]]) -> str:
    """The table: each page over all rounds, its throughput against the baseline's, and how far
    that ratio moved between rounds (a wide range means a noisy machine, not a slow page)."""
    totals = {}
    for label, measurements in rounds.items():
        totals[label] = Measurement()
        for measured in measurements:
            totals[label].add(measured)
    lines = [
        f"{'page':<19} {'reqs':>4} {'errs':>4} {'req/s':>7} {'p50 ms':>6} {'p95 ms':>6} "
        f"{'app cpu':>7} {'db cpu':>6} {'driver':>6}  throughput vs baseline (range over rounds)",
        f"{'':<19} {'':>4} {'':>4} {'':>7} {'':>6} {'':>6} {'ms/req':>7} {'ms/req':>6} {'cpu':>6}",
        "-" * 106,
    ]
    for label, _path, _cart in PAGES:
        m = totals[label]
        per_round = [_ratio(page, base) for page, base in zip(rounds[label], rounds[BASELINE], strict=True)]
        per_round = [r for r in per_round if not math.isnan(r)]
        spread = f" ({min(per_round):.2f}–{max(per_round):.2f})" if per_round and label != BASELINE else ""
        driver_share = m.driver_cpu / m.seconds * 100 if m.seconds else math.nan
        note = " (hit time cap)" if m.capped else ""
        lines.append(
            f"{label:<19} {m.requests:>4} {m.errors:>4} {m.throughput:>7.1f} {m.percentile(50):>6.1f} "
            f"{m.percentile(95):>6.1f} {_per_request_ms(m.server_cpu, m.requests):>7.2f} "
            f"{_per_request_ms(m.database_cpu, m.requests):>6.2f} {driver_share:>5.0f}%  "
            f"{_ratio(m, totals[BASELINE]):.2f}× baseline{spread}{note}"
        )
    for label, m in totals.items():
        if m.first_error:
            lines.append(f"{label}: first error: {m.first_error}")
    return "\n".join(lines)


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


def contention_note(busy: float, wall: float, rounds: dict[str, list[Measurement]]) -> str:
    """How much of the machine the bench had: its own processes against everything else."""
    if not busy or not wall:
        return "Machine CPU during the rounds: not available (no /proc/stat)."
    cores = os.cpu_count() or 1
    ours = sum(m.server_cpu + m.database_cpu + m.driver_cpu for ms in rounds.values() for m in ms)
    others = max(0.0, busy - ours)
    note = (
        f"Machine CPU during the rounds: {busy / wall / cores:.0%} of {cores} cores busy; gunicorn, "
        f"its PostgreSQL backends and the driver {ours / wall / cores:.0%}, everything else "
        f"(Redis, kernel network work, other programs) {others / wall / cores:.0%}"
    )
    if others / wall > 0.25:
        note += " -- other work competed with the bench: the ratios are less reliable than usual"
    return note


# --- The run -------------------------------------------------------------------------------------


def run() -> None:
    port = free_port()
    print(f"Storefront bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {versions()}")
    print(
        f"gunicorn --workers {WORKERS} on {HOST}:{port}; driver: 1 process, {CONCURRENCY} threads, "
        f"{REQUESTS_PER_PAGE} requests per page ({BASELINE_REQUESTS} for the baseline) in {ROUNDS} rounds, "
        "new connection per request"
    )
    print(f"Before the run: {load_average_note()}")
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        hold_bench_lock(admin)
        var_dir = tempfile.mkdtemp(prefix="shop-bench-")
        server = None
        try:
            print(f"Recreating database {BENCH_DATABASE}, flushing Redis DB 2, migrate, seed_demo ...", flush=True)
            recreate_database(admin)
            flush_redis()
            env = bench_environment(var_dir, port)
            manage(env, "migrate", "--noinput")
            manage(env, "seed_demo")
            log_path = Path(var_dir) / "gunicorn.log"
            server = start_gunicorn(env, port, log_path)
            wait_until_healthy(server, port, log_path)
            cart_cookies = open_cart(port)
            rounds, busy, wall = drive(server, admin, port, cart_cookies)
            if server.poll() is not None:
                sys.exit(f"gunicorn died during the run:\n{log_path.read_text()[-4000:]}")
        finally:
            if server is not None:
                stop_gunicorn(server)
            shutil.rmtree(var_dir, ignore_errors=True)
    print()
    print(report(rounds))
    print()
    print(contention_note(busy, wall, rounds))


def drive(server: subprocess.Popen, admin, port: int, cart_cookies: dict[str, str]):
    """Warm up, then measure every page in interleaved rounds; returns the rounds and the machine's CPU."""
    rounds: dict[str, list[Measurement]] = {label: [] for label, _path, _cart in PAGES}
    # spawn, not fork: the driver starts from a clean interpreter with no state of this one.
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=1, initializer=_ignore_ctrl_c) as driver:
        print("Warming up ...", flush=True)
        for _label, path, needs_cart in PAGES:
            cookies = cart_cookies if needs_cart else {}
            driver.apply(measure, (port, path, cookies, WARMUP_REQUESTS, PAGE_TIME_CAP))
        run_deadline = time.monotonic() + RUN_TIME_CAP
        busy_before, wall_before = machine_busy_seconds(), time.monotonic()
        for round_number in range(1, ROUNDS + 1):
            print(f"Round {round_number}/{ROUNDS} ...", flush=True)
            for label, path, needs_cart in PAGES:
                cap = min(PAGE_TIME_CAP, max(0.0, run_deadline - time.monotonic()))
                cookies = cart_cookies if needs_cart else {}
                count = math.ceil((BASELINE_REQUESTS if label == BASELINE else REQUESTS_PER_PAGE) / ROUNDS)
                server_before = cpu_seconds_by_process(gunicorn_pids(server))
                database_before = cpu_seconds_by_process(database_pids(admin))
                measured = driver.apply(measure, (port, path, cookies, count, cap))
                measured.server_cpu = cpu_used(server_before, cpu_seconds_by_process(gunicorn_pids(server)))
                measured.database_cpu = cpu_used(database_before, cpu_seconds_by_process(database_pids(admin)))
                rounds[label].append(measured)
        busy, wall = machine_busy_seconds() - busy_before, time.monotonic() - wall_before
    return rounds, busy, wall


def _ignore_ctrl_c() -> None:
    """In the driver: Ctrl-C reaches the whole terminal group; this script ends the driver itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_on_sigterm(signum, frame):
    raise SystemExit("Terminated; the bench server is stopped.")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        run()
    except KeyboardInterrupt:
        sys.exit("Interrupted; the bench server is stopped.")
    except (psycopg.OperationalError, redis.exceptions.ConnectionError) as error:
        sys.exit(f"The bench needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379: {error}")
