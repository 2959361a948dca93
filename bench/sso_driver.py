"""Drives single sign-on logins against a homeserver (Trellis or Synapse)
and times the one request the homeserver does real work in: the callback
from the identity provider (a CAS ticket, a posted SAML response), which
validates, finds or creates the account, mints a login token and redirects.

Usage: sso_driver.py cas|saml SERVER_URL IDP_URL USER_PREFIX COUNT ROUNDS
Prints JSON: {"first": [ms, ...], "again": [ms, ...]} where "first" are
the sign-ins that create the accounts and "again" the later ones.

Only the standard library: every hop is followed by hand, so that the
timed request is exactly the callback.
"""

import base64
import html
import http.cookiejar
import json
import re
import sys
import time
import urllib.parse
import urllib.request

APP = "https://app.example/"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))
    return opener


def fetch(opener, url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        response = opener.open(url, data)
        return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
        return error.code, error.headers, error.read().decode()


def input_value(page, name):
    match = re.search(r'name="%s"[^>]*?value=(["\'])(.*?)\1' % re.escape(name), page, re.S)
    return html.unescape(match.group(2)) if match else None


def timed(opener, url, form=None):
    start = time.perf_counter()
    status, headers, body = fetch(opener, url, form)
    elapsed = (time.perf_counter() - start) * 1000
    if status != 302 or "loginToken=" not in headers.get("Location", ""):
        raise SystemExit(f"callback failed: {status} {headers.get('Location')} {body[:500]}")
    return elapsed


def cas_login(server, cas, user):
    opener = browser()
    status, headers, _ = fetch(opener, f"{server}/_matrix/client/v3/login/sso/redirect/cas?redirectUrl={urllib.parse.quote(APP)}")
    assert status == 302, status
    login = headers["Location"]
    _, _, page = fetch(opener, login)
    csrf = input_value(page, "csrfmiddlewaretoken")
    status, headers, body = fetch(opener, login, {"username": user, "password": "benchpass", "csrfmiddlewaretoken": csrf})
    assert status == 302, (status, body[:300])
    return timed(opener, headers["Location"])


def saml_login(server, idp, user):
    opener = browser()
    status, headers, _ = fetch(opener, f"{server}/_matrix/client/v3/login/sso/redirect/saml?redirectUrl={urllib.parse.quote(APP)}")
    assert status == 302, status
    _, _, page = fetch(opener, headers["Location"])
    fields = {
        "userName": f"{user}@example.com",
        "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "uid": user,
        "displayName": f"{user} Bench",
        "email": f"{user}@example.com",
        "_authnRequest": input_value(page, "_authnRequest"),
    }
    _, _, posted = fetch(opener, f"{idp}/signin", fields)
    action = re.search(r'<form[^>]*action="([^"]*)"', posted).group(1)
    form = {"SAMLResponse": input_value(posted, "SAMLResponse"), "RelayState": input_value(posted, "RelayState") or ""}
    base64.b64decode(form["SAMLResponse"])  # fail loudly on a scraping mistake
    return timed(opener, html.unescape(action), form)


def main():
    kind, server, idp, prefix, count, rounds = sys.argv[1:7]
    login = cas_login if kind == "cas" else saml_login
    users = [f"{prefix}{i:03d}" for i in range(int(count))]
    first = [login(server, idp, user) for user in users]
    again = [login(server, idp, user) for _ in range(int(rounds)) for user in users]
    print(json.dumps({"first": first, "again": again}))


if __name__ == "__main__":
    main()
