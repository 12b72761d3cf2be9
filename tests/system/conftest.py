"""Fixtures for the system tests: they run the real `flow` binary as a separate process, on a
SQLite file or on a throwaway PostgreSQL cluster, and talk to it over loopback sockets."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPT = ROOT / "scripts" / "pg-test-cluster"


def flow_binary() -> Path:
    given = os.environ.get("FLOW_BINARY")
    path = Path(given) if given else ROOT / ".build" / "debug" / "flow"
    if not path.exists():
        pytest.exit(f"{path} does not exist: build first (scripts/test does)", returncode=2)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """A cluster managed by scripts/pg-test-cluster (the same script the Swift tests use)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.url = None

    def start(self) -> str:
        result = subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), "start", str(self.directory), "--watch", str(os.getpid())],
            capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip() or f"pg-test-cluster exited {result.returncode}")
        self.url = result.stdout.strip()
        return self.url

    def stop(self, remove: bool = False):
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(self.directory)] + (["--remove"] if remove else []),
                       capture_output=True, timeout=120)

    def create_database(self) -> str:
        name = "s_" + uuid.uuid4().hex
        self.psql(f"CREATE DATABASE {name}")
        return self.url.replace("/postgres?", f"/{name}?")

    def psql(self, sql: str, url: str = None):
        psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
        binary = str(psql[-1]) if psql else "psql"
        return subprocess.run([binary, (url or self.url).split("?")[0], "-v", "ON_ERROR_STOP=1", "-qc", sql],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def query(self, sql: str, url: str) -> str:
        """Rows of a query as `a|b|c` lines."""
        psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
        binary = str(psql[-1]) if psql else "psql"
        return subprocess.run([binary, url.split("?")[0], "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              check=True, capture_output=True, text=True, timeout=60).stdout


def start_cluster_or_skip(directory: Path) -> PostgresCluster:
    cluster = PostgresCluster(directory)
    try:
        cluster.start()
    except Exception as error:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        if os.environ.get("FLOW_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unavailable: {error}")
        pytest.skip(f"PostgreSQL unavailable: {error}")
    return cluster


@pytest.fixture(scope="session")
def postgres():
    """One cluster shared by the session; each test takes its own database from it."""
    directory = Path(tempfile.mkdtemp(prefix="flow-system-pg-"))
    cluster = start_cluster_or_skip(directory)
    yield cluster
    cluster.stop(remove=True)


class FlowProcess:
    """`flow serve` as a child process on a free port, with its stdout captured to a file."""

    def __init__(self, workdir: Path, env: dict, args=()):
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"flow-{self.port}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOW_")}
        environment.update(env)
        environment["FLOW_PORT"] = str(self.port)
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(flow_binary()), "serve", *args], cwd=workdir, env=environment,
                                        stdout=self.log_file, stderr=subprocess.STDOUT)

    def wait_until_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flow exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"flow did not become healthy in {timeout}s:\n{self.logs()}")

    def get(self, path, **kwargs):
        return requests.get(self.base + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def signal(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)

    def wait(self, timeout=30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log_file.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()

    def logs(self) -> str:
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def log_records(self):
        return [json.loads(line) for line in self.logs().splitlines() if line.strip()]


@pytest.fixture
def start_flow(tmp_path):
    """Starts `flow serve` processes for a test and stops them afterwards."""
    started = []

    def start(env=None, args=(), workdir=None, wait=True):
        process = FlowProcess(workdir or tmp_path, env or {}, args)
        started.append(process)
        return process.wait_until_healthy() if wait else process

    yield start
    for process in started:
        process.stop()
