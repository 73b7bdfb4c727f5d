"""Schemathesis hooks for codex-flows (SCHEMATHESIS_HOOKS=hooks, with this folder on PYTHONPATH).

Every request that carries x-flow-signature-256 is signed the way a real client signs it: the
HMAC-SHA256 of the exact bytes sent, with the secret in CODEX_FLOW_FUZZ_SECRET. A requests
auth callable sees the prepared request, so the signature covers the final serialised body.
"""
import hashlib
import hmac
import os

import schemathesis

SECRET = os.environ["CODEX_FLOW_FUZZ_SECRET"].encode()
GITHUB_SECRET = os.environ["CODEX_FLOW_FUZZ_GITHUB_SECRET"].encode()


def sign(request):
    # Only where the case carries a scheme's header (schemathesis fills it with a made-up
    # value): a case that leaves it out to test the refusal must stay unsigned. The
    # ingress's own HMAC and GitHub's (POST /webhooks/github) are signed alike.
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    for header, secret in (("x-flow-signature-256", SECRET), ("x-hub-signature-256", GITHUB_SECRET)):
        if header in request.headers:
            request.headers[header] = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return request


@schemathesis.hook
def before_call(ctx, case, kwargs):
    kwargs["auth"] = sign


@schemathesis.hook
def map_query(ctx, query):
    # Two parameters are state the server issued, which no schema can describe: `cursor`
    # (opaque: only a previous page's nextCursor is valid) and `after` (a sequence the
    # stream has reached). A made-up one is rightly 400 (test/api.int.test.ts and
    # test/first-contact.int.test.ts check that), so a schema-valid case drops the cursor
    # and asks for sequence 0. Malformed `after` values (not digits) are kept: they must be 400.
    if not query:
        return query
    query.pop("cursor", None)
    if isinstance(query.get("after"), str) and query["after"].isdigit():
        query["after"] = "0"
    return query
