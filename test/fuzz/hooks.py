"""Schemathesis hooks for codex-flows (SCHEMATHESIS_HOOKS=hooks, with this folder on PYTHONPATH).

Every request with a body is signed the way a real client signs it: x-flow-signature-256 is
the HMAC-SHA256 of the exact bytes sent, with the secret in CODEX_FLOW_FUZZ_SECRET. A requests
auth callable sees the prepared request, so the signature covers the final serialised body.
"""
import hashlib
import hmac
import os

import schemathesis

SECRET = os.environ["CODEX_FLOW_FUZZ_SECRET"].encode()


def sign(request):
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    request.headers["x-flow-signature-256"] = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return request


@schemathesis.hook
def before_call(ctx, case, kwargs):
    kwargs["auth"] = sign
