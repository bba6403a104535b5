// Serves lineaged's Neo4j Browser guide and style from the Neo4j web server itself.
//
// Why a JAX-RS "unmanaged extension": the Browser loads `:play URL` guides and
// `:style URL` files with a fetch from the page, so the files must come from an
// allow-listed host and, to avoid CORS, from the Browser's own origin. Neo4j's web
// server serves static files only from the Browser jar; an unmanaged extension is its
// supported way to add endpoints. Launcher mounts this package at /lineaged and
// points ASSETS_DIR at scripts/neo4j/browser/ (so editing the guide needs no rebuild).
//
// Only the files listed in TYPES are served: no directory listing, no path traversal.

package lineaged.neo4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.ws.rs.GET;
import javax.ws.rs.PathParam;
import javax.ws.rs.core.Response;

@javax.ws.rs.Path("/")
public class BrowserAssets {
    /** Directory holding the files below; set by Launcher before the DBMS starts. */
    public static volatile Path assetsDir;

    private static final Map<String, String> TYPES = Map.of(
            "guide.html", "text/html; charset=utf-8",
            "lineaged.grass", "text/plain; charset=utf-8");

    @GET
    @javax.ws.rs.Path("{name}")
    public Response get(@PathParam("name") String name) {
        String type = TYPES.get(name);
        Path dir = assetsDir;
        if (type == null || dir == null) {
            return Response.status(Response.Status.NOT_FOUND).build();
        }
        try {
            byte[] body = Files.readAllBytes(dir.resolve(name));
            return Response.ok(body, type).header("Cache-Control", "no-cache").build();
        } catch (IOException e) {
            return Response.status(Response.Status.NOT_FOUND).build();
        }
    }
}
