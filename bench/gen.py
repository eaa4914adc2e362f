"""Data for the benchmark: an export of N clients (for `patriot-api import`) and N pending
per-client XML files (for the combiner). Usage: gen.py export N FILE | gen.py xml N DIR"""
import json
import os
import sys

def client(i):
    return {
        "id": i, "created_on": "2024-01-01",
        "info": {"name": f"Kunde {i} æøå", "alias": "", "location": f"Gate {i}", "area_code": "1604",
                 "area": "Fredrikstad", "bus_phone": "69310000", "email": "post@example.no", "ok_password": "",
                 "spec_request": "Ring nøkkelholder.", "no_sigs_mon": 1, "since_days": 1, "since_hrs": 0,
                 "since_mins": 30, "reset_nosigs_ignored": True, "reset_nosigs_days": 7, "reset_nosigs_hrs": 0,
                 "reset_nosigs_mins": 0, "install_date_time": "2023-02-20", "panel_name": "Ajax",
                 "panel_site": "Stue", "keypad_location": "Inngang", "sp_page": ""},
        "zones": {str(z): {"no": z, "area": f"Sone {z}", "module_no": 0} for z in (1, 2)},
        "users": {"1": {"no": 1, "name": "Kari", "mobile_no": "+4712345678", "mobile_no_order": 1,
                        "email": "kari@example.no", "user_type": "U", "instructions": "", "call_order": 0}},
    }

def xml(i):
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Clients>\n  <Client>\n    <__id>{i}BASE11</__id>\n'
            f'    <Name>Kunde {i} æøå</Name>\n    <Location>Gate {i}</Location>\n'
            + "".join(f"    <F{k}>verdi {k}</F{k}>\n" for k in range(40))
            + '    <Zones>\n      <Zone><Zone_No>1</Zone_No><Zone_area>Inngang</Zone_area><ModuleNo>0</ModuleNo></Zone>\n    </Zones>\n'
            '    <Users>\n      <User><User_Name>I</User_Name><Email>i@i.no</Email><UserNo>199</UserNo><CallOrder>0</CallOrder><Type>N</Type></User>\n    </Users>\n'
            '  </Client>\n</Clients>\n')

kind, n, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "export":
    with open(target, "w") as f:
        json.dump({"format": "patriot-api-export", "version": 1,
                   "tenants": [{"key_name": "Alarm24", "clients": [client(i) for i in range(1, n + 1)]}]}, f)
else:
    folder = os.path.join(target, "Alarm24")
    os.makedirs(folder, exist_ok=True)
    for i in range(1, n + 1):
        path = os.path.join(folder, f"{i}.xml")
        with open(path, "w") as f:
            f.write(xml(i))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
