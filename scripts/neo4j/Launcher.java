// Minimal Neo4j Community launcher for lineaged dev and integration tests.
//
// Why this exists: the standalone Neo4j tarball is not published on Maven Central and
// neo4j.com / Docker are not reachable from our machines, but the org.neo4j:neo4j
// artifacts are. This class boots the same DBMS through the embedded
// DatabaseManagementServiceBuilder and exposes it over Bolt on loopback only, so
// clients (the Python driver) see an ordinary Neo4j server.
//
// It is driven by scripts/neo4j_local.py, which owns ports, passwords and process
// lifecycle. Usage (heap is a JVM flag, e.g. -Xmx512m):
//
//   java -Xmx512m -cp classes:lib/* Launcher --home DIR --port N \
//        --password-file FILE [--pagecache 96m] [--owner-pid PID] \
//        [--http-port N --browser-assets DIR]
//
// --http-port also starts Neo4j's web server on 127.0.0.1: the HTTP API
// (/db/neo4j/tx), Neo4j Browser (/browser/, from the org.neo4j.client:neo4j-browser jar)
// and lineaged's guide and style (/lineaged/..., see BrowserAssets.java), which the
// Browser loads by itself after connecting. Off by default: tests do not need it.
//
// Output contract (stdout, which the Python side redirects to a log file):
//   "LINEAGED-NEO4J READY pid=<pid> uri=bolt://127.0.0.1:<port>[ http=http://127.0.0.1:<port>]"
//                                                                 once Bolt accepts logins
//   "LINEAGED-NEO4J FAILED: <reason>"                             then exit code 1
//   "LINEAGED-NEO4J STOPPED"                                      after a clean shutdown
// The password is read from a file (never argv) so it does not show up in `ps`.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import lineaged.neo4j.BrowserAssets;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.SettingValueParsers;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.config.Setting;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;
import org.neo4j.server.configuration.ConfigurableServerModules;
import org.neo4j.server.configuration.ServerSettings;
import org.neo4j.server.configuration.ThirdPartyJaxRsPackage;

public final class Launcher {
    private static final String TAG = "LINEAGED-NEO4J";
    private static final String HOST = "127.0.0.1";

    private Launcher() {}

    public static void main(String[] args) {
        Map<String, String> opts;
        try {
            opts = parseArgs(args);
        } catch (IllegalArgumentException e) {
            fail("bad arguments: " + e.getMessage());
            return;
        }
        Path home = Path.of(require(opts, "home")).toAbsolutePath();
        int port = Integer.parseInt(require(opts, "port"));
        Path passwordFile = Path.of(require(opts, "password-file"));
        long pageCache = SettingValueParsers.BYTES.parse(opts.getOrDefault("pagecache", "96m"));

        String password;
        try {
            password = Files.readString(passwordFile, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            fail("cannot read password file " + passwordFile + ": " + e);
            return;
        }
        if (password.length() < 8) {
            // Neo4j's default dbms.security.auth_minimum_password_length is 8.
            fail("password in " + passwordFile + " is shorter than 8 characters");
            return;
        }

        Map<Setting<?>, Object> config = new HashMap<>();
        // Loopback only, and make it the default for every connector we did not list,
        // so nothing we forgot about binds on 0.0.0.0.
        config.put(GraphDatabaseSettings.default_listen_address, new SocketAddress(HOST));
        config.put(BoltConnector.enabled, true);
        config.put(BoltConnector.listen_address, new SocketAddress(HOST, port));
        config.put(BoltConnector.advertised_address, new SocketAddress(HOST, port));
        // HTTPS never; HTTP (API + Browser) only when asked for.
        config.put(HttpsConnector.enabled, false);
        String httpPort = opts.get("http-port");
        if (httpPort == null) {
            config.put(HttpConnector.enabled, false);
        } else {
            String assets = opts.get("browser-assets");
            if (assets == null) {
                fail("--http-port needs --browser-assets");
                return;
            }
            configureHttp(config, Integer.parseInt(httpPort), Path.of(assets).toAbsolutePath());
        }
        // Server-side routing would open a second port (7688 by default), which would
        // clash between two instances running side by side. A single server needs none.
        config.put(GraphDatabaseSettings.routing_enabled, false);
        config.put(GraphDatabaseSettings.auth_enabled, true);
        // No telemetry: usage reports (UDC, dbms.usage_report.*) and driver telemetry.
        config.put(GraphDatabaseSettings.udc_enabled, false);
        config.put(GraphDatabaseInternalSettings.udc_network_enabled, false);
        config.put(BoltConnector.server_bolt_telemetry_enabled, false);
        // Small footprint: dev/test graphs are tiny.
        config.put(GraphDatabaseSettings.pagecache_memory, pageCache);
        // Do not preallocate 256 MB transaction log files per database (disk, not RSS,
        // but it adds up with many throw-away test instances).
        config.put(GraphDatabaseSettings.preallocate_logical_logs, false);
        config.put(GraphDatabaseSettings.logs_directory, home.resolve("logs"));
        // Netty's graceful shutdown waits a 5 s quiet period, twice, before Bolt is down;
        // with that, every stop took ~12 s. Nothing is in flight on a server being
        // stopped by its owner, so skip the quiet period (tests bounce Neo4j often).
        config.put(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0);
        config.put(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5));

        long t0 = System.nanoTime();
        log("starting Neo4j home=" + home + " bolt=" + HOST + ":" + port + " pagecache=" + pageCache);
        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    // The user log (neo4j.log equivalent) goes to stdout, i.e. the
                    // instance's launcher log; debug.log lands in <home>/logs.
                    .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
                    .setConfig(config)
                    .build();
        } catch (RuntimeException e) {
            e.printStackTrace();
            fail("Neo4j did not start: " + rootMessage(e));
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM/SIGINT run shutdown hooks: shut the DBMS down cleanly (checkpoint,
        // release the store lock) so the next start of this instance needs no recovery.
        Runtime.getRuntime()
                .addShutdownHook(new Thread(() -> {
                    log("shutdown requested");
                    try {
                        dbms.shutdown();
                        System.out.println(TAG + " STOPPED");
                    } catch (RuntimeException e) {
                        e.printStackTrace();
                    } finally {
                        System.out.flush();
                        stopped.countDown();
                    }
                }, "lineaged-neo4j-shutdown"));

        // Optional owner: tests pass their own pid so a test run that is killed hard
        // (SIGKILL, CI timeout) cannot leave an orphaned server behind.
        String owner = opts.get("owner-pid");
        if (owner != null) {
            watchOwner(Long.parseLong(owner));
        }

        try {
            setPassword(dbms, password);
        } catch (RuntimeException e) {
            e.printStackTrace();
            // Shut down cleanly first: fail() halts and would skip the shutdown hook.
            try {
                dbms.shutdown();
            } catch (RuntimeException ignored) {
                // already failing; the reason below is what matters
            }
            fail("could not set the neo4j user's password: " + rootMessage(e));
            return;
        }

        long ms = (System.nanoTime() - t0) / 1_000_000;
        String http = httpPort == null ? "" : " http=http://" + HOST + ":" + httpPort;
        System.out.println(TAG + " READY pid=" + ProcessHandle.current().pid() + " uri=bolt://"
                + HOST + ":" + port + http + " startup_ms=" + ms);
        System.out.flush();

        // Park the main thread; the JVM lives until a signal runs the shutdown hook.
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // The web server the neo4j-server jar adds to the embedded DBMS when the HTTP
    // connector is enabled: the transactional HTTP API, Neo4j Browser and, as an
    // unmanaged extension, lineaged's Browser guide and style under /lineaged.
    private static void configureHttp(Map<Setting<?>, Object> config, int httpPort, Path assets) {
        String base = "http://" + HOST + ":" + httpPort;
        config.put(HttpConnector.enabled, true);
        config.put(HttpConnector.listen_address, new SocketAddress(HOST, httpPort));
        config.put(HttpConnector.advertised_address, new SocketAddress(HOST, httpPort));
        config.put(ServerSettings.http_enabled_modules, EnumSet.of(
                ConfigurableServerModules.TRANSACTIONAL_ENDPOINTS,
                ConfigurableServerModules.UNMANAGED_EXTENSIONS,
                ConfigurableServerModules.BROWSER,
                ConfigurableServerModules.QUERY_API_ENDPOINTS));
        BrowserAssets.assetsDir = assets;
        config.put(ServerSettings.third_party_packages,
                List.of(new ThirdPartyJaxRsPackage("lineaged.neo4j", "/lineaged")));
        // The guide and style are fetched by the Browser page without credentials.
        config.put(ServerSettings.http_auth_allowlist, List.of("/", "/browser.*", "/lineaged/.*"));
        // The Browser only fetches guides/styles from allow-listed hosts, and runs
        // these commands (separated by ';') each time it connects.
        config.put(ServerSettings.browser_remote_content_hostname_whitelist, HOST + ",localhost");
        config.put(ServerSettings.browser_post_connect_cmd,
                "style " + base + "/lineaged/lineaged.grass; play " + base + "/lineaged/guide.html");
        // No usage statistics from the Browser either.
        config.put(ServerSettings.allow_telemetry, false);
    }

    // The embedded API runs with full privileges and bypasses Bolt auth, so it can set
    // the initial password on the system database. Run on every start (not only the
    // first) so the data always matches the password file the Python side hands out.
    private static void setPassword(DatabaseManagementService dbms, String password) {
        try {
            dbms.database("system")
                    .executeTransactionally(
                            "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            log("password for user neo4j set");
        } catch (RuntimeException e) {
            // Neo4j refuses to "change" a password to the value it already has; on a
            // restart of an existing instance that is the expected, good state.
            String msg = rootMessage(e);
            if (msg != null && msg.toLowerCase().contains("cannot be the same")) {
                // Still clear a pending "change required" flag in case it was set.
                dbms.database("system")
                        .executeTransactionally("ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
                log("password for user neo4j already up to date");
                return;
            }
            throw e;
        }
    }

    private static void watchOwner(long ownerPid) {
        Thread watcher = new Thread(() -> {
            while (true) {
                Optional<ProcessHandle> h = ProcessHandle.of(ownerPid);
                if (h.isEmpty() || !h.get().isAlive()) {
                    log("owner pid " + ownerPid + " is gone; shutting down");
                    // exit (not halt) so the shutdown hook stops the DBMS cleanly.
                    System.exit(0);
                }
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "lineaged-neo4j-owner-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --key value pairs, got " + a);
            }
            out.put(a.substring(2), args[++i]);
        }
        return out;
    }

    private static String require(Map<String, String> opts, String key) {
        String v = opts.get(key);
        if (v == null) {
            fail("missing --" + key);
        }
        return v;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        StringBuilder sb = new StringBuilder();
        while (t != null) {
            if (t.getMessage() != null) {
                if (sb.length() > 0) {
                    sb.append(" <- ");
                }
                sb.append(t.getMessage());
            }
            t = t.getCause();
        }
        return sb.toString();
    }

    private static void log(String msg) {
        System.out.println(TAG + " " + msg);
        System.out.flush();
    }

    private static void fail(String reason) {
        System.out.println(TAG + " FAILED: " + reason.replace('\n', ' '));
        System.out.flush();
        // halt, not exit: a half-started DBMS must not block in shutdown hooks.
        Runtime.getRuntime().halt(1);
    }
}
