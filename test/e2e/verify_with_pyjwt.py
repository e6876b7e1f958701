"""Verifies a broker-minted token with PyJWT, an implementation that shares no code with ours.

usage: verify_with_pyjwt.py JWKS_URL ISSUER AUDIENCE < token
Prints the verified claims as JSON; exits 1 with the reason when verification fails.
"""
import json
import sys

import jwt

jwks_url, issuer, audience = sys.argv[1:4]
token = sys.stdin.read().strip()
try:
    key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "at+jwt":
        raise jwt.InvalidTokenError("typ is not at+jwt")
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["ES256", "EdDSA"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "nbf", "jti", "sub", "client_id", "scope"]},
    )
except jwt.PyJWTError as error:
    print(f"{type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(claims))
