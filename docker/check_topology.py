#!/usr/bin/env python3
"""Static checks of docker/ that need no Docker engine (run by docker/check.sh).

Parses docker/compose.yaml, docker/shardgate.yaml, docker/prometheus.yml and the fenced YAML
blocks of docs/deployment.md with PyYAML, and cross-checks them against each other, the
Dockerfile and integration/sandbox.sh. Prints one line per failed check and exits 1 if any
failed.

    python3 docker/check_topology.py [--k8s-manifests OUT]

--k8s-manifests OUT also writes the Kubernetes manifests found in docs/deployment.md (core
kinds only) to OUT, for kubernetes-validate.
"""

import difflib
import re
import sys
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent
REPO = DOCKER.parent

SHARDS = {"s0": ("s0-primary", "s0-replica"), "s1": ("s1-primary", "s1-replica")}
MARIADB = [name for pair in SHARDS.values() for name in pair]
PROXIES = ["shardgate-1", "shardgate-2"]
EXPECTED_SERVICES = set(MARIADB) | set(PROXIES) | {"prometheus"}
MARIADB_SERIES = "mariadb:10.11"
CONFIG_DIR = "/etc/shardgate"
MYSQL_PORT = 6033
METRICS_PORT = 9104  # assumed `metrics: { listen: "0.0.0.0:9104" }`
BACKEND_PORT = 3306

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        failures.append(f"{path.relative_to(REPO)}: {e}")
        return None


def host_port(address):
    host, _, port = str(address).rpartition(":")
    return host, int(port) if port.isdigit() else None


def command_flags(service):
    """--name=value flags of a service's command, as a dict."""
    command = service.get("command") or []
    if isinstance(command, str):
        command = command.split()
    flags = {}
    for arg in command:
        name, _, value = str(arg).partition("=")
        flags[name] = value
    return flags


def bind_mounts(service):
    """(source, target, read_only) of each bind mount, short or long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/")):
                mounts.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
        elif isinstance(volume, dict) and volume.get("type") == "bind":
            mounts.append((volume.get("source"), volume.get("target"), bool(volume.get("read_only"))))
    return mounts


def depends_on(service):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def container_ports(service):
    """Container ports published by a service."""
    ports = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(str(port).split(":")[-1].split("/")[0]))
    return ports


def check_compose(compose, config):
    services = compose.get("services") or {}
    check(set(services) == EXPECTED_SERVICES,
          f"compose.yaml services are {sorted(services)}, expected {sorted(EXPECTED_SERVICES)}")

    server_ids = {}
    for shard, (primary, replica) in SHARDS.items():
        domains = set()
        for name in (primary, replica):
            service = services.get(name)
            if not check(isinstance(service, dict), f"compose.yaml: no service {name}"):
                continue
            check(str(service.get("image", "")).startswith(MARIADB_SERIES),
                  f"{name}: image {service.get('image')!r} is not {MARIADB_SERIES}.x (the sandbox's series)")
            flags = command_flags(service)
            server_id = flags.get("--server-id")
            if check(server_id is not None, f"{name}: no --server-id in command"):
                check(server_id not in server_ids,
                      f"{name}: --server-id={server_id} also used by {server_ids.get(server_id)}")
                server_ids[server_id] = name
            domains.add(flags.get("--gtid-domain-id"))
            health = (service.get("healthcheck") or {}).get("test") or []
            check("healthcheck.sh" in health, f"{name}: healthcheck does not use the image's healthcheck.sh")
            mounts = {target: (source, ro) for source, target, ro in bind_mounts(service)}
            init = mounts.get("/docker-entrypoint-initdb.d")
            want_init = "./init/replica" if name == replica else "./init/primary"
            check(init is not None and init[0].rstrip("/") == want_init and init[1],
                  f"{name}: expected {want_init} mounted read-only at /docker-entrypoint-initdb.d, got {init}")
            cnf = [t for t in mounts if t.startswith("/etc/mysql/conf.d/")]
            check(cnf, f"{name}: docker/mariadb/shardgate.cnf is not mounted into /etc/mysql/conf.d/")
            for source, _, _ in bind_mounts(service):
                check((DOCKER / source).exists(), f"{name}: bind-mount source {source} does not exist in docker/")
            environment = service.get("environment") or {}
            check("MARIADB_ROOT_PASSWORD" in environment, f"{name}: no MARIADB_ROOT_PASSWORD")
            if name == replica:
                check(flags.get("--read-only") == "1", f"{name}: replica without --read-only=1")
                check(environment.get("SHARDGATE_PRIMARY_HOST") == primary,
                      f"{name}: SHARDGATE_PRIMARY_HOST is {environment.get('SHARDGATE_PRIMARY_HOST')!r}, expected {primary!r}")
                check(depends_on(service).get(primary) == "service_healthy",
                      f"{name}: does not wait for {primary} to be healthy")
                check("REPLICA MONITOR" in str(environment.get("MARIADB_HEALTHCHECK_GRANTS", "")),
                      f"{name}: the replication healthcheck needs MARIADB_HEALTHCHECK_GRANTS: REPLICA MONITOR")
            else:
                check("--read-only" not in flags, f"{name}: a primary must not be read-only")
        check(len(domains) == 1 and None not in domains,
              f"shard {shard}: primary and replica need the same --gtid-domain-id, got {domains}")

    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", dockerfile, re.M)
    config_path = None
    if check(entrypoint, "Dockerfile: no exec-form ENTRYPOINT"):
        args = yaml.safe_load(entrypoint.group(1))
        if check("--config" in args, "Dockerfile: ENTRYPOINT has no --config"):
            config_path = args[args.index("--config") + 1]
    check(config_path == f"{CONFIG_DIR}/shardgate.yaml",
          f"Dockerfile: ENTRYPOINT reads {config_path}, expected {CONFIG_DIR}/shardgate.yaml")
    exposed = {int(p.split("/")[0]) for line in re.findall(r"^EXPOSE\s+(.*)$", dockerfile, re.M) for p in line.split()}
    check({MYSQL_PORT, METRICS_PORT} <= exposed, f"Dockerfile: EXPOSE {sorted(exposed)}, expected {MYSQL_PORT} and {METRICS_PORT}")

    for name in PROXIES:
        service = services.get(name)
        if not check(isinstance(service, dict), f"compose.yaml: no service {name}"):
            continue
        build = service.get("build") or {}
        check(isinstance(build, dict) and build.get("dockerfile") == "docker/Dockerfile"
              and (DOCKER / build.get("context", ".")).resolve() == REPO,
              f"{name}: build must be context .. (the repository) with dockerfile docker/Dockerfile, got {build}")
        mounts = {target: (source, ro) for source, target, ro in bind_mounts(service)}
        mount = mounts.get(CONFIG_DIR)
        check(mount is not None and (DOCKER / mount[0]).resolve() == DOCKER and mount[1],
              f"{name}: docker/ must be bind-mounted read-only as a directory at {CONFIG_DIR}, got {mount}")
        deps = depends_on(service)
        for backend in MARIADB:
            check(deps.get(backend) == "service_healthy", f"{name}: does not wait for {backend} to be healthy")
        check({MYSQL_PORT, METRICS_PORT} <= container_ports(service),
              f"{name}: publishes container ports {sorted(container_ports(service))}, expected {MYSQL_PORT} and {METRICS_PORT}")

    # The proxy config: its addresses must be the compose services and ports.
    if config is None:
        return
    listen_host, listen_port = host_port(config.get("listen", ""))
    check(listen_host == "0.0.0.0" and listen_port == MYSQL_PORT,
          f"shardgate.yaml: listen is {config.get('listen')!r}, expected 0.0.0.0:{MYSQL_PORT}")
    for shard in config.get("shards") or []:
        servers = [("primary", shard.get("primary") or {})]
        servers += [(f"replica {i}", r) for i, r in enumerate(shard.get("replicas") or [])]
        for role, server in servers:
            host, port = host_port(server.get("address", ""))
            check(host in MARIADB and port == BACKEND_PORT,
                  f"shardgate.yaml: shard {shard.get('name')} {role} address {server.get('address')!r} "
                  f"is not a compose MariaDB service on port {BACKEND_PORT}")
    metrics = config.get("metrics")
    if metrics is not None:
        host, port = host_port((metrics or {}).get("listen", ""))
        check(host == "0.0.0.0" and port == METRICS_PORT,
              f"shardgate.yaml: metrics.listen is {metrics.get('listen')!r}, expected 0.0.0.0:{METRICS_PORT} "
              "(docker/prometheus.yml, compose.yaml and the Dockerfile use that port)")


def check_prometheus(prometheus, compose):
    jobs = (prometheus or {}).get("scrape_configs") or []
    targets = set()
    for job in jobs:
        check(job.get("metrics_path", "/metrics") == "/metrics",
              f"prometheus.yml: job {job.get('job_name')} scrapes {job.get('metrics_path')}, expected /metrics")
        for static in job.get("static_configs") or []:
            targets.update(static.get("targets") or [])
    expected = {f"{name}:{METRICS_PORT}" for name in PROXIES}
    check(targets == expected, f"prometheus.yml: targets {sorted(targets)}, expected {sorted(expected)}")
    service = ((compose or {}).get("services") or {}).get("prometheus") or {}
    mounts = {target: source for source, target, _ in bind_mounts(service)}
    check(mounts.get("/etc/prometheus/prometheus.yml") == "./prometheus.yml",
          "compose.yaml: prometheus does not mount ./prometheus.yml at /etc/prometheus/prometheus.yml")


def sql_statements(text):
    """Statements of an SQL text: comments dropped, whitespace collapsed."""
    text = re.sub(r"--[^\n]*", "", text)
    return [" ".join(s.split()) for s in text.split(";") if s.strip()]


def check_init_sql():
    """docker/init/primary/*.sql must create what integration/sandbox.sh provision_primary does."""
    sandbox = (REPO / "integration" / "sandbox.sh").read_text(encoding="utf-8")
    body = re.search(r"^provision_primary\(\) \{\n(.*?)^\}", sandbox, re.M | re.S)
    sql = body and re.search(r'sql "\$name" "(.*?)"', body.group(1), re.S)
    if not check(sql, "integration/sandbox.sh: cannot find the SQL of provision_primary() to compare with"):
        return
    want = sql_statements(sql.group(1))
    have = []
    for path in sorted((DOCKER / "init" / "primary").glob("*.sql")):
        have += sql_statements(path.read_text(encoding="utf-8"))
    diff = difflib.unified_diff(want, have, "integration/sandbox.sh provision_primary()",
                                "docker/init/primary/*.sql", lineterm="")
    check(have == want, "the primaries' init SQL differs from the sandbox's:\n" + "\n".join(diff))


CORE_KINDS = {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "Secret"}


def check_docs(k8s_out):
    """Every ```yaml block of docs/deployment.md parses; the core manifests go to k8s_out."""
    path = REPO / "docs" / "deployment.md"
    if not check(path.exists(), "docs/deployment.md is missing"):
        return
    text = path.read_text(encoding="utf-8")
    manifests = []
    for i, block in enumerate(re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S), 1):
        try:
            documents = [d for d in yaml.safe_load_all(block) if d is not None]
        except yaml.YAMLError as e:
            failures.append(f"docs/deployment.md: YAML block {i}: {e}")
            continue
        for document in documents:
            if isinstance(document, dict) and document.get("kind") in CORE_KINDS:
                manifests.append(document)
                if document["kind"] == "ConfigMap":
                    for key, value in (document.get("data") or {}).items():
                        try:
                            yaml.safe_load(value)
                        except yaml.YAMLError as e:
                            failures.append(f"docs/deployment.md: ConfigMap key {key}: {e}")
    check(manifests, "docs/deployment.md: no Kubernetes manifests found")
    if k8s_out:
        with open(k8s_out, "w", encoding="utf-8") as f:
            yaml.safe_dump_all(manifests, f, sort_keys=False)


def main():
    k8s_out = None
    if len(sys.argv) == 3 and sys.argv[1] == "--k8s-manifests":
        k8s_out = sys.argv[2]
    elif len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    compose = load(DOCKER / "compose.yaml")
    config = load(DOCKER / "shardgate.yaml")
    prometheus = load(DOCKER / "prometheus.yml")
    if compose is not None:
        check_compose(compose, config)
    check_prometheus(prometheus, compose)
    check_init_sql()
    check_docs(k8s_out)
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("compose.yaml, shardgate.yaml, prometheus.yml, init SQL and the manifests in docs/deployment.md agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
