# workerd config of the likes-worker example (objects kept in memory: every start is fresh).
#
#   workerd serve config.capnp --socket-addr http=127.0.0.1:PORT
#
# dobench starts it for a run with
#   dobench run examples/likes-worker/profiles/likes.toml \
#     --target-cmd "workloads/worker/node_modules/.bin/workerd serve examples/likes-worker/config.capnp --socket-addr http=127.0.0.1:{port}" \
#     --health-path /healthz
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .likesWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8788", http = (), service = "main") ],
);

const likesWorker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2025-09-01",
  durableObjectNamespaces = [
    (className = "TenantLikes", uniqueKey = "likes-worker-TenantLikes", enableSql = false),
    (className = "PresenceRoom", uniqueKey = "likes-worker-PresenceRoom", enableSql = false),
  ],
  durableObjectStorage = (inMemory = void),
  bindings = [
    (name = "TENANT_LIKES", durableObjectNamespace = "TenantLikes"),
    (name = "PRESENCE", durableObjectNamespace = "PresenceRoom"),
  ],
);
