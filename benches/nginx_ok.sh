# Sourced by the bench scripts: `start_nginx_ok DIR CPU` starts Debian's nginx-light (one
# worker process, no master, pinned to CPU) answering every request with 200 "ok" on a free
# loopback port, sets NGINX_PID and NGINX_URL, and waits until it answers. The caller
# kills $NGINX_PID when done. Installs nginx-light when missing.
start_nginx_ok() {
  local dir=$1 cpu=$2 port
  command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light; }
  # A free loopback port: ask the kernel for one, then hand it to nginx.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "ok"; }
  }
}
CONF
  taskset -c "$cpu" nginx -p "$dir" -c "$dir/nginx.conf" &
  NGINX_PID=$!
  NGINX_URL="http://127.0.0.1:$port/"
  local _i
  for _i in $(seq 50); do curl -sf "$NGINX_URL" >/dev/null && return 0; sleep 0.1; done
  echo "nginx did not answer at $NGINX_URL (see $dir/error.log)" >&2
  return 1
}
