"""Identity through the real binary with third-party clients: tokens signed with an Ed25519 or
RSA key file verify with PyJWT using only /.well-known/jwks.json; a key rotation keeps old
tokens valid; two-factor sign-in works with pyotp's codes; sign-in is rate limited over real
sockets; `flow mailbox` shows the mail; deletion erases the client addresses it stored."""

import json
import sqlite3
import subprocess
import time

import jwt
import pyotp
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from conftest import flow_binary

PASSWORD = "correct horse battery"


def write_key(path, private_key):
    path.write_bytes(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return str(path)


def register(base, email, username):
    response = requests.post(f"{base}/api/v1/auth/register", json={"email": email, "username": username, "password": PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def verify_with_jwks(base, token):
    """Verifies `token` the way another service would: PyJWT and the published key set only."""
    key_set = jwt.PyJWKSet.from_dict(requests.get(f"{base}/.well-known/jwks.json", timeout=10).json())
    header = jwt.get_unverified_header(token)
    key = key_set[header["kid"]]
    return jwt.decode(token, key=key, algorithms=[header["alg"]], audience="flow-api", issuer="flow")


def test_pyjwt_verifies_eddsa_and_rs256_tokens_with_the_jwks(start_flow, tmp_path):
    for name, private_key, algorithm in [("ed25519", ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
                                         ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")]:
        workdir = tmp_path / name
        workdir.mkdir()
        key_file = write_key(workdir / "signing.pem", private_key)
        flow = start_flow({"FLOW_AUTH_SIGNING_KEY_FILE": key_file, "FLOW_LOG_LEVEL": "warning"}, workdir=workdir)
        signed_in = register(flow.base, f"ada-{name}@example.com", f"ada_{name}")
        assert jwt.get_unverified_header(signed_in["accessToken"])["alg"] == algorithm
        claims = verify_with_jwks(flow.base, signed_in["accessToken"])
        assert claims["sub"] == signed_in["user"]["id"]
        assert claims["sessionId"] == signed_in["sessionId"]
        assert claims["permissions"] == ["create_event"] and claims["role"] == "user"
        assert claims["exp"] - claims["iat"] == 900
        # A token signed by someone else's key with our kid is refused by PyJWT and by Flow.
        forged = jwt.encode({**claims}, ed25519.Ed25519PrivateKey.generate() if algorithm == "EdDSA"
                            else rsa.generate_private_key(public_exponent=65537, key_size=2048),
                            algorithm=algorithm, headers={"kid": jwt.get_unverified_header(signed_in["accessToken"])["kid"]})
        try:
            verify_with_jwks(flow.base, forged)
            raise AssertionError("PyJWT accepted a forged token")
        except jwt.InvalidSignatureError:
            pass
        assert requests.get(f"{flow.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}, timeout=10).status_code == 401
        flow.stop()


def test_rotation_keeps_tokens_of_the_retired_key_valid(start_flow, tmp_path):
    old_key = write_key(tmp_path / "old.pem", ed25519.Ed25519PrivateKey.generate())
    new_key = write_key(tmp_path / "new.pem", ed25519.Ed25519PrivateKey.generate())
    first = start_flow({"FLOW_AUTH_SIGNING_KEY_FILE": old_key, "FLOW_LOG_LEVEL": "warning"})
    old_token = register(first.base, "ada@example.com", "ada")["accessToken"]
    first.stop()

    second = start_flow({"FLOW_AUTH_SIGNING_KEY_FILE": new_key, "FLOW_AUTH_PREVIOUS_KEY_FILES": old_key, "FLOW_LOG_LEVEL": "warning"})
    assert len(requests.get(f"{second.base}/.well-known/jwks.json", timeout=10).json()["keys"]) == 2
    me = requests.get(f"{second.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"}, timeout=10)
    assert me.status_code == 200, me.text
    verify_with_jwks(second.base, old_token)
    login = requests.post(f"{second.base}/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, timeout=30)
    new_token = login.json()["accessToken"]
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    verify_with_jwks(second.base, new_token)
    second.stop()

    # Once the old key is dropped from the previous keys, its tokens stop working.
    third = start_flow({"FLOW_AUTH_SIGNING_KEY_FILE": new_key, "FLOW_LOG_LEVEL": "warning"})
    assert requests.get(f"{third.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"}, timeout=10).status_code == 401
    assert requests.get(f"{third.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {new_token}"}, timeout=10).status_code == 200


def test_two_factor_with_pyotp_and_mail_through_the_cli(start_flow, tmp_path):
    flow = start_flow({"FLOW_LOG_LEVEL": "warning"})
    signed_in = register(flow.base, "ada@example.com", "ada")
    auth = {"Authorization": f"Bearer {signed_in['accessToken']}"}
    setup = requests.post(f"{flow.base}/api/v1/auth/2fa/setup", headers=auth, timeout=10).json()
    totp = pyotp.parse_uri(setup["otpauthUri"])
    assert totp.secret == setup["secret"] and totp.issuer == "flow"
    confirm = requests.post(f"{flow.base}/api/v1/auth/2fa/confirm", headers=auth, json={"code": totp.now()}, timeout=10)
    assert confirm.status_code == 200, confirm.text
    first = requests.post(f"{flow.base}/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, timeout=30).json()
    assert first["status"] == "two_factor_required"
    second = requests.post(f"{flow.base}/api/v1/auth/login/2fa", timeout=10,
                           json={"challengeToken": first["challengeToken"], "code": totp.at(time.time() + 30)})
    assert second.status_code == 200, second.text

    shown = subprocess.run([str(flow_binary()), "mailbox", "--to", "ADA@example.com", "--json"], cwd=tmp_path,
                           env={"PATH": "/usr/bin:/bin", "FLOW_LOG_LEVEL": "warning"}, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    messages = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [message["kind"] for message in messages] == ["verify_email"]
    assert "/verify-email?token=" in messages[0]["text"]


def test_login_rate_limit_and_deletion_over_real_sockets(start_flow, tmp_path):
    flow = start_flow({"FLOW_AUTH_LOGINS_PER_MINUTE": "3", "FLOW_LOG_LEVEL": "warning"})
    signed_in = register(flow.base, "ada@example.com", "ada")
    answers = [requests.post(f"{flow.base}/api/v1/auth/login", json={"email": "ada@example.com", "password": "wrong password"}, timeout=30)
               for _ in range(4)]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3" and answers[2].headers["RateLimit-Remaining"] == "0"
    assert 0 < int(answers[3].headers["Retry-After"]) <= 60
    assert answers[3].json()["error"]["code"] == "rate_limited"

    auth = {"Authorization": f"Bearer {signed_in['accessToken']}"}
    export = requests.get(f"{flow.base}/api/v1/users/me/export", headers=auth, timeout=10).json()
    assert any(entry["clientAddress"] == "127.0.0.1" for entry in export["auditLog"])
    assert export["sessions"][0]["clientAddress"] == "127.0.0.1"
    deleted = requests.delete(f"{flow.base}/api/v1/users/me", headers=auth, json={"password": PASSWORD}, timeout=30)
    assert deleted.status_code == 204, deleted.text
    database = sqlite3.connect(tmp_path / "flow-data" / "flow.sqlite")
    user_id = signed_in["user"]["id"]
    assert database.execute("SELECT COUNT(*) FROM audit_log WHERE client_address IS NOT NULL AND (actor_id = ? OR entity_id = ?)",
                            (user_id, user_id)).fetchone()[0] == 0
    assert database.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ? AND client_address IS NOT NULL", (user_id,)).fetchone()[0] == 0
    assert database.execute("SELECT email FROM users WHERE id = ?", (user_id,)).fetchone()[0].endswith("@deleted.invalid")
