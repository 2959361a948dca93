"""matrix-nio against Trellis: log in, whoami, set and read the display name,
log out, and check that the token no longer works.

Usage: nio_scenario.py BASE_URL USER PASSWORD
Prints one JSON object describing what the client saw.
"""

import asyncio
import json
import sys

from nio import AsyncClient, LoginResponse, ProfileGetDisplayNameResponse, WhoamiResponse


async def main(base_url: str, user: str, password: str) -> dict:
    seen = {}
    client = AsyncClient(base_url, user)
    try:
        login = await client.login(password, device_name="nio interop")
        seen["login"] = type(login).__name__
        if not isinstance(login, LoginResponse):
            seen["login_error"] = str(login)
            return seen
        seen["user_id"] = login.user_id
        seen["device_id"] = login.device_id

        whoami = await client.whoami()
        seen["whoami"] = type(whoami).__name__
        if isinstance(whoami, WhoamiResponse):
            seen["whoami_user_id"] = whoami.user_id
            seen["whoami_device_id"] = whoami.device_id

        set_name = await client.set_displayname("Nio Tester")
        seen["set_displayname"] = type(set_name).__name__

        name = await client.get_displayname()
        seen["get_displayname"] = type(name).__name__
        if isinstance(name, ProfileGetDisplayNameResponse):
            seen["displayname"] = name.displayname

        logout = await client.logout()
        seen["logout"] = type(logout).__name__

        after = await client.whoami()
        seen["whoami_after_logout"] = type(after).__name__
        seen["whoami_after_logout_status"] = getattr(after, "status_code", None)
    finally:
        await client.close()
    return seen


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
    print(json.dumps(result))
