// The seed flow of the original README through a TypeScript client: types generated from
// openapi/patriot-api.yaml by openapi-typescript, calls made by openapi-fetch with JSON-only
// media typing, compiled by tsc in strict mode (a wrong field name or type fails the build).
// Usage: node ts_smoke.js BASE_URL KEY
import createClient from "openapi-fetch";
import type { components, paths } from "./patriot-api.js";

declare const process: { argv: string[]; exit(code: number): never };

const [base, key] = process.argv.slice(2);
const api = createClient<paths, "application/json">({
  baseUrl: base,
  headers: { Authorization: `Bearer ${key}` },
});

// Errors are `application/problem+json`, outside the JSON-only typing: read them as the
// document's Problem schema.
type Problem = components["schemas"]["Problem"];
const problem = (error: unknown): Problem | undefined =>
  (error as Record<string, Problem> | undefined)?.["application/problem+json"] ?? (error as Problem | undefined);

function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`TypeScript client: ${what}`);
    process.exit(1);
  }
}

const id = 9998;
const put = await api.PUT("/clients", {
  body: {
    client_id: id,
    info: {
      Name: "Ola Nordmann", Alias: "", Location: "Produksjonsveien 13", area_code: "1604",
      area: "Fredrikstad", BusPhone: "69310000", Email: "post@ostsik.no", OKPassword: "franzjager",
      SpecRequest: "Dette skal gjøres ved alarm på denne kunden.", NoSigsMon: 1, SinceDays: 1,
      SinceHrs: 0, SinceMins: 30, ResetNosigsIgnored: true, ResetNosigsDays: 7, ResetNosigsHrs: 0,
      ResetNosigsMins: 0, InstallDateTime: "2023-02-20", PanelName: "Ajax", PanelSite: "Stue",
      KeypadLocation: "Inngang", SPPage: "Ekstra informasjon som kan være relevant.",
    },
  },
});
check(put.response.status === 201 && put.data?.client_id === id, `PUT ${put.response.status}`);

const patch = await api.PATCH("/clients", { body: { client_id: id, info: { Location: "Ny gate 99" } } });
check(patch.data?.info.Location === "Ny gate 99" && patch.data.info.area === "Fredrikstad", "PATCH");

await api.PUT("/clients/zones", { body: { client_id: id, zone_id: 1, Zone_area: "Inngang", ModuleNo: 0 } });
await api.PUT("/clients/zones", { body: { client_id: id, zone_id: 2, Zone_area: "Stue" } });
const zones = await api.GET("/clients/zones", { params: { header: { "X-Client-Id": id } } });
check(zones.data?.zones.map((z) => z.Zone_No).join() === "1,2", "zones");

const created = await api.POST("/clients/users", {
  body: { client_id: id, user: { UserNo: 1, User_Name: "User Number 1", MobileNo: "+4712345678",
    MobileNoOrder: 1, Email: "user@email.com", Type: "U", Instructions: "Optional", CallOrder: 0 } },
});
check(created.response.status === 201 && created.data?.user.User_Name === "User Number 1", "POST user");
const dup = await api.POST("/clients/users", { body: { client_id: id, user: { UserNo: 1, User_Name: "Dup" } } });
check(dup.response.status === 409 && problem(dup.error)?.status === 409 && typeof problem(dup.error)?.detail === "string", "409 problem");
const single = await api.GET("/clients/users/single", {
  params: { header: { "X-Client-Id": id, "X-User-No": 1 } },
});
check(single.data?.user.UserNo === 1, "GET user");
const users = await api.POST("/clients/users/list", { body: { client_id: id } });
check(users.data?.users.length === 1, "installer 199 is not listed");

const client = await api.GET("/clients", { params: { header: { "X-Client-Id": id } } });
const status: "pending_import" | "imported" | "failed" | undefined = client.data?.import?.status;
check(client.data?.client_id === id && status === undefined, "GET client");

const imports = await api.GET("/clients/imports", { params: { query: { status: "not_sent", limit: 1000 } } });
check(imports.data?.clients.some((c) => c.client_id === id && c.status === "not_sent") === true, "imports");
const next: number | null | undefined = imports.data?.next_after;
check(next === null, "one page");

const invalid = await api.PUT("/clients/zones", { body: { client_id: id, zone_id: 1000 } });
check(invalid.response.status === 422 && problem(invalid.error)?.errors?.[0]?.field === "zone_id", "422 names the field");

await api.DELETE("/clients/users", { body: { client_id: id, user_no: 1 } });
await api.DELETE("/clients/zones", { body: { client_id: id, zone_id: 1 } });
const deleted = await api.DELETE("/clients", { body: { client_id: id } });
check(deleted.response.status === 204, "DELETE");
const gone = await api.GET("/clients", { params: { header: { "X-Client-Id": id } } });
check(gone.response.status === 404, "gone");
console.log("generated TypeScript client: the seed flow answered as documented");
