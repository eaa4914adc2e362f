"""Smoke test of a Python client generated from openapi/patriot-api.yaml by
openapi-python-client, against a running server: every route through the generated code,
and the error answers parsed as problem objects. Usage: python_smoke.py BASE_URL KEY"""

import sys

from patriot_client import AuthenticatedClient
from patriot_client.api.clients import (
    delete_client, get_client, list_imports, patch_client, put_client,
)
from patriot_client.api.health import healthz
from patriot_client.api.users import (
    create_user, delete_user, get_user, get_users, list_users, read_user, replace_user,
)
from patriot_client.api.zones import delete_zone, get_zones, list_zones, put_zone
from patriot_client.models import (
    ClientOut, ClientRefBody, ImportState, ImportStatusOut, InfoPatch, InfoPut, PatchClientBody, Problem,
    PutClientBody, UserBody, UserIn, UserRefBody, ZoneBody, ZoneRefBody,
)

base, key = sys.argv[1], sys.argv[2]
api = AuthenticatedClient(base_url=base, token=key)
CID = 424242


def expect(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    return response.parsed


def problem(response, status):
    parsed = expect(response, status)
    assert isinstance(parsed, Problem), parsed
    assert parsed.status == status and parsed.detail, parsed
    return parsed


assert expect(healthz.sync_detailed(client=api), 200).status == "ok"

# Create a client, a zone and a user.
created = expect(put_client.sync_detailed(client=api, body=PutClientBody(
    client_id=CID, info=InfoPut(name="Ola Nordmann", location="Produksjonsveien 13", since_hrs=1,
                               reset_nosigs_ignored=True, install_date_time="2023-02-20"))), 201)
assert isinstance(created, ClientOut) and created.info.name == "Ola Nordmann"
expect(patch_client.sync_detailed(client=api, body=PatchClientBody(
    client_id=CID, info=InfoPatch(area="Fredrikstad"))), 200)
# The largest client id survives the round trip.
top = expect(put_client.sync_detailed(client=api, body=PutClientBody(
    client_id=4294967295, info=InfoPut(name="Siste"))), 201)
assert top.client_id == 4294967295
assert ImportStatusOut.IMPORTED.value == "imported"
zone = expect(put_zone.sync_detailed(client=api, body=ZoneBody(
    client_id=CID, zone_id=1, zone_area="Inngang", module_no=0)), 201)
assert zone.zone.zone_area == "Inngang"
user = expect(create_user.sync_detailed(client=api, body=UserBody(
    client_id=CID, user=UserIn(user_no=1, user_name="Kari", mobile_no="+4712345678", type_="U"))), 201)
assert user.user.user_name == "Kari"

# Read them back through the header routes and the body routes.
got = expect(get_client.sync_detailed(client=api, x_client_id=CID), 200)
assert got.info.area == "Fredrikstad" and got.zones[0].zone_no == 1 and got.users[0].user_no == 1
assert [z.zone_no for z in expect(get_zones.sync_detailed(client=api, x_client_id=CID), 200).zones] == [1]
assert [z.zone_no for z in expect(list_zones.sync_detailed(client=api, body=ClientRefBody(client_id=CID)), 200).zones] == [1]
assert [u.user_no for u in expect(get_users.sync_detailed(client=api, x_client_id=CID), 200).users] == [1]
assert [u.user_no for u in expect(list_users.sync_detailed(client=api, body=ClientRefBody(client_id=CID)), 200).users] == [1]
assert expect(get_user.sync_detailed(client=api, x_client_id=CID, x_user_no=1), 200).user.user_name == "Kari"
assert expect(read_user.sync_detailed(client=api, body=UserRefBody(client_id=CID, user_no=1)), 200).user.user_name == "Kari"
assert expect(replace_user.sync_detailed(client=api, body=UserBody(
    client_id=CID, user=UserIn(user_no=1, user_name="Per"))), 200).user.user_name == "Per"

# The import overview: the new client was never sent.
imports = expect(list_imports.sync_detailed(client=api, status=ImportState.NOT_SENT, limit=1000), 200)
assert CID in [c.client_id for c in imports.clients], imports
assert all(c.status == ImportState.NOT_SENT for c in imports.clients)
problem(list_imports.sync_detailed(client=api, limit=0), 422)

# Errors come back as problem objects.
problem(get_client.sync_detailed(client=AuthenticatedClient(base_url=base, token="wrong"), x_client_id=CID), 401)
problem(get_client.sync_detailed(client=api, x_client_id=CID + 1), 404)
problem(create_user.sync_detailed(client=api, body=UserBody(client_id=CID, user=UserIn(user_no=1, user_name="Dup"))), 409)
invalid = problem(put_zone.sync_detailed(client=api, body=ZoneBody(client_id=CID, zone_id=1000)), 422)
assert [e.field for e in invalid.errors] == ["zone_id"], invalid.errors

# Delete with JSON bodies.
expect(delete_user.sync_detailed(client=api, body=UserRefBody(client_id=CID, user_no=1)), 204)
expect(delete_zone.sync_detailed(client=api, body=ZoneRefBody(client_id=CID, zone_id=1)), 204)
expect(delete_client.sync_detailed(client=api, body=ClientRefBody(client_id=CID)), 204)
expect(delete_client.sync_detailed(client=api, body=ClientRefBody(client_id=4294967295)), 204)
problem(get_client.sync_detailed(client=api, x_client_id=CID), 404)
print("generated Python client: all calls answered as documented")
