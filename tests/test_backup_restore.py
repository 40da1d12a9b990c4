"""The generated backup scripts against real PostgreSQL and MariaDB servers started by the test.

A backup made by scripts/backup-database.sh (encrypted, "uploaded" to a file:// target) is
restored by scripts/restore-database.sh into a new database and compared row by row; the
restore drill restores into a scratch database and cleans up; retention prunes per tier.
MySQL projects run against MariaDB (Debian's mariadb-server; mysqldump and mysql are
client-compatible). MongoDB is not packaged by Debian: its scripts are checked by shellcheck only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

KEY = "correct horse battery staple"
SEED_SQL = """
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10, 2), note jsonb);
INSERT INTO customers (name, email) SELECT 'Kundin ' || i || ' ✓', 'c' || i || '@example.com' FROM generate_series(1, 250) i;
INSERT INTO orders (customer_id, total, note)
  SELECT 1 + i % 250, i * 1.25, jsonb_build_object('line', i, 'tags', jsonb_build_array('a', 'b'))
  FROM generate_series(1, 1000) i;
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;
"""
SNAPSHOT_SQL = (
    "SELECT (SELECT json_agg(c ORDER BY id) FROM customers c)::text"
    " || (SELECT json_agg(o ORDER BY id) FROM orders o)::text"
    " || (SELECT count(*) FROM big_orders)::text || nextval('orders_id_seq')::text"
)


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        pytest.skip("PostgreSQL server binaries are not installed (.ci/install.d/observability.sh installs them)")
    return candidates[0].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """A throwaway PostgreSQL cluster on a loopback port (run as a non-root user when CI is root)."""

    def __init__(self, base: Path) -> None:
        self.bin = _pg_bin()
        self.data = base / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        base.mkdir(parents=True, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        self._as_server(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C")
        self._as_server(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(base / "server.log"), "-w", "-o",
                        f"-p {self.port} -c listen_addresses=127.0.0.1 -k {base}", "start")

    def _as_server(self, *args: str) -> None:
        command = ["runuser", "-u", self.user, "--", *args] if self.user else list(args)
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout}{proc.stderr}"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, database: str, statement: str) -> str:
        proc = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-c", statement],
                              check=True, capture_output=True, text=True)
        return proc.stdout.strip()

    def stop(self) -> None:
        self._as_server(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    # Outside pytest's root-only tmp tree: the server user must reach its data directory.
    base = Path(tempfile.mkdtemp(prefix="prodready-pg-"))
    try:
        server = Postgres(base)
        server.sql("postgres", "CREATE DATABASE appdb")
        server.sql("appdb", SEED_SQL)
        yield server
        server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def project(generate) -> Path:
    return generate(tier="production", database="postgresql", backup_strategy="daily", backup_retention_days=30,
                    rto_minutes=60, rpo_minutes=1440)


def _run(project: Path, script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(project / "scripts" / script), *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def backup(project: Path, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One backup of appdb at 2026-11-01 02:00 UTC, next to stale backups that retention must prune."""
    target = tmp_path_factory.mktemp("backups")
    stale = {"hourly/my-app-postgresql-20261020T050000Z.dump.enc": False,  # 12 days > 7: pruned
             "hourly/my-app-postgresql-20261030T050000Z.dump.enc": True,
             "daily/my-app-postgresql-20260920T020000Z.dump.enc": False,   # 42 days > 30: pruned
             "weekly/my-app-postgresql-20260920T020000Z.dump.enc": True,   # kept 90 days
             "monthly/my-app-postgresql-20251201T020000Z.dump.enc": True}  # kept 365 days
    for key in stale:
        (target / key).parent.mkdir(parents=True, exist_ok=True)
        (target / key).write_bytes(b"old")
    env = {"DATABASE_URL": postgres.url("appdb"), "BACKUP_TARGET": f"file://{target}", "BACKUP_ENCRYPTION_KEY": KEY,
           "BACKUP_TIME": "20261101T020000Z"}
    proc = _run(project, "backup-database.sh", env)
    assert proc.returncode == 0, proc.stderr
    return {"target": str(target), "stderr": proc.stderr, **{k: str(v) for k, v in stale.items()}}


def test_backup_is_encrypted_checksummed_and_tiered(backup: dict[str, str]) -> None:
    target = Path(backup["target"])
    made = target / "monthly" / "my-app-postgresql-20261101T020000Z.dump.enc"  # the 02:00 run on the 1st
    data = made.read_bytes()
    assert data.startswith(b"Salted__") and b"PGDMP" not in data[:64]
    assert b"Kundin" not in data
    digest = subprocess.run(["sha256sum", str(made)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert Path(str(made) + ".sha256").read_text().strip() == digest


def test_retention_prunes_each_tier(backup: dict[str, str]) -> None:
    target = Path(backup["target"])
    for key in [k for k in backup if "/" in k]:
        assert (target / key).exists() == (backup[key] == "True"), key


def test_restore_reproduces_the_data(project: Path, postgres: Postgres, backup: dict[str, str]) -> None:
    postgres.sql("postgres", "CREATE DATABASE restored")
    env = {"RESTORE_DATABASE_URL": postgres.url("restored"), "BACKUP_TARGET": f"file://{backup['target']}",
           "BACKUP_ENCRYPTION_KEY": KEY}
    proc = _run(project, "restore-database.sh", env, "latest")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "monthly/my-app-postgresql-20261101T020000Z.dump.enc"
    assert postgres.sql("restored", SNAPSHOT_SQL) == postgres.sql("appdb", SNAPSHOT_SQL)
    assert postgres.sql("restored", "SELECT count(*) FROM customers WHERE name LIKE '%✓'") == "250"


def test_restore_refuses_a_wrong_key_or_a_tampered_backup(project: Path, postgres: Postgres, backup: dict[str, str],
                                                          tmp_path: Path) -> None:
    postgres.sql("postgres", "CREATE DATABASE untouched")
    env = {"RESTORE_DATABASE_URL": postgres.url("untouched"), "BACKUP_TARGET": f"file://{backup['target']}",
           "BACKUP_ENCRYPTION_KEY": "not the key"}
    proc = _run(project, "restore-database.sh", env)
    assert proc.returncode != 0 and "cannot decrypt" in proc.stderr
    tampered = tmp_path / "tampered"
    shutil.copytree(backup["target"], tampered)
    made = tampered / "monthly" / "my-app-postgresql-20261101T020000Z.dump.enc"
    made.write_bytes(made.read_bytes()[:-16] + b"0" * 16)
    proc = _run(project, "restore-database.sh", {**env, "BACKUP_TARGET": f"file://{tampered}", "BACKUP_ENCRYPTION_KEY": KEY})
    assert proc.returncode != 0 and "checksum mismatch" in proc.stderr
    assert postgres.sql("untouched", "SELECT count(*) FROM pg_stat_user_tables") == "0"


def test_restore_drill_verifies_and_cleans_up(project: Path, postgres: Postgres, tmp_path: Path) -> None:
    env = {"DATABASE_URL": postgres.url("appdb"), "BACKUP_TARGET": f"file://{tmp_path}", "BACKUP_ENCRYPTION_KEY": KEY}
    assert _run(project, "backup-database.sh", env).returncode == 0  # a fresh backup: within the RPO
    proc = _run(project, "restore-drill.sh", env)
    assert proc.returncode == 0, proc.stderr
    assert "restored public.orders: 1000 rows" in proc.stderr and "restore drill passed" in proc.stderr
    assert postgres.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%restore_drill%'") == "0"


def test_restore_drill_fails_when_the_newest_backup_breaks_the_rpo(project: Path, postgres: Postgres,
                                                                   backup: dict[str, str], tmp_path: Path) -> None:
    stale = tmp_path / "stale"
    shutil.copytree(backup["target"], stale)
    env = {"DATABASE_URL": postgres.url("appdb"), "BACKUP_TARGET": f"file://{stale}", "BACKUP_ENCRYPTION_KEY": KEY}
    proc = _run(project, "restore-drill.sh", env)  # newest backup is from 2026-11-01, the RPO is 24 hours
    assert proc.returncode != 0 and "older than the RPO" in proc.stderr
    assert postgres.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%restore_drill%'") == "0"


# --- MySQL (MariaDB) ---
MYSQL_PASSWORD = 'p@ss:w"o#rd\\x'  # every character the URL and the options file must carry through
MYSQL_SEED = [
    "CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) UNIQUE,"
    " created TIMESTAMP NOT NULL DEFAULT '2026-01-01 00:00:00') CHARACTER SET utf8mb4",
    "CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT, total DECIMAL(10, 2), note JSON,"
    " FOREIGN KEY (customer_id) REFERENCES customers (id)) CHARACTER SET utf8mb4",
    "INSERT INTO customers (name, email) SELECT CONCAT('Kundin ', i, ' ✓'), CONCAT('c', i, '@example.com')"
    " FROM (WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 250) SELECT i FROM seq) s",
    "INSERT INTO orders (customer_id, total, note) SELECT 1 + i % 250, i * 1.25, JSON_OBJECT('line', i, 'tags', JSON_ARRAY('a', 'b'))"
    " FROM (WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 1000) SELECT i FROM seq) s",
    "CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000",
    "CREATE PROCEDURE order_count () SELECT COUNT(*) FROM orders",
]
MYSQL_SNAPSHOT = [
    "SELECT * FROM customers ORDER BY id",
    "SELECT * FROM orders ORDER BY id",
    "SELECT COUNT(*) FROM big_orders",
    "SELECT AUTO_INCREMENT FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'orders'",
    "SELECT routine_name FROM information_schema.routines WHERE routine_schema = DATABASE()",
]


class MariaDB:
    """A throwaway MariaDB server on a loopback port and a socket in a temp dir (--user=root when the tests run as root)."""

    def __init__(self, base: Path) -> None:
        server = shutil.which("mariadbd") or shutil.which("mysqld", path="/usr/sbin:/usr/libexec")
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not server or not install or not shutil.which("mysql") or not shutil.which("mysqldump"):
            pytest.skip("MariaDB server and client are not installed (.ci/install.d/observability.sh installs them)")
        self.base = base
        self.socket = str(base / "mysqld.sock")
        self.port = _free_port()
        user = ["--user=root"] if os.geteuid() == 0 else []
        proc = subprocess.run([install, "--no-defaults", f"--datadir={base / 'data'}", "--auth-root-authentication-method=normal",
                               "--skip-test-db", *user], capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, f"mariadb-install-db failed: {proc.stdout}{proc.stderr}"
        self.log = base / "server.log"
        self.process = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={base / 'data'}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--pid-file={base / 'mysqld.pid'}", f"--log-error={self.log}",
             "--character-set-server=utf8mb4", "--skip-name-resolve", *user],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while subprocess.run(["mysqladmin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                             capture_output=True, check=False).returncode:
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.3)
        escaped = MYSQL_PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
        self.root("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '" + escaped + "'")
        self.root("GRANT ALL PRIVILEGES ON *.* TO 'app'@'127.0.0.1'")

    def root(self, statement: str, database: str = "") -> str:
        proc = subprocess.run(["mysql", "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch", "--skip-column-names",
                               "--default-character-set=utf8mb4", *([f"--database={database}"] if database else []),
                               f"--execute={statement}"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{statement}: {proc.stderr}"
        return proc.stdout.strip()

    def url(self, database: str) -> str:
        return f"mysql://app:{quote(MYSQL_PASSWORD, safe='')}@127.0.0.1:{self.port}/{database}"

    def snapshot(self, database: str) -> list[str]:
        return [self.root(statement, database) for statement in MYSQL_SNAPSHOT]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDB]:
    base = Path(tempfile.mkdtemp(prefix="prodready-mariadb-"))
    server = None
    try:
        server = MariaDB(base)
        server.root("CREATE DATABASE appdb CHARACTER SET utf8mb4")
        for statement in MYSQL_SEED:
            server.root(statement, "appdb")
        yield server
    finally:
        if server:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def mysql_project(generate) -> Path:
    return generate(tier="production", database="mysql", backup_strategy="daily", backup_retention_days=30,
                    rto_minutes=60, rpo_minutes=1440)


def test_mysql_backup_restores_into_a_real_server(mysql_project: Path, mariadb: MariaDB,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    target, scratch = tmp_path_factory.mktemp("mysql-backups"), tmp_path_factory.mktemp("mysql-tmp")
    env = {"DATABASE_URL": mariadb.url("appdb"), "BACKUP_TARGET": f"file://{target}", "BACKUP_ENCRYPTION_KEY": KEY,
           "BACKUP_TIME": "20261103T020000Z", "TMPDIR": str(scratch)}
    proc = _run(mysql_project, "backup-database.sh", env)
    assert proc.returncode == 0, proc.stderr
    assert not list(scratch.iterdir()), "the client options file (it holds the password) was left behind"
    made = target / "daily" / "my-app-mysql-20261103T020000Z.sql.gz.enc"  # a Tuesday 02:00 run: daily tier
    data = made.read_bytes()
    assert data.startswith(b"Salted__") and b"Kundin" not in data and MYSQL_PASSWORD.encode() not in data

    mariadb.root("CREATE DATABASE restored CHARACTER SET utf8mb4")
    restore_env = {"RESTORE_DATABASE_URL": mariadb.url("restored"), "BACKUP_TARGET": f"file://{target}", "BACKUP_ENCRYPTION_KEY": KEY}
    proc = _run(mysql_project, "restore-database.sh", restore_env, "latest")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "daily/my-app-mysql-20261103T020000Z.sql.gz.enc"
    assert mariadb.snapshot("restored") == mariadb.snapshot("appdb")
    assert mariadb.root("SELECT COUNT(*) FROM customers WHERE name LIKE '%✓'", "restored") == "250"

    # restoring again over the restored data is clean (the dump drops and recreates every object)
    mariadb.root("DELETE FROM orders WHERE id > 500", "restored")
    proc = _run(mysql_project, "restore-database.sh", restore_env)
    assert proc.returncode == 0, proc.stderr
    assert mariadb.snapshot("restored") == mariadb.snapshot("appdb")

    proc = _run(mysql_project, "restore-database.sh", {**restore_env, "BACKUP_ENCRYPTION_KEY": "not the key"})
    assert proc.returncode != 0 and "cannot decrypt" in proc.stderr


def test_mysql_restore_drill_verifies_and_cleans_up(mysql_project: Path, mariadb: MariaDB, tmp_path: Path) -> None:
    env = {"DATABASE_URL": mariadb.url("appdb"), "BACKUP_TARGET": f"file://{tmp_path}", "BACKUP_ENCRYPTION_KEY": KEY}
    assert _run(mysql_project, "backup-database.sh", env).returncode == 0  # a fresh backup: within the RPO
    proc = _run(mysql_project, "restore-drill.sh", env)
    assert proc.returncode == 0, proc.stderr
    assert "restored `orders`: 1000 rows" in proc.stderr and "restored `customers`: 250 rows" in proc.stderr
    assert "restore drill passed" in proc.stderr and "WARNING" not in proc.stderr
    assert mariadb.root("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE '%restore_drill%'") == "0"
