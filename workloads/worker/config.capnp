# workerd config: runs src/worker.js with its SQLite-backed Durable Object classes.
#
#   npx workerd serve config.capnp \
#       --socket-addr http=127.0.0.1:PORT \
#       --directory-path do-storage=/some/existing/dir
#
# Object data lives in the `do-storage` directory (one subdirectory per class,
# one .sqlite file per object). The directory must exist; override its path
# with --directory-path. Port 0 plus `--control-fd 3 3>FILE` makes workerd
# write the bound port to FILE as {"event":"listen","socket":"http","port":N}.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .dobenchWorker),
    (name = "do-storage", disk = (path = ".do-storage", writable = true)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "main"),
  ],
);

const dobenchWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "src/worker.js"),
  ],
  compatibilityDate = "2025-09-01",
  durableObjectNamespaces = [
    (className = "Counter", uniqueKey = "dobench-Counter", enableSql = true),
    (className = "RateLimiter", uniqueKey = "dobench-RateLimiter", enableSql = true),
    (className = "ChatRoom", uniqueKey = "dobench-ChatRoom", enableSql = true),
    (className = "Alarm", uniqueKey = "dobench-Alarm", enableSql = true),
    (className = "Aggregator", uniqueKey = "dobench-Aggregator", enableSql = true),
    (className = "Lock", uniqueKey = "dobench-Lock", enableSql = true),
    (className = "LostUpdate", uniqueKey = "dobench-LostUpdate", enableSql = true),
    (className = "Probe", uniqueKey = "dobench-Probe", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-storage"),
  bindings = [
    (name = "COUNTER", durableObjectNamespace = "Counter"),
    (name = "RATE_LIMITER", durableObjectNamespace = "RateLimiter"),
    (name = "CHAT_ROOM", durableObjectNamespace = "ChatRoom"),
    (name = "ALARM", durableObjectNamespace = "Alarm"),
    (name = "AGGREGATOR", durableObjectNamespace = "Aggregator"),
    (name = "LOCK", durableObjectNamespace = "Lock"),
    (name = "LOST_UPDATE", durableObjectNamespace = "LostUpdate"),
    (name = "PROBE", durableObjectNamespace = "Probe"),
    (name = "CHAT_HISTORY", text = "100000"),
  ],
);
