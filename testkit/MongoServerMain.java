// Launcher for de.bwaldvogel:mongo-java-server, used by testkit/servers.ts.
// Run with Java's single-file source launcher (Java 17+), the jars fetched by testkit/fetch.ts on the class path:
//
//   java -cp ".cache/infra/mongo/libs/*" testkit/MongoServerMain.java --port 27123 --backend memory
//   java -cp ".cache/infra/mongo/libs/*" testkit/MongoServerMain.java --port 27123 --backend h2 --file /tmp/x.mv
//
// Options:
//   --port N            port to listen on (0 = any free port; the chosen one is printed)
//   --host H            address to bind (default 127.0.0.1)
//   --backend B         memory (default) | h2 (H2 MVStore file: survives restarts; needs --file)
//   --file PATH         the MVStore file for --backend h2
//   --oplog             enable the oplog (needed for change streams)
//   --parent-pid P      shut down when process P exits (so no orphan JVM outlives the test runner)
//
// Prints exactly one line "READY <port>" on stdout once the server accepts connections; logs go to stderr.
// SIGTERM / SIGINT: closes the listener and the backend (the H2 file is committed and closed), prints
// "STOPPED", exits 0. With the h2 backend every command that changed data is committed to the file before
// its reply is sent, so acknowledged writes survive a SIGKILL (the OS keeps written pages; no fsync).

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoMessage;
import de.bwaldvogel.mongo.wire.message.MongoQuery;
import io.netty.channel.Channel;

import java.io.File;
import java.util.concurrent.atomic.AtomicBoolean;

public class MongoServerMain {

    /** Exit status used once the shutdown hook has stopped the server (0 for SIGTERM/SIGINT). */
    private static volatile int exitStatus = 0;

    /** H2 backend that commits the MVStore after every request that left unsaved changes. */
    static final class CommittingH2Backend extends H2Backend {
        CommittingH2Backend(String fileName) {
            super(fileName);
        }

        private void commitIfDirty() {
            if (getMvStore().hasUnsavedChanges()) {
                commit();
            }
        }

        @Override
        public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
            try {
                return super.handleCommand(channel, databaseName, command, query);
            } finally {
                commitIfDirty();
            }
        }

        @Override
        public Document handleMessage(MongoMessage message) {
            try {
                return super.handleMessage(message);
            } finally {
                commitIfDirty();
            }
        }

        @Override
        public QueryResult handleQuery(MongoQuery query) {
            try {
                return super.handleQuery(query);
            } finally {
                commitIfDirty();
            }
        }
    }

    private static void usage(String problem) {
        System.err.println("MongoServerMain: " + problem);
        System.err.println("usage: MongoServerMain --port N [--host H] [--backend memory|h2] [--file PATH] [--oplog] [--parent-pid P]");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        int port = -1;
        String host = "127.0.0.1";
        String backendName = "memory";
        String file = null;
        boolean oplog = false;
        long parentPid = -1;

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--port" -> port = Integer.parseInt(value(args, ++i, a));
                case "--host" -> host = value(args, ++i, a);
                case "--backend" -> backendName = value(args, ++i, a);
                case "--file" -> file = value(args, ++i, a);
                case "--oplog" -> oplog = true;
                case "--parent-pid" -> parentPid = Long.parseLong(value(args, ++i, a));
                default -> usage("unknown argument " + a);
            }
        }
        if (port < 0 || port > 65535) {
            usage("--port is required (0..65535)");
        }

        final MongoBackend backend;
        switch (backendName) {
            case "memory" -> backend = new MemoryBackend();
            case "h2" -> {
                if (file == null) {
                    usage("--backend h2 needs --file PATH");
                }
                File parent = new File(file).getAbsoluteFile().getParentFile();
                if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
                    usage("cannot create directory " + parent);
                }
                backend = new CommittingH2Backend(file);
            }
            default -> {
                usage("unknown backend " + backendName);
                return;
            }
        }

        final MongoServer server = new MongoServer(backend);
        if (oplog) {
            server.enableOplog();
        }

        final AtomicBoolean stopped = new AtomicBoolean(false);
        final Runnable stop = () -> {
            if (stopped.compareAndSet(false, true)) {
                try {
                    // shutdownNow closes the client channels and the backend (H2: commit + close of the file)
                    server.shutdownNow();
                } catch (RuntimeException e) {
                    System.err.println("MongoServerMain: error during shutdown: " + e);
                }
                System.out.println("STOPPED");
                System.out.flush();
            }
        };
        // The JVM runs shutdown hooks on SIGTERM, SIGINT and SIGHUP; halting with 0 afterwards makes the exit clean.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.run();
            Runtime.getRuntime().halt(exitStatus);
        }, "mongo-server-shutdown"));

        if (parentPid > 0) {
            final long watchedPid = parentPid;
            ProcessHandle.of(watchedPid).ifPresentOrElse(
                    parent -> parent.onExit().thenRun(() -> {
                        System.err.println("MongoServerMain: parent process " + watchedPid + " exited, shutting down");
                        System.exit(0);
                    }),
                    () -> {
                        System.err.println("MongoServerMain: parent process " + watchedPid + " is not running");
                        exitStatus = 3;
                        System.exit(3);
                    });
        }

        try {
            server.bind(host, port);
        } catch (RuntimeException e) {
            System.err.println("MongoServerMain: cannot listen on " + host + ":" + port + ": " + e);
            exitStatus = 4;
            System.exit(4);
        }
        int actualPort = server.getLocalAddress().getPort();
        System.err.println("MongoServerMain: " + backend + " listening on " + host + ":" + actualPort
                + (oplog ? " (oplog enabled)" : ""));
        System.out.println("READY " + actualPort);
        System.out.flush();

        // netty's event loop threads keep the JVM alive; main may return.
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            usage(option + " needs a value");
        }
        return args[i];
    }
}
