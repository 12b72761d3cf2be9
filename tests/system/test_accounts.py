"""Accounts through the real binary: production refuses to run without a signing secret, and an
admin created with `flow users create-admin` signs in and reaches the admin API."""

import subprocess

import requests

from conftest import flow_binary

SECRET = "system-test-signing-secret-0123456789abcdef"


def test_production_refuses_to_start_without_a_signing_secret(tmp_path):
    result = subprocess.run([str(flow_binary()), "serve", "--migrate"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "FLOW_ENV": "production", "FLOW_PORT": "0"}, timeout=60)
    assert result.returncode == 78
    assert "FLOW_AUTH_JWT_SECRET" in result.stderr


def test_create_admin_then_sign_in_and_operate(start_flow, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FLOW_AUTH_JWT_SECRET": SECRET, "FLOW_LOG_LEVEL": "warning"}
    assert subprocess.run([str(flow_binary()), "migrate"], cwd=tmp_path, env=env, capture_output=True, timeout=60).returncode == 0
    created = subprocess.run([str(flow_binary()), "users", "create-admin", "--email", "root@example.com", "--username", "root"],
                             cwd=tmp_path, env=env, input="a long admin passphrase\n", capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    assert "Admin root <root@example.com>" in created.stdout
    weak = subprocess.run([str(flow_binary()), "users", "create-admin", "--email", "x@example.com", "--username", "xx1"],
                          cwd=tmp_path, env=env, input="password\n", capture_output=True, text=True, timeout=120)
    assert weak.returncode == 65 and "password" in weak.stderr

    flow = start_flow({"FLOW_AUTH_JWT_SECRET": SECRET, "FLOW_ENV": "production"}, workdir=tmp_path)
    login = requests.post(f"{flow.base}/api/v1/auth/login", json={"email": "root@example.com", "password": "a long admin passphrase"}, timeout=30)
    assert login.status_code == 200, login.text
    assert login.json()["user"]["role"] == "admin"
    token = login.json()["accessToken"]
    status = requests.get(f"{flow.base}/api/v1/admin/bus/status", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert status.status_code == 200, status.text
    assert "user.registered" in status.json()["eventTypes"]
