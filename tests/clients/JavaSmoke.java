// The seed flow of the original README through a Java client generated from
// openapi/patriot-api.yaml by openapi-generator (java, native library), against a running
// server; includes the largest client id, 4294967295, which an `int` cannot hold.
// Usage: java JavaSmoke BASE_URL KEY
import no.patriot.client.ApiClient;
import no.patriot.client.ApiException;
import no.patriot.client.api.ClientsApi;
import no.patriot.client.api.HealthApi;
import no.patriot.client.api.UsersApi;
import no.patriot.client.api.ZonesApi;
import no.patriot.client.model.*;

public class JavaSmoke {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    interface Call { void run() throws ApiException; }

    static int statusOf(Call call) {
        try {
            call.run();
            return 0;
        } catch (ApiException e) {
            return e.getCode();
        }
    }

    public static void main(String[] args) throws Exception {
        String base = args[0], key = args[1];
        ApiClient client = new ApiClient();
        client.updateBaseUri(base);
        client.setRequestInterceptor(b -> b.header("Authorization", "Bearer " + key));
        ClientsApi clients = new ClientsApi(client);
        ZonesApi zones = new ZonesApi(client);
        UsersApi users = new UsersApi(client);

        check(new HealthApi(client).healthz().getStatus() == HealthStatus.OK, "healthz");

        long id = 9998L;
        InfoPut info = new InfoPut().name("Ola Nordmann").alias("").location("Produksjonsveien 13")
            .areaCode("1604").area("Fredrikstad").busPhone("69310000").email("post@ostsik.no")
            .okPassword("franzjager").specRequest("Dette skal gjøres ved alarm på denne kunden.")
            .noSigsMon(1).sinceDays(1).sinceHrs(0).sinceMins(30).resetNosigsIgnored(true)
            .resetNosigsDays(7).resetNosigsHrs(0).resetNosigsMins(0).installDateTime("2023-02-20")
            .panelName("Ajax").panelSite("Stue").keypadLocation("Inngang")
            .spPage("Ekstra informasjon som kan være relevant.");
        ClientOut created = clients.putClient(new PutClientBody().clientId(id).info(info));
        check(created.getClientId() == id && created.getInfo().getName().equals("Ola Nordmann"), "put");
        ClientOut patched = clients.patchClient(new PatchClientBody().clientId(id)
            .info(new InfoPatch().location("Ny gate 99")));
        check(patched.getInfo().getLocation().equals("Ny gate 99")
            && patched.getInfo().getArea().equals("Fredrikstad"), "patch keeps the rest");

        zones.putZone(new ZoneBody().clientId(id).zoneId(1).zoneArea("Inngang").moduleNo(0));
        zones.putZone(new ZoneBody().clientId(id).zoneId(2).zoneArea("Stue"));
        check(zones.getZones(id).getZones().size() == 2, "zones");
        check(zones.listZones(new ClientRefBody().clientId(id)).getZones().get(1).getZoneArea().equals("Stue"), "list zones");

        users.createUser(new UserBody().clientId(id).user(new UserIn().userNo(1).userName("User Number 1")
            .mobileNo("+4712345678").mobileNoOrder(1).email("user@email.com").type("U")
            .instructions("Optional").callOrder(0)));
        check(users.getUser(id, 1).getUser().getUserName().equals("User Number 1"), "get user");
        users.replaceUser(new UserBody().clientId(id).user(new UserIn().userNo(1).userName("Changed Name")
            .mobileNo("+4798765432").email("new@email.com")));
        check(users.readUser(new UserRefBody().clientId(id).userNo(1)).getUser().getUserName().equals("Changed Name"), "replace");
        check(users.getUsers(id).getUsers().size() == 1, "installer 199 is not listed");
        check(users.listUsers(new ClientRefBody().clientId(id)).getUsers().size() == 1, "list users");
        check(statusOf(() -> users.createUser(new UserBody().clientId(id).user(new UserIn().userNo(1).userName("Dup")))) == 409, "409");
        check(statusOf(() -> users.getUser(id, 199)) == 404, "199 answers 404");
        check(statusOf(() -> clients.getClient(id + 1)) == 404, "404");

        ImportsPage imports = clients.listImports("not_sent", 1000, null);
        check(imports.getClients().stream().anyMatch(c -> c.getClientId() == id && c.getStatus() == ImportState.NOT_SENT), "imports");
        check(imports.getNextAfter() == null, "one page");

        // The largest id round-trips: an answer with it deserializes.
        long top = 4294967295L;
        check(clients.putClient(new PutClientBody().clientId(top).info(new InfoPut().name("Siste"))).getClientId() == top, "top id put");
        check(clients.getClient(top).getClientId() == top, "top id get");
        clients.deleteClient(new ClientRefBody().clientId(top));

        users.deleteUser(new UserRefBody().clientId(id).userNo(1));
        zones.deleteZone(new ZoneRefBody().clientId(id).zoneId(1));
        clients.deleteClient(new ClientRefBody().clientId(id));
        check(statusOf(() -> clients.getClient(id)) == 404, "deleted");
        System.out.println("generated Java client: the seed flow answered as documented");
    }
}
