"""`flow serve` as an operator runs it: a fresh folder on SQLite, PostgreSQL, logs, CLI errors."""

import json
import subprocess

from conftest import ROOT, flow_binary


def test_fresh_folder_serves_on_embedded_sqlite(start_flow, tmp_path):
    flow = start_flow()
    ready = flow.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["engine"] == "sqlite"
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}
    assert (tmp_path / "flow-data" / "flow.sqlite").exists()


def test_serves_on_postgresql(start_flow, postgres):
    flow = start_flow({"FLOW_DATABASE_URL": postgres.create_database()})
    ready = flow.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["engine"] == "postgres"


def test_every_log_line_is_json_and_request_lines_carry_ids(start_flow):
    flow = start_flow()
    flow.get("/health", headers={"X-Request-Id": "system-test-1",
                                 "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    flow.get("/does-not-exist")
    flow.stop()
    records = flow.log_records()  # raises if any line is not JSON
    requests_logged = [r for r in records if r.get("msg") == "request"]
    assert any(r["request_id"] == "system-test-1" and r["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
               and r["route"] == "/health" and r["status"] == "200" for r in requests_logged)
    assert all("request_id" in r and "trace_id" in r for r in requests_logged)
    assert any(r["status"] == "404" for r in requests_logged)
    assert records[-1]["msg"] == "stopped"


def test_invalid_configuration_stops_the_start_naming_the_variable(tmp_path):
    result = subprocess.run([str(flow_binary()), "serve"], cwd=tmp_path, capture_output=True, text=True,
                            env={"FLOW_PORT": "eighty", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 78
    assert "FLOW_PORT" in result.stderr and "eighty" in result.stderr


def test_unknown_flow_variables_are_warned_about(start_flow):
    flow = start_flow({"FLOW_PROT": "9999"})
    flow.stop()
    warnings = [r for r in flow.log_records() if r["level"] == "warning"]
    assert any("FLOW_PROT" in r.get("variables", "") for r in warnings)


def test_migrate_commands(tmp_path, postgres):
    for env in ({}, {"FLOW_DATABASE_URL": postgres.create_database()}):
        up = subprocess.run([str(flow_binary()), "migrate"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", **env}, timeout=60)
        assert up.returncode == 0, up.stderr
        status = subprocess.run([str(flow_binary()), "migrate", "status"], cwd=tmp_path, capture_output=True,
                                text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=60)
        assert status.returncode == 0, status.stderr
        assert "Database:" in status.stdout


def test_readme_configuration_table_matches_the_code():
    generated = subprocess.run([str(flow_binary()), "config", "--keys", "--markdown"], capture_output=True,
                               text=True, timeout=60, check=True).stdout.strip()
    readme = (ROOT / "README.md").read_text()
    assert generated in readme, "README.md's configuration table is stale: paste `flow config --keys --markdown`"
